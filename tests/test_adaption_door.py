"""The official `adaption` SDK against a live server: upload, wait, get, list, status, download
in every format; and bad input, answered with a 4xx in the door's envelope and nothing
half-written left visible."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import adaption
import httpx
import pyarrow.parquet as pq
import pytest

from tests.ingest.samples import CHAT, WEATHER_TOOL, jsonl_bytes
from tests.support import Backend, LiveServer, start_server, stored_blobs

DATASETS = "/api/v1/datasets"


def chat_rows(n: int, seed: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": "You answer in one short sentence."},
                {"role": "user", "content": f"What is the weather in city {i}? {seed}".strip()},
                {"role": "assistant", "content": f"Sunny and {15 + i} degrees."},
            ]
        }
        if i % 3 == 0:
            row["tools"] = [WEATHER_TOOL]
            row["parallel_tool_calls"] = False
        rows.append(row)
    return rows


def is_s3(server: LiveServer) -> bool:
    return server.env.get("GRISTMILL_BLOB_URL", "").startswith("s3://")


def sdk(server: LiveServer, key: str) -> adaption.Adaption:
    return adaption.Adaption(api_key=key, base_url=server.base_url, max_retries=0)


def http(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"})


def wait(client: adaption.Adaption, dataset_id: str) -> Any:
    return client.datasets.wait_for_completion(
        dataset_id, initial_interval=0.1, max_interval=0.3, timeout=60
    )


def refused(resp: httpx.Response, status: int, param: str | None, *needles: str) -> Any:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "code", "param"}
    assert err["param"] == param, err
    for needle in needles:
        assert needle in err["message"], err["message"]
    return err


def sdk_refusal(exc: adaption.APIStatusError, param: str | None, *needles: str) -> Any:
    assert exc.response.headers["x-should-retry"] == "false"
    return refused(exc.response, exc.status_code, param, *needles)


@pytest.fixture(scope="module")
def identity(server: LiveServer) -> dict[str, str]:
    return server.new_key()


@pytest.fixture(scope="module")
def client(server: LiveServer, identity: dict[str, str]) -> adaption.Adaption:
    return sdk(server, identity["api_key"])


@pytest.fixture(scope="module")
def ready(client: adaption.Adaption, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A succeeded dataset for the tests that only read one."""
    path = tmp_path_factory.mktemp("ready") / "ready.jsonl"
    path.write_bytes(jsonl_bytes(chat_rows(3, "ready")))
    dataset_id = client.datasets.upload_file(path).dataset_id
    assert wait(client, dataset_id).status == "succeeded"
    return dataset_id


