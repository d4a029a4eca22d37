"""Bad input through the OpenAI door: a 4xx in OpenAI's envelope, naming the problem, and
nothing stored for the rejected request."""

from __future__ import annotations

import hashlib

import httpx
import openai
import pytest

from tests.support import LiveServer, stored_blobs
from tests.test_openai_door import chat_jsonl, client_for


@pytest.fixture(scope="module")
def key(server: LiveServer) -> str:
    return server.new_key()["api_key"]


@pytest.fixture
def client(server: LiveServer, key: str) -> openai.OpenAI:
    return client_for(server, key)


def assert_envelope(resp: httpx.Response, status: int, *needles: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    for needle in needles:
        assert needle in err["message"], err["message"]
    return err  # type: ignore[no-any-return]


def nothing_stored(
    server: LiveServer, client: openai.OpenAI, before: set[str], files_before: int
) -> None:
    assert stored_blobs(server) == before
    assert len(list(client.files.list())) == files_before


@pytest.fixture
def baseline(server: LiveServer, client: openai.OpenAI) -> tuple[set[str], int]:
    return stored_blobs(server), len(list(client.files.list()))


def test_wrong_purpose(
    server: LiveServer, client: openai.OpenAI, baseline: tuple[set[str], int]
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("a.jsonl", chat_jsonl(1)), purpose="training")  # type: ignore[arg-type]
    assert "Invalid purpose 'training'" in err.value.message
    assert err.value.body["param"] == "purpose"  # type: ignore[index]
    nothing_stored(server, client, *baseline)


def test_empty_file(
    server: LiveServer, client: openai.OpenAI, baseline: tuple[set[str], int]
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("empty.txt", b""), purpose="user_data")
    assert "empty" in err.value.message
    nothing_stored(server, client, *baseline)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"messages": []}\n{"messages": [}\n', "line 2: it is not valid JSON"),
        (b'{"a": 1}\n[1, 2]\n', "line 2: expected a JSON object, found list"),
        ('{"a": "caf\u00e9"}\n'.encode("latin-1"), "line 1: it is not valid UTF-8"),
        (b"\n\n  \n", "holds no JSON lines"),
        (b"", "The file is empty"),
    ],
)
def test_bad_finetune_jsonl(
    server: LiveServer,
    client: openai.OpenAI,
    baseline: tuple[set[str], int],
    body: bytes,
    needle: str,
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("train.jsonl", body), purpose="fine-tune")
    assert needle in err.value.message
    nothing_stored(server, client, *baseline)


