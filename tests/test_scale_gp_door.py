"""The official `scale-gp` SDK against a live server: training datasets, and bad input.

Every client validates responses strictly against the SDK's own types, so a field of the
wrong type or a missing field fails the test, not just a wrong value.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scale_gp
from scale_gp.types import TrainingDataset, TrainingDatasetGenerationItem

from tests.support import LiveServer, stored_blobs

SEED_FIELDS = {
    "name",
    "schema_type",
    "data_source",
    "id",
    "created_at",
    "account_id",
    "created_by_user_id",
    "created_by_identity_type",
}


def generation_jsonl(n: int, pad: str = "") -> str:
    rows = (
        {"prompt": f"Summarise ticket #{i}: printer offline again.{pad}", "completion": f"T{i}"}
        for i in range(n)
    )
    return "".join(json.dumps(r) + "\n" for r in rows)


def reranking_csv(n: int) -> bytes:
    lines = ["question,chunk,positive"]
    for i in range(n):
        positive = "true" if i % 3 == 0 else "false"
        lines.append(f'"How do I reset device {i}?","Hold the button for {i} s.",{positive}')
    return ("\n".join(lines) + "\n").encode()


def sgp(server: LiveServer, key: dict[str, str]) -> scale_gp.SGPClient:
    return scale_gp.SGPClient(
        api_key=key["api_key"],
        account_id=key["account_id"],
        base_url=server.base_url,
        max_retries=0,
        _strict_response_validation=True,
    )


def wait_for_rows(
    client: scale_gp.SGPClient, dataset_id: str, timeout: float = 60.0
) -> list[TrainingDatasetGenerationItem]:
    """Contents are empty until the ingest job commits the rows."""
    deadline = time.monotonic() + timeout
    while True:
        items = client.training_datasets.contents.list(dataset_id).items
        if items:
            return items
        assert time.monotonic() < deadline, f"{dataset_id} was not ingested in {timeout}s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key()


@pytest.fixture(scope="module")
def client(server: LiveServer, key: dict[str, str]) -> scale_gp.SGPClient:
    return sgp(server, key)


def create(client: scale_gp.SGPClient, file: Any, **fields: Any) -> TrainingDataset:
    args = {"account_id": client.account_id, "name": "tickets", "schema_type": "GENERATION"}
    return client.training_datasets.create(file=file, **{**args, **fields})


def test_generation_lifecycle(client: scale_gp.SGPClient, key: dict[str, str]) -> None:
    body = generation_jsonl(25)
    raw = client.training_datasets.with_raw_response.create(
        account_id=key["account_id"], file=body, name="support tickets", schema_type="GENERATION"
    )
    fields: Any = raw.json()
    assert set(fields) == SEED_FIELDS
    created = raw.parse()
    assert created.name == "support tickets"
    assert created.schema_type == "GENERATION"
    assert created.account_id == key["account_id"]
    assert created.created_by_user_id == key["identity_id"]
    assert created.created_by_identity_type == "user"
    assert created.data_source == "LocalFile"

    items = wait_for_rows(client, created.id)
    assert [(i.input, i.output, i.schema_type) for i in items] == [
        (f"Summarise ticket #{n}: printer offline again.", f"T{n}", "GENERATION") for n in range(25)
    ]
    assert client.training_datasets.retrieve(created.id) == created
    assert created.id in [d.id for d in client.training_datasets.list()]

    deleted = client.training_datasets.delete(created.id)
    assert (deleted.success, deleted.count) == (True, 1)
    with pytest.raises(scale_gp.NotFoundError):
        client.training_datasets.retrieve(created.id)
    with pytest.raises(scale_gp.NotFoundError):
        client.training_datasets.contents.list(created.id)
    assert created.id not in [d.id for d in client.training_datasets.list()]


def test_reranking_questions_as_a_file_part(server: LiveServer, key: dict[str, str]) -> None:
    """A CSV sent as a real file part (curl -F style), not as the SDK's plain field."""
    resp = httpx.post(
        f"{server.base_url}/v4/training-datasets",
        headers={"x-api-key": key["api_key"]},
        data={"account_id": key["account_id"], "name": "faq", "schema_type": "RERANKING_QUESTIONS"},
        files={"file": ("faq.csv", reranking_csv(12), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    created = TrainingDataset.model_validate(resp.json())
    assert created.schema_type == "RERANKING_QUESTIONS"
    client = sgp(server, key)
    items = wait_for_rows(client, created.id)
    assert [(i.input, i.output) for i in items] == [
        (f"How do I reset device {n}?", f"Hold the button for {n} s.") for n in range(12)
    ]
    assert [i.model_extra["positive"] for i in items] == [n % 3 == 0 for n in range(12)]  # type: ignore[index]


# Rows that a table or a naive parser would bend: digits (not a number), a JSON-looking text,
# quotes, commas and newlines (CSV), non-Latin script, leading and trailing blanks.
ROUND_TRIP = [
    ("How many legs does a spider have?", "Eight."),
    ("42", "It is the answer, but to which question?"),
    ('["not", "a", "list"]', "A JSON-looking prompt is still text."),
    ('She said "hello, world"\nthen left.', "A quote, a comma,\nand a newline."),
    ("Traduis « bonjour » en japonais.", "こんにちは"),
    ("  padded prompt  ", "  padded answer  "),
]


def items_as(fmt: str, items: list[TrainingDatasetGenerationItem]) -> str | bytes:
    """`contents.list` items written back to a file, as a user would save them."""
    rows = [{"input": i.input, "output": i.output} for i in items]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["input", "output"])
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_contents_round_trip(client: scale_gp.SGPClient, fmt: str) -> None:
    """The SDK's own item shape ingests: what `contents.list` returned, saved as a file and
    uploaded again, reads back exactly."""
    source = "".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in ROUND_TRIP)
    first = wait_for_rows(client, create(client, source, name="original").id)
    assert [(i.input, i.output) for i in first] == ROUND_TRIP
    again = create(client, items_as(fmt, first), name=f"round trip {fmt}")
    second = wait_for_rows(client, again.id)
    assert [(i.input, i.output, i.schema_type) for i in second] == [
        (i.input, i.output, "GENERATION") for i in first
    ]
    assert client.training_datasets.retrieve(again.id).schema_type == "GENERATION"


def test_bytes_file_as_in_the_sdk_example(client: scale_gp.SGPClient) -> None:
    """Given bytes, the SDK sends their Python repr; binary (here gzip) must survive it."""
    packed = gzip.compress(generation_jsonl(40).encode())
    created = create(client, packed, name="gzipped bytes")  # the SDK types `file` as str
    items = wait_for_rows(client, created.id)
    assert len(items) == 40
    assert items[39].output == "T39"


def test_multi_megabyte_plain_field(client: scale_gp.SGPClient) -> None:
    """Past Starlette's 1 MiB cap on plain form fields."""
    body = generation_jsonl(12_000, pad=" " + "lorem ipsum " * 40)
    assert len(body) > 6 * 1024 * 1024
    created = create(client, body, name="large")
    items = wait_for_rows(client, created.id, timeout=120)
    assert len(items) == 12_000
    assert items[-1].input.startswith("Summarise ticket #11999:")


def test_service_account_creator(server: LiveServer) -> None:
    bot = server.new_key(service_account=True)
    created = create(sgp(server, bot), generation_jsonl(2))
    assert created.created_by_identity_type == "service_account"
    assert created.created_by_user_id == bot["identity_id"]


def test_list_pages_until_empty(server: LiveServer) -> None:
    key = server.new_key()
    client = sgp(server, key)
    names = [f"set-{i}" for i in range(7)]
    for name in names:
        create(client, generation_jsonl(1), name=name)

    assert [d.name for d in client.training_datasets.list(limit=3)] == names
    assert [d.name for d in client.training_datasets.list(account_id=key["account_id"])] == names

    def page(n: int) -> dict[str, Any]:
        resp = client.training_datasets.with_raw_response.list(limit=3, page=n)
        body: dict[str, Any] = resp.json()  # type: ignore[assignment]
        return body

    second = page(2)
    assert set(second) == {"items", "current_page", "items_per_page", "total_item_count"}
    assert [i["name"] for i in second["items"]] == names[3:6]
    assert (second["current_page"], second["items_per_page"], second["total_item_count"]) == (
        2,
        3,
        7,
    )
    assert [i["name"] for i in page(3)["items"]] == names[6:]
    assert page(4)["items"] == []
    assert page(1000)["items"] == []


def test_accounts_are_isolated(server: LiveServer, client: scale_gp.SGPClient) -> None:
    mine = create(client, generation_jsonl(3), name="private")
    other = sgp(server, server.new_key())
    assert list(other.training_datasets.list()) == []
    for call in (
        other.training_datasets.retrieve,
        other.training_datasets.contents.list,
        other.training_datasets.delete,
    ):
        with pytest.raises(scale_gp.NotFoundError) as err:
            call(mine.id)
        assert mine.id in err.value.body["detail"]  # type: ignore[index]
    assert client.training_datasets.retrieve(mine.id).id == mine.id


def test_a_failed_ingest_says_why(client: scale_gp.SGPClient) -> None:
    """Reranking rows declared as GENERATION: every row is invalid, so the ingest fails."""
    rows = "".join(
        json.dumps({"question": f"q{i}", "chunk": f"c{i}", "positive": True}) + "\n"
        for i in range(4)
    )
    created = create(client, rows, name="mislabelled")
    deadline = time.monotonic() + 60
    while True:
        try:
            assert client.training_datasets.contents.list(created.id).items == []
        except scale_gp.BadRequestError as exc:
            detail = exc.body["detail"][0]  # type: ignore[index]
            break
        assert time.monotonic() < deadline, "the ingest neither failed nor succeeded"
        time.sleep(0.2)
    assert "could not be ingested" in detail["msg"]
    assert "prompt is missing" in detail["msg"]


# Bad input: a 4xx in FastAPI's envelope, which Scale's API uses; a bad field is named in
# `loc`. Nothing is stored for a rejected create.


def field_error(exc: scale_gp.APIStatusError, status: int, field: str, *needles: str) -> str:
    assert exc.status_code == status, exc.body
    assert isinstance(exc.body, dict) and set(exc.body) == {"detail"}, exc.body
    (problem,) = exc.body["detail"]
    assert set(problem) == {"loc", "msg", "type"}
    assert problem["loc"] == [field]
    for needle in needles:
        assert needle in problem["msg"], problem["msg"]
    msg: str = problem["msg"]
    return msg


def stored_state(server: LiveServer, client: scale_gp.SGPClient) -> tuple[set[str], list[str]]:
    """The account's source blobs (written by create itself; snapshots come later, from the
    worker, so they are left out) and its datasets."""
    prefix = f"datasets/{client.account_id}/"
    sources = {k for k in stored_blobs(server) if prefix in k}
    return sources, [d.id for d in client.training_datasets.list()]


@pytest.fixture
def nothing_stored(server: LiveServer, client: scale_gp.SGPClient) -> Any:
    before = stored_state(server, client)
    yield
    assert stored_state(server, client) == before


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"schema_type": "CHAT"}, "schema_type", "Unknown schema_type 'CHAT'"),
        ({"schema_type": "generation "}, None, None),  # case and spacing are forgiven
        ({"name": ""}, "name", "Missing required field 'name'"),
        ({"file": ""}, "file", "'file'"),
        ({"file": "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"}, "file", "Could not recognise"),
        ({"file": b"PK\x03\x04\x14\x00zip"}, "file", "zip archive"),
        ({"file": "   \n"}, "file", "format"),
    ],
)
def test_bad_create_fields(
    client: scale_gp.SGPClient,
    server: LiveServer,
    fields: dict[str, Any],
    field: str | None,
    needle: str | None,
) -> None:
    if field is None:
        created = create(client, generation_jsonl(1), **fields)
        assert created.schema_type == "GENERATION"
        return
    before = stored_state(server, client)
    with pytest.raises(scale_gp.BadRequestError) as err:
        create(client, **{"file": generation_jsonl(2), **fields})
    field_error(err.value, 400, field, needle or "")
    assert stored_state(server, client) == before