def start_upload(
    client: adaption.Adaption, body: bytes, **source: Any
) -> tuple[str, str, dict[str, Any]]:
    """create → PUT, as `upload_file` does; returns the dataset id, the URL, and what a
    complete should declare."""
    created = client.datasets.create(source={"file_format": "jsonl", **source})
    assert created.status == "pending" and created.upload_instructions is not None
    url = created.upload_instructions.url
    assert created.upload_instructions.method == "PUT"
    assert httpx.put(url, content=body).status_code == 200
    declared = {"file_size_bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    return created.dataset_id, url, declared


def download(client: adaption.Adaption, dataset_id: str, fmt: str) -> bytes:
    return client.datasets.download(dataset_id, file_format=fmt).read()  # type: ignore[arg-type]


def from_table(row: dict[str, Any]) -> dict[str, Any]:
    """A chat record read back from CSV or Parquet: nested values are JSON text there."""
    return {
        key: json.loads(value) if isinstance(value, str) else value
        for key, value in row.items()
        if value is not None and value != ""
    }


def parsed(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in body.decode().splitlines()]
    if fmt == "json":
        return list(json.loads(body))
    if fmt == "csv":
        return [from_table(r) for r in csv.DictReader(io.StringIO(body.decode()))]
    rows: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            assert member.name.endswith(".parquet")
            shard = tar.extractfile(member)
            assert shard is not None
            rows += [from_table(r) for r in pq.read_table(shard).to_pylist()]
    return rows


# --- happy paths ------------------------------------------------------------------------


def test_upload_wait_get_status_download_delete(
    server: LiveServer, client: adaption.Adaption, identity: dict[str, str], tmp_path: Path
) -> None:
    before = stored_blobs(server)
    rows = CHAT + chat_rows(12 - len(CHAT))
    path = tmp_path / "weather-chat.jsonl"
    path.write_bytes(jsonl_bytes(rows))

    done = client.datasets.upload_file(path)
    assert done.status == "pending"
    status = wait(client, done.dataset_id)
    assert status.status == "succeeded" and status.row_count == 12
    assert status.progress is not None
    assert (status.progress.processed_rows, status.progress.total_rows) == (12, 12)
    assert status.progress.percent == 100 and status.error_data is None

    ds = client.datasets.get(done.dataset_id)
    assert (ds.dataset_id, ds.name, ds.status, ds.row_count) == (
        done.dataset_id,
        "weather-chat",
        "succeeded",
        12,
    )
    assert ds.kind == "uploaded" and ds.created_by_user_id == identity["identity_id"]
    assert ds.configured_column_mapping is None
    assert ds.updated_at >= ds.created_at
    graded = client.datasets.wait_for_evaluation(done.dataset_id, initial_interval=0.1, timeout=120)
    assert graded.status == "succeeded" and graded.quality is not None
    summary = client.datasets.get(done.dataset_id).evaluation_summary
    assert summary is not None and summary.grade_before == graded.quality.grade_before

    for fmt in ("jsonl", "json", "csv", "parquet"):
        assert parsed(fmt, download(client, done.dataset_id, fmt)) == rows, fmt
    raw = client.datasets.with_raw_response.download(done.dataset_id, file_format="parquet")
    assert 'filename="weather-chat.tar.gz"' in raw.headers["content-disposition"]

    assert "deleted" in client.datasets.delete(done.dataset_id).message
    with pytest.raises(adaption.NotFoundError):
        client.datasets.get(done.dataset_id)
    assert stored_blobs(server) == before


def test_csv_with_column_mapping(client: adaption.Adaption, tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        "question,answer,source\n"
        'How do I reset my password?,"Open Settings, then Security.",help-center\n'
        "Can I export my data?,Yes: Settings > Export.,forum\n"
    )
    mapping = {"prompt": "question", "completion": "answer", "context": ["source"]}
    done = client.datasets.upload_file(path, processing_mode="raw", column_mapping=mapping)  # type: ignore[arg-type]
    assert wait(client, done.dataset_id).row_count == 2
    ds = client.datasets.get(done.dataset_id)
    assert ds.configured_column_mapping is not None
    assert ds.configured_column_mapping.prompt == "question"
    assert ds.configured_column_mapping.context == ["source"]
    assert parsed("jsonl", download(client, done.dataset_id, "jsonl")) == [
        {
            "prompt": "How do I reset my password?",
            "completion": "Open Settings, then Security.",
            "context": {"source": "help-center"},
        },
        {
            "prompt": "Can I export my data?",
            "completion": "Yes: Settings > Export.",
            "context": {"source": "forum"},
        },
    ]


def test_scale_gp_item_file_with_column_mapping(client: adaption.Adaption, tmp_path: Path) -> None:
    """The file a Scale GP user saves from `contents.list` (input/output) maps onto
    prompt/completion here too, so one file works through every door."""
    pairs = [("Where is the Louvre?", "In Paris."), ("42", "A number, kept as text.")]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"input": p, "output": c}) + "\n" for p, c in pairs))
    mapping = {"prompt": "input", "completion": "output"}
    done = client.datasets.upload_file(path, processing_mode="raw", column_mapping=mapping)  # type: ignore[arg-type]
    assert wait(client, done.dataset_id).row_count == 2
    assert parsed("jsonl", download(client, done.dataset_id, "jsonl")) == [
        {"prompt": p, "completion": c} for p, c in pairs
    ]
    # and with no mapping at all, the same file is detected as generation rows
    plain = client.datasets.upload_file(path)
    assert wait(client, plain.dataset_id).row_count == 2
    assert parsed("jsonl", download(client, plain.dataset_id, "jsonl")) == [
        {"prompt": p, "completion": c} for p, c in pairs
    ]