def test_bad_finetune_upload_is_refused_on_complete(
    server: LiveServer, client: openai.OpenAI, baseline: tuple[set[str], int]
) -> None:
    body = chat_jsonl(3) + b"not json\n"
    up = client.uploads.create(
        bytes=len(body), filename="t.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    part = client.uploads.parts.create(up.id, data=body)
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(up.id, part_ids=[part.id])
    assert "line 4" in err.value.message
    assert len(list(client.files.list())) == baseline[1]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../b.jsonl", "bad\x00name.jsonl", ".."])
def test_bad_filenames(
    server: LiveServer, key: str, client: openai.OpenAI, baseline: tuple[set[str], int], name: str
) -> None:
    resp = httpx.post(
        f"{server.base_url}/v1/files",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": (name, b"hello", "text/plain")},
        data={"purpose": "user_data"},
    )
    assert_envelope(resp, 400, "filename")
    nothing_stored(server, client, *baseline)


def test_raw_nul_in_multipart_filename(
    server: LiveServer, key: str, client: openai.OpenAI, baseline: tuple[set[str], int]
) -> None:
    boundary = "gristmillboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="evil\x00.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    resp = httpx.post(
        f"{server.base_url}/v1/files",
        content=body,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert_envelope(resp, 400, "NUL")
    nothing_stored(server, client, *baseline)


def test_upload_with_bad_filename(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.create(bytes=5, filename="../x", mime_type="text/plain", purpose="user_data")
    assert err.value.body["param"] == "filename"  # type: ignore[index]


def _upload(client: openai.OpenAI, body: bytes) -> tuple[str, list[str]]:
    up = client.uploads.create(
        bytes=len(body), filename="u.txt", mime_type="text/plain", purpose="user_data"
    )
    half = len(body) // 2
    ids = [client.uploads.parts.create(up.id, data=p).id for p in (body[:half], body[half:])]
    return up.id, ids


def test_missing_part(client: openai.OpenAI) -> None:
    upload_id, ids = _upload(client, b"0123456789" * 10)
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(upload_id, part_ids=[ids[0]])
    assert "declared 100 bytes" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(upload_id, part_ids=[ids[0], "part_doesnotexist"])
    assert "part_doesnotexist" in err.value.message
    # the upload is still usable after a rejected complete
    assert client.uploads.complete(upload_id, part_ids=ids).status == "completed"


def test_wrong_byte_total(client: openai.OpenAI) -> None:
    up = client.uploads.create(
        bytes=50, filename="u.txt", mime_type="text/plain", purpose="user_data"
    )
    part = client.uploads.parts.create(up.id, data=b"x" * 40)
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(up.id, part_ids=[part.id])
    assert "add up to 40 bytes but the upload declared 50" in err.value.message


def test_wrong_md5(
    server: LiveServer, client: openai.OpenAI, baseline: tuple[set[str], int]
) -> None:
    body = b"abcdefghij" * 100
    upload_id, ids = _upload(client, body)
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(upload_id, part_ids=ids, md5=hashlib.md5(b"other").hexdigest())
    assert "md5 mismatch" in err.value.message
    assert err.value.body["param"] == "md5"  # type: ignore[index]
    assert len(list(client.files.list())) == baseline[1]


def test_part_over_limit(server: LiveServer, client: openai.OpenAI) -> None:
    up = client.uploads.create(
        bytes=80 * 1024 * 1024,
        filename="big.bin",
        mime_type="application/octet-stream",
        purpose="user_data",
    )
    before = stored_blobs(server)
    with pytest.raises(openai.APIStatusError) as err:
        client.uploads.parts.create(up.id, data=b"\0" * (65 * 1024 * 1024))
    assert err.value.status_code == 413
    assert "limit of 67108864 bytes" in err.value.message
    assert stored_blobs(server) == before


def test_recomplete_and_cancelled(client: openai.OpenAI) -> None:
    upload_id, ids = _upload(client, b"0123456789")
    client.uploads.complete(upload_id, part_ids=ids)
    with pytest.raises(openai.BadRequestError) as err:
        client.uploads.complete(upload_id, part_ids=ids)
    assert "is completed" in err.value.message
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel(upload_id)

    upload_id, ids = _upload(client, b"0123456789")
    client.uploads.cancel(upload_id)
    for call in (
        lambda: client.uploads.parts.create(upload_id, data=b"more"),
        lambda: client.uploads.complete(upload_id, part_ids=ids),
        lambda: client.uploads.cancel(upload_id),
    ):
        with pytest.raises(openai.BadRequestError) as err:
            call()
        assert "is cancelled" in err.value.message


def test_unknown_and_foreign_ids(server: LiveServer, client: openai.OpenAI) -> None:
    mine = client.files.create(file=("mine.txt", b"secret"), purpose="user_data")
    my_upload = client.uploads.create(
        bytes=3, filename="m.txt", mime_type="text/plain", purpose="user_data"
    )
    stranger = client_for(server, server.new_key()["api_key"])
    for c, file_id in ((client, "file-doesnotexist"), (stranger, mine.id)):
        with pytest.raises(openai.NotFoundError) as err:
            c.files.retrieve(file_id)
        assert file_id in err.value.message
        with pytest.raises(openai.NotFoundError):
            c.files.content(file_id)
        with pytest.raises(openai.NotFoundError):
            c.files.delete(file_id)
    for c, upload_id in ((client, "upload_nope"), (stranger, my_upload.id)):
        with pytest.raises(openai.NotFoundError):
            c.uploads.parts.create(upload_id, data=b"abc")
        with pytest.raises(openai.NotFoundError):
            c.uploads.complete(upload_id, part_ids=["part_x"])
        with pytest.raises(openai.NotFoundError):
            c.uploads.cancel(upload_id)
    assert mine.id not in [f.id for f in stranger.files.list()]
    assert client.files.retrieve(mine.id).id == mine.id


def test_auth(server: LiveServer) -> None:
    resp = httpx.get(f"{server.base_url}/v1/files")
    err = assert_envelope(resp, 401, "Missing API key")
    assert err["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client_for(server, "gm-not-a-real-key").files.list()

    issued = server.new_key()
    c = client_for(server, issued["api_key"])
    c.files.list()
    server.cli("keys", "revoke", issued["key_id"])
    # revoked by another process (the CLI): the very next request is refused
    with pytest.raises(openai.AuthenticationError) as exc:
        c.files.list()
    assert "revoked" in exc.value.message
    listed = server.cli("keys", "list", "--json").stdout
    assert issued["key_id"] in listed and "revoked_at" in listed


def test_absurd_pagination(server: LiveServer, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    for params, param in (
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"after": "file-nope"}, "after"),
    ):
        resp = httpx.get(f"{server.base_url}/v1/files", params=params, headers=headers)
        assert resp.status_code == 400, (params, resp.text)
        assert resp.json()["error"]["param"] == param


def test_malformed_requests(server: LiveServer, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    resp = httpx.post(f"{server.base_url}/v1/uploads", headers=headers, content=b"{not json")
    assert resp.status_code == 400
    resp = httpx.post(
        f"{server.base_url}/v1/uploads",
        headers=headers,
        json={"bytes": "lots", "filename": "a", "mime_type": "t", "purpose": "evals"},
    )
    assert_envelope(resp, 400, "bytes")
    resp = httpx.post(f"{server.base_url}/v1/files", headers=headers, data={"purpose": "evals"})
    assert_envelope(resp, 400, "file")
    resp = httpx.post(
        f"{server.base_url}/v1/files", headers=headers, files={"file": ("a.txt", b"x")}
    )
    assert_envelope(resp, 400, "purpose")
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
