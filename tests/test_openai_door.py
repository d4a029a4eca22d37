"""The official `openai` SDK against a live server: files and uploads, happy paths."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import openai
import pytest

from tests.support import LiveServer


def chat_jsonl(n: int, seed: str = "") -> bytes:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are a terse assistant."},
                {"role": "user", "content": f"What is {i} + {i}? {seed}"},
                {"role": "assistant", "content": str(2 * i)},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture(scope="module")
def account(server: LiveServer) -> dict[str, str]:
    return server.new_key()


def client_for(server: LiveServer, key: str, prefix: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=server.base_url + prefix, max_retries=0)


@pytest.mark.parametrize("prefix", ["/v1", "/openai/v1"])
def test_file_lifecycle(server: LiveServer, account: dict[str, str], prefix: str) -> None:
    client = client_for(server, account["api_key"], prefix)
    body = chat_jsonl(20)
    created = client.files.create(file=("train.jsonl", body), purpose="fine-tune")
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert created.bytes == len(body)
    assert created.filename == "train.jsonl"
    assert created.purpose == "fine-tune"
    assert created.status == "processed"

    fetched = client.files.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    assert client.files.content(created.id).content == body

    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    with pytest.raises(openai.NotFoundError) as err:
        client.files.retrieve(created.id)
    assert created.id in err.value.message


def test_list_auto_pages_and_filters(server: LiveServer) -> None:
    client = client_for(server, server.new_key()["api_key"])
    made = [
        client.files.create(file=(f"f{i}.jsonl", chat_jsonl(1, str(i))), purpose="fine-tune").id
        for i in range(7)
    ]
    other = client.files.create(file=("notes.txt", b"plain text"), purpose="user_data").id

    first = client.files.list(limit=3, order="asc")
    assert first.has_more is True
    assert len(first.data) == 3
    seen = [f.id for f in client.files.list(limit=3, order="asc")]  # iterating auto-pages
    assert seen == [*made, other]
    newest_first = [f.id for f in client.files.list(limit=2)]
    assert newest_first == list(reversed(seen))
    tuned = [f.id for f in client.files.list(purpose="fine-tune", limit=3)]
    assert sorted(tuned) == sorted(made)
    raw = client.files.with_raw_response.list(limit=3, order="asc").http_response.json()
    assert raw["object"] == "list"
    assert raw["first_id"] == made[0] and raw["last_id"] == made[2]


def test_uploads_in_parts(server: LiveServer, account: dict[str, str]) -> None:
    client = client_for(server, account["api_key"])
    body = chat_jsonl(3000)
    cuts = [0, len(body) // 3, 2 * len(body) // 3, len(body)]
    chunks = [body[a:b] for a, b in itertools.pairwise(cuts)]
    upload = client.uploads.create(
        bytes=len(body), filename="big.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    assert upload.status == "pending"
    assert upload.expires_at - upload.created_at == 3600
    # parts may arrive in any order: send the last first
    part_ids = {i: client.uploads.parts.create(upload.id, data=chunks[i]).id for i in (2, 0, 1)}
    done = client.uploads.complete(
        upload.id,
        part_ids=[part_ids[0], part_ids[1], part_ids[2]],
        md5=hashlib.md5(body).hexdigest(),
    )
    assert done.status == "completed"
    assert done.file is not None
    assert done.file.bytes == len(body)
    assert client.files.content(done.file.id).content == body


def test_parts_in_parallel(server: LiveServer, account: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = client_for(server, account["api_key"])
    pieces = [bytes([65 + i]) * 200_000 for i in range(8)]
    body = b"".join(pieces)
    upload = client.uploads.create(
        bytes=len(body),
        filename="blob.bin",
        mime_type="application/octet-stream",
        purpose="user_data",
    )
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda p: client.uploads.parts.create(upload.id, data=p).id, pieces))
    done = client.uploads.complete(upload.id, part_ids=ids)
    assert done.file is not None
    assert client.files.content(done.file.id).content == body


def test_cancel(server: LiveServer, account: dict[str, str]) -> None:
    client = client_for(server, account["api_key"])
    upload = client.uploads.create(
        bytes=10, filename="x.txt", mime_type="text/plain", purpose="user_data"
    )
    client.uploads.parts.create(upload.id, data=b"0123456789")
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled"
    assert cancelled.file is None


def test_upload_file_chunked(server: LiveServer, account: dict[str, str], tmp_path: Path) -> None:
    client = client_for(server, account["api_key"])
    path = tmp_path / "chunked.jsonl"
    body = chat_jsonl(2000)
    path.write_bytes(body)
    done = client.uploads.upload_file_chunked(
        file=path, mime_type="application/jsonl", purpose="fine-tune", part_size=40_000
    )
    assert done.status == "completed"
    assert done.file is not None
    assert done.file.filename == "chunked.jsonl"
    assert client.files.content(done.file.id).content == body
    in_memory = client.uploads.upload_file_chunked(
        file=b"hello world" * 1000,
        filename="mem.txt",
        bytes=11_000,
        mime_type="text/plain",
        purpose="user_data",
        part_size=3000,
    )
    assert in_memory.file is not None
    assert client.files.content(in_memory.file.id).content == b"hello world" * 1000