def test_initiate_then_complete(client: adaption.Adaption) -> None:
    rows = chat_rows(4, "initiated")
    body = jsonl_bytes(rows)
    started = client.datasets.upload.initiate(name="initiated", file_format="jsonl")
    s3_key = started.s3_key  # type: ignore[attr-defined]  # extra field the complete needs
    assert httpx.put(started.upload_url, content=body).status_code == 200
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.upload.complete(
            s3_key=s3_key, name="initiated", file_format="jsonl", file_size_bytes=len(body) - 1
        )
    sdk_refusal(err.value, "file_size_bytes", "bytes were uploaded")
    assert "initiated" not in [d.name for d in client.datasets.list()]  # no half dataset
    with pytest.raises(adaption.NotFoundError) as missing:
        client.datasets.upload.complete(
            s3_key="uploads/nope", name="x", file_format="jsonl", file_size_bytes=1
        )
    sdk_refusal(missing.value, "s3_key", "uploads/nope")

    assert httpx.put(started.upload_url, content=body).status_code == 200  # re-armed
    done = client.datasets.upload.complete(
        s3_key=s3_key, name="initiated", file_format="jsonl", file_size_bytes=len(body)
    )
    assert wait(client, done.dataset_id).status == "succeeded"
    assert client.datasets.get(done.dataset_id).name == "initiated"
    assert parsed("json", download(client, done.dataset_id, "json")) == rows


def test_list_filters_and_paging(server: LiveServer) -> None:
    client = sdk(server, server.new_key()["api_key"])
    ids = []
    for name in ("beta", "alpha-1", "alpha-2", "alpha-3", "gamma"):
        ids.append(client.datasets.create(source={"name": name, "file_format": "jsonl"}).dataset_id)
    newest_first = list(reversed(ids))

    first = client.datasets.list(limit=2)
    assert [d.dataset_id for d in first.datasets] == newest_first[:2] and first.next_cursor
    assert [d.dataset_id for d in client.datasets.list(limit=2)] == newest_first  # auto-pages
    assert [d.dataset_id for d in client.datasets.list(limit=2, sort_direction="asc")] == ids
    assert [d.name for d in client.datasets.list(sort="name", sort_direction="asc")] == [
        "alpha-1",
        "alpha-2",
        "alpha-3",
        "beta",
        "gamma",
    ]
    assert {d.name for d in client.datasets.list(q="ALPHA")} == {"alpha-1", "alpha-2", "alpha-3"}
    assert len(list(client.datasets.list(status="pending"))) == 5
    assert list(client.datasets.list(status="succeeded")) == []

    third = client.datasets.get(ids[2]).created_at.isoformat()
    assert [d.dataset_id for d in client.datasets.list(created_after=third)] == newest_first[:3]
    assert [d.dataset_id for d in client.datasets.list(created_before=third)] == newest_first[3:]
    item = next(iter(client.datasets.list(limit=1)))
    assert (item.status, item.row_count, item.name) == ("pending", None, "gamma")
    assert list(sdk(server, server.new_key()["api_key"]).datasets.list()) == []


def test_invalid_rows_are_listed_by_line(
    server: LiveServer, client: adaption.Adaption, identity: dict[str, str], tmp_path: Path
) -> None:
    lines = [json.dumps(r) for r in chat_rows(8)]
    lines[2] = '{"messages": [{"role": "user", "content": "cut off"'
    lines[4] = json.dumps({"messages": [{"role": "user", "content": "no answer"}]})
    lines[6] = json.dumps(
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}
    )
    path = tmp_path / "some-bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = client.datasets.upload_file(path)
    assert wait(client, done.dataset_id).row_count == 5

    api = http(server, identity["api_key"])
    errors = f"{DATASETS}/{done.dataset_id}/errors"
    page = api.get(errors, params={"limit": 2}).json()
    assert [e["line"] for e in page["errors"]] == [3, 5] and page["next_cursor"] == "5"
    rest = api.get(errors, params={"cursor": page["next_cursor"]}).json()
    assert [e["line"] for e in rest["errors"]] == [7] and rest["next_cursor"] is None
    codes = [[r["code"] for r in e["reasons"]] for e in page["errors"] + rest["errors"]]
    assert codes == [["invalid_json"], ["example_missing_assistant_message"], ["unrecognized_role"]]


