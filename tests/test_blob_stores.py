"""Both blob stores: streamed writes published atomically, reads, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gristmill.store.blobs import BlobNotFound, BlobStore
from gristmill.store.blobs.local import LocalBlobStore
from gristmill.store.blobs.s3 import S3BlobStore
from tests.support import S3_ACCESS_KEY, S3_SECRET_KEY, SeaweedS3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
    yield S3BlobStore(
        bucket=seaweed.new_bucket(),
        prefix="p",
        endpoint_url=seaweed.endpoint,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
    )


class Boom(Exception):
    pass


def test_streamed_roundtrip(store: BlobStore) -> None:
    chunk = bytes(range(256)) * 4096  # 1 MiB
    written = store.put("a/b/c.bin", (chunk for _ in range(20)))  # crosses S3 part boundaries
    assert written == 20 * len(chunk)
    assert store.size("a/b/c.bin") == written
    assert store.exists("a/b/c.bin")
    data = b"".join(store.read("a/b/c.bin", chunk_size=333_333))
    assert data == chunk * 20


def test_half_written_blob_is_never_visible(store: BlobStore) -> None:
    with pytest.raises(Boom), store.writer("half.bin") as w:
        w.write(b"x" * (9 * 1024 * 1024))
        assert not store.exists("half.bin")
        raise Boom
    assert not store.exists("half.bin")
    with pytest.raises(BlobNotFound):
        b"".join(store.read("half.bin"))


def test_overwrite_and_delete(store: BlobStore) -> None:
    store.put("k", [b"one"])
    store.put("k", [b"two"])
    assert b"".join(store.read("k")) == b"two"
    store.delete("k")
    store.delete("k")  # deleting twice is fine
    assert not store.exists("k")


def test_local_store_refuses_escaping_keys(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError):
        store.put("../outside", [b"x"])
    assert not (tmp_path / "outside").exists()


def test_put_file(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "export.jsonl"
    body = b'{"messages": []}\n' * 200_000  # past one chunk
    source.write_bytes(body)
    assert store.put_file("exports/one.jsonl", source) == len(body)
    source.unlink()  # the caller's temp file goes; the blob stays whole
    assert b"".join(store.read("exports/one.jsonl")) == body
    assert store.size("exports/one.jsonl") == len(body)