@pytest.mark.usefixtures("nothing_stored")
def test_missing_and_empty_file_parts(server: LiveServer, key: dict[str, str]) -> None:
    url = f"{server.base_url}/v4/training-datasets"
    headers = {"x-api-key": key["api_key"]}
    form = {"account_id": key["account_id"], "name": "n", "schema_type": "GENERATION"}
    cases = [
        ({"files": {"other": ("a.jsonl", b"{}")}}, "Missing required field 'file'"),
        ({"files": {"file": ("empty.jsonl", b"")}}, "The file is empty"),
        ({"files": {"file": ("sheet.xlsx", b"\x00\x01binary")}}, "Unsupported file type '.xlsx'"),
    ]
    for extra, needle in cases:
        resp = httpx.post(url, headers=headers, data=form, **extra)  # type: ignore[arg-type]
        assert resp.status_code == 400, resp.text
        (problem,) = resp.json()["detail"]
        assert problem["loc"] == ["file"] and needle in problem["msg"], problem
    resp = httpx.post(url, headers=headers, json=form)
    assert resp.status_code == 400 and "multipart/form-data" in resp.text


@pytest.mark.usefixtures("nothing_stored")
def test_another_account_id(server: LiveServer, client: scale_gp.SGPClient) -> None:
    stranger = server.new_key()["account_id"]
    with pytest.raises(scale_gp.PermissionDeniedError) as err:
        create(client, generation_jsonl(2), account_id=stranger)
    refusal = f"account_id {stranger!r} is not the account of this API key."
    assert err.value.body == {"detail": refusal}
    with pytest.raises(scale_gp.PermissionDeniedError) as err:
        client.training_datasets.list(account_id=stranger)
    assert "account_id" in err.value.message
    selected = client.with_options(default_headers={"x-selected-account-id": stranger})
    with pytest.raises(scale_gp.PermissionDeniedError) as err:
        selected.training_datasets.list()
    assert "x-selected-account-id" in err.value.message