def test_publish_checks_its_target_before_queueing(client: adaption.Adaption, ready: str) -> None:
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.publish(ready, target="huggingface")  # no repo_id
    sdk_refusal(err.value, "target_spec.repo_id", "non-empty string")
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.publish(
            ready, target="huggingface", target_spec={"repo_id": "me/data"}
        )  # no token anywhere
    sdk_refusal(err.value, "target_spec.token", "GRISTMILL_HF_TOKEN")
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.publish(ready, target="myspace")  # type: ignore[arg-type]
    sdk_refusal(err.value, "target", "huggingface, kaggle, openai, s3")
    with pytest.raises(adaption.NotFoundError):
        client.datasets.publish("ds_missing", target="kaggle", target_spec={"dataset": "a/b"})


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "param", "needle"),
    [
        ({"name": "manual", "file_format": "pdf"}, "source.file_format", "Unsupported file_format"),
        ({"name": "no-extension"}, "source.file_format", "file_format is required"),
        (
            {"url": "https://huggingface.co/datasets/org/set", "files": ["a.csv"]},
            "source.url",
            "URL",
        ),
        (
            {"name": "x", "file_format": "jsonl", "schema_type": "poem"},
            "schema_type",
            "Unknown schema type 'poem'",
        ),
        (
            {"name": "x", "file_format": "csv", "column_mapping": {"prompt": "q", "answer": "a"}},
            "column_mapping",
            "'answer'",
        ),
        (
            {
                "name": "x",
                "file_format": "csv",
                "column_mapping": {"prompt": "q", "chosen": "c", "rejected": "r"},
            },
            "source.column_mapping",
            "chosen",
        ),
        (
            {"name": "x", "file_format": "csv", "processing_mode": "fast"},
            "source.processing_mode",
            "processing_mode",
        ),
    ],
)
def test_create_refuses_bad_sources(
    server: LiveServer,
    identity: dict[str, str],
    source: dict[str, Any],
    param: str,
    needle: str,
) -> None:
    api = http(server, identity["api_key"])
    count = len(api.get(DATASETS, params={"limit": 100}).json()["datasets"])
    refused(api.post(DATASETS, json={"source": source}), 400, param, needle)
    assert len(api.get(DATASETS, params={"limit": 100}).json()["datasets"]) == count


def test_wrong_size_or_sha256_is_refused_and_the_url_rearmed(
    server: LiveServer, client: adaption.Adaption
) -> None:
    body = jsonl_bytes(chat_rows(3, "checked"))
    before = stored_blobs(server)
    dataset_id, url, declared = start_upload(client, body, name="checked")
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.upload.complete_by_id(
            dataset_id, file_size_bytes=len(body) + 1, sha256=declared["sha256"]
        )
    sdk_refusal(err.value, "file_size_bytes", f"{len(body)} bytes were uploaded")
    status = client.datasets.get_status(dataset_id)
    assert (status.status, status.row_count) == ("pending", None)
    assert stored_blobs(server) == before  # the unverified bytes are gone
    with pytest.raises(adaption.UnprocessableEntityError):
        download(client, dataset_id, "jsonl")

    assert httpx.put(url, content=body).status_code == 200  # re-armed: PUT again
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.upload.complete_by_id(
            dataset_id, file_size_bytes=len(body), sha256="0" * 64
        )
    sdk_refusal(err.value, "sha256", "does not match")

    assert httpx.put(url, content=body).status_code == 200
    client.datasets.upload.complete_by_id(dataset_id, **declared)
    assert wait(client, dataset_id).row_count == 3


