"""Streaming a byte source into the blob store while hashing, size-capping and checking it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gristmill.services.errors import PayloadTooLarge
from gristmill.store.blobs import BlobStore

ChunkCheck = Callable[[bytes], None]


@dataclass(frozen=True)
class StoredBlob:
    key: str
    bytes: int
    sha256: str
    md5: str


def store_stream(
    blobs: BlobStore,
    key: str,
    chunks: Iterable[bytes],
    *,
    max_bytes: int,
    too_large: str,
    checks: Iterable[ChunkCheck] = (),
    finish: Callable[[], None] | None = None,
) -> StoredBlob:
    """Write `chunks` to `key`. Any exception (size cap, a check) leaves nothing stored."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    checks = list(checks)
    total = 0
    with blobs.writer(key) as out:
        for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(too_large)
            for check in checks:
                check(chunk)
            sha256.update(chunk)
            md5.update(chunk)
            out.write(chunk)
        if finish is not None:
            finish()
    return StoredBlob(key=key, bytes=total, sha256=sha256.hexdigest(), md5=md5.hexdigest())