@pytest.mark.parametrize(
    ("query", "field", "needle"),
    [
        ({"limit": 0}, "limit", "limit must be between 1 and 10000, got 0"),
        ({"limit": 10_001}, "limit", "got 10001"),
        ({"limit": 10**30}, "limit", "limit must be between"),
        ({"limit": -5}, "limit", "got -5"),
        ({"page": 0}, "page", "page must be between 1 and"),
        ({"page": -1}, "page", "got -1"),
        ({"page": 10**30}, "page", "page must be between"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"page": "1.5"}, "page", "valid integer"),
    ],
)
def test_absurd_pagination(
    client: scale_gp.SGPClient, query: dict[str, Any], field: str, needle: str
) -> None:
    with pytest.raises(scale_gp.BadRequestError) as err:
        client.training_datasets.list(**query)
    field_error(err.value, 400, field, needle)


def test_largest_page_is_fine(server: LiveServer) -> None:
    client = sgp(server, server.new_key())
    made = [create(client, generation_jsonl(1), name=f"big-page-{i}").id for i in range(3)]
    first = client.training_datasets.with_raw_response.list(limit=10_000, page=1)
    assert [d["id"] for d in first.json()["items"]] == made  # type: ignore[index]
    page = client.training_datasets.with_raw_response.list(limit=10_000, page=1_000_000_000)
    assert page.json()["items"] == []  # type: ignore[index]


@pytest.mark.parametrize("api_key", [None, "gm-not-a-key"])
def test_bad_api_key(server: LiveServer, api_key: str | None) -> None:
    headers = {"x-api-key": api_key} if api_key else {}
    resp = httpx.get(f"{server.base_url}/v4/training-datasets", headers=headers)
    assert resp.status_code == 401
    assert set(resp.json()) == {"detail"} and "API key" in resp.json()["detail"]


def test_unknown_ids_and_paths(client: scale_gp.SGPClient) -> None:
    for call in (
        client.training_datasets.retrieve,
        client.training_datasets.contents.list,
        client.training_datasets.delete,
    ):
        with pytest.raises(scale_gp.NotFoundError) as err:
            call("ds_doesnotexist")
        assert err.value.body == {"detail": "Dataset ds_doesnotexist not found."}
    with pytest.raises(scale_gp.NotFoundError):
        client.get("/v4/training-datasets/x/y/z", cast_to=object)