def _zip(body: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("rows.jsonl", body)
    return out.getvalue()


@pytest.mark.parametrize(
    ("source", "content", "param", "needle"),
    [
        ({"name": "zipped.jsonl"}, _zip(jsonl_bytes(chat_rows(2))), "file", "zip"),
        ({"name": "rows.jsonl.zst"}, gzip.compress(jsonl_bytes(chat_rows(2))), "file", "zstd"),
        (
            {
                "name": "qa.csv",
                "file_format": "csv",
                "column_mapping": {"prompt": "question", "completion": "answer"},
            },
            b"q,a\nhello,world\n",
            "column_mapping",
            "'question'",
        ),
    ],
)
def test_unreadable_files_are_refused_on_complete(
    client: adaption.Adaption, source: dict[str, Any], content: bytes, param: str, needle: str
) -> None:
    dataset_id, _, declared = start_upload(client, content, **source)
    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.upload.complete_by_id(dataset_id, **declared)
    sdk_refusal(err.value, param, needle)
    status = client.datasets.get_status(dataset_id)
    assert (status.status, status.row_count, status.progress) == ("pending", None, None)


def test_presigned_url_works_once(server: LiveServer, client: adaption.Adaption) -> None:
    before = stored_blobs(server)
    rows = chat_rows(2, "once")
    dataset_id, url, declared = start_upload(client, jsonl_bytes(rows), name="once")
    if not is_s3(server):
        refused(httpx.put(url, content=b"again"), 409, None, "already been used")
    client.datasets.upload.complete_by_id(dataset_id, **declared)
    other = jsonl_bytes(chat_rows(5, "tampered"))
    if is_s3(server):
        # S3 honours its signature until expiry, but those bytes are never read: the
        # completed upload was moved to a key no URL points to.
        assert httpx.put(url, content=other).status_code == 200
    else:
        refused(httpx.put(url, content=other), 409, None, "already been used")
    with pytest.raises(adaption.ConflictError) as err:
        client.datasets.upload.complete_by_id(
            dataset_id, file_size_bytes=len(other), sha256=hashlib.sha256(other).hexdigest()
        )
    sdk_refusal(err.value, None, "already been completed")
    assert wait(client, dataset_id).row_count == 2
    assert parsed("jsonl", download(client, dataset_id, "jsonl")) == rows
    if not is_s3(server):
        refused(httpx.put(url.rsplit("/", 1)[0] + "/not-a-token", content=b"x"), 404, None)
    client.datasets.delete(dataset_id)
    assert stored_blobs(server) == before  # the S3 orphan too


def test_expired_url_is_refused(backend: Backend, tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "expiry", backend.env, {"GRISTMILL_PRESIGNED_URL_EXPIRY_SECONDS": "1"}
    )
    try:
        client = sdk(server, server.new_key()["api_key"])
        created = client.datasets.create(source={"name": "late", "file_format": "jsonl"})
        assert created.upload_instructions is not None
        time.sleep(1.5)
        body = jsonl_bytes(chat_rows(1))
        put = httpx.put(created.upload_instructions.url, content=body)
        assert put.status_code == 403, put.text
        if not is_s3(server):
            refused(put, 403, None, "expired")
        with pytest.raises(adaption.PermissionDeniedError) as err:
            client.datasets.upload.complete_by_id(created.dataset_id, file_size_bytes=len(body))
        sdk_refusal(err.value, None, "expired")
        assert client.datasets.get_status(created.dataset_id).status == "pending"
    finally:
        server.stop()


def test_another_accounts_ids_answer_like_missing_ones(server: LiveServer, ready: str) -> None:
    stranger = http(server, server.new_key()["api_key"])
    calls = [
        ("GET", "/{id}"),
        ("GET", "/{id}/status"),
        ("GET", "/{id}/download?fileFormat=jsonl"),
        ("GET", "/{id}/errors"),
        ("GET", "/{id}/evaluation"),
        ("DELETE", "/{id}"),
        ("POST", "/{id}/publish"),
        ("POST", "/{id}/upload/complete"),
    ]
    for method, path in calls:
        body = {"file_size_bytes": 1} if path.endswith("complete") else None
        theirs = stranger.request(method, DATASETS + path.format(id=ready), json=body)
        missing = stranger.request(
            method, DATASETS + path.format(id="ds_doesnotexist00000000000"), json=body
        )
        assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
        assert theirs.json()["error"]["message"].replace(ready, "ID") == (
            missing.json()["error"]["message"].replace("ds_doesnotexist00000000000", "ID")
        )
    assert sdk(server, server.new_key()["api_key"]).datasets.list().datasets == []


@pytest.mark.parametrize(
    ("path", "params", "param", "needle"),
    [
        ("", {"limit": 0}, "limit", "between 1 and 100"),
        ("", {"limit": 10**9}, "limit", "between 1 and 100"),
        ("", {"limit": 2.5}, "limit", "whole number"),
        ("", {"cursor": "bogus"}, "cursor", "Invalid cursor"),
        ("", {"sort": "size"}, "sort", "Unknown sort"),
        ("", {"created_after": "yesterday"}, "created_after", "timestamp"),
        ("", {"status": "done"}, "status", "Unknown status"),
        ("/{id}/errors", {"limit": 0}, "limit", "between 1 and 1000"),
        ("/{id}/errors", {"cursor": "bogus"}, "cursor", "whole number"),
        ("/{id}/download", {"fileFormat": "xml"}, "fileFormat", "Unsupported fileFormat"),
    ],
)
def test_absurd_queries_are_refused(
    server: LiveServer,
    identity: dict[str, str],
    ready: str,
    path: str,
    params: dict[str, Any],
    param: str,
    needle: str,
) -> None:
    api = http(server, identity["api_key"])
    refused(api.get(DATASETS + path.format(id=ready), params=params), 400, param, needle)


def test_download_before_ingest_and_without_a_key(
    server: LiveServer, client: adaption.Adaption
) -> None:
    pending = client.datasets.create(source={"name": "waiting.jsonl"}).dataset_id
    with pytest.raises(adaption.UnprocessableEntityError) as err:
        download(client, pending, "csv")
    assert sdk_refusal(err.value, "dataset_id", "no processed rows")["code"] == (
        "dataset_not_ready"
    )
    with pytest.raises(adaption.AuthenticationError) as auth:
        sdk(server, "gm-not-a-key").datasets.get(pending)
    sdk_refusal(auth.value, None)
    refused(httpx.get(server.base_url + DATASETS), 401, None)


def test_uploads_never_completed_are_swept(backend: Backend, tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "sweep",
        backend.env,
        {
            "GRISTMILL_PRESIGNED_URL_EXPIRY_SECONDS": "2",
            "GRISTMILL_UPLOAD_SWEEP_INTERVAL_SECONDS": "0.5",
        },
    )
    try:
        client = sdk(server, server.new_key()["api_key"])
        before = stored_blobs(server)
        body = jsonl_bytes(chat_rows(3))
        created = client.datasets.create(source={"name": "abandoned", "file_format": "jsonl"})
        started = client.datasets.upload.initiate(name="orphan", file_format="jsonl")
        assert created.upload_instructions is not None
        for url in (created.upload_instructions.url, started.upload_url):
            assert httpx.put(url, content=body).status_code == 200
        assert len(stored_blobs(server)) == len(before) + 2
        deadline = time.monotonic() + 15
        while stored_blobs(server) != before and time.monotonic() < deadline:
            time.sleep(0.25)
        assert stored_blobs(server) == before  # the bytes nobody completed are gone
        status = client.datasets.get_status(created.dataset_id)
        assert status.status == "failed"
        failed = client.datasets.get(created.dataset_id)
        assert failed.error_data is not None
        assert "expired before the upload was completed" in str(failed.error_data.message)
        evaluation = client.datasets.get_evaluation(created.dataset_id)  # nothing to grade
        assert evaluation.status == "failed" and evaluation.quality is None
        assert "ingest failed" in str(evaluation.message)  # type: ignore[attr-defined]
    finally:
        server.stop()
