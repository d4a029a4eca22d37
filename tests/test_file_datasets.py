"""An OpenAI `fine-tune` file becomes a dataset that every other door lists and reads.

Files go in through the official `openai` SDK (Files and Uploads, under `/v1` and
`/openai/v1`); the dataset is then read through the `adaption`, `scale-gp` and `tensorzero`
SDKs and the native door, and deleting either side leaves the other whole.
"""

from __future__ import annotations

import json
import time
from typing import Any

import adaption
import openai
import pytest
import scale_gp
from tensorzero import ListDatapointsRequest, TensorZeroGateway

from tests.ingest.samples import jsonl_bytes
from tests.support import LiveServer, native_client, stored_blobs
from tests.test_adaption_door import chat_rows, download, parsed
from tests.test_scale_gp_door import wait_for_rows

PAIRS = [
    ("Translate 'good morning' into Spanish.", "Buenos días."),
    ("What is the boiling point of water at sea level?", "100 °C, or 212 °F."),
    ("Name the largest planet in the solar system.", "Jupiter."),
]


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key()


def openai_client(server: LiveServer, key: dict[str, str], prefix: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key["api_key"], base_url=f"{server.base_url}{prefix}", max_retries=0
    )


@pytest.fixture(scope="module")
def adaption_client(server: LiveServer, key: dict[str, str]) -> adaption.Adaption:
    return adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)


def dataset_of_file(server: LiveServer, key: dict[str, str], file_id: str) -> dict[str, Any]:
    """The native door's dataset linked to `file_id`, once its ingest has finished."""
    deadline = time.monotonic() + 60
    with native_client(server, key) as http:
        while True:
            listed = http.get("/datasets", params={"limit": 1000}).json()["data"]
            found = [d for d in listed if d["source_file_id"] == file_id]
            assert len(found) <= 1, found
            if found and found[0]["status"] in ("succeeded", "failed"):
                one = http.get(f"/datasets/{found[0]['id']}").json()
                moving = ("updated_at", "evaluation_summary")  # its evaluation may land between
                assert {k: v for k, v in one.items() if k not in moving} == {
                    k: v for k, v in found[0].items() if k not in moving
                }
                return found[0]
            assert time.monotonic() < deadline, f"no finished dataset for {file_id}: {found}"
            time.sleep(0.2)


def test_files_create_makes_a_chat_dataset(
    server: LiveServer, key: dict[str, str], adaption_client: adaption.Adaption
) -> None:
    rows = chat_rows(5, "fine-tune file")
    client = openai_client(server, key, "/v1")
    file = client.files.create(file=("support-chat.jsonl", jsonl_bytes(rows)), purpose="fine-tune")
    ds = dataset_of_file(server, key, file.id)
    assert (ds["name"], ds["status"], ds["schema_type"]) == (
        "support-chat.jsonl",
        "succeeded",
        "chat",
    )
    assert (ds["origin"], ds["data_source"], ds["row_count"]) == ("openai", "LocalFile", 5)

    # the Adaption door lists it and downloads exactly the file's rows
    assert ds["id"] in [d.dataset_id for d in adaption_client.datasets.list()]
    got = adaption_client.datasets.get(ds["id"])
    assert (got.name, got.status, got.row_count) == ("support-chat.jsonl", "succeeded", 5)
    assert parsed("jsonl", download(adaption_client, ds["id"], "jsonl")) == rows

    # the TensorZero door reads it by name, as chat datapoints
    tz = TensorZeroGateway.build_http(gateway_url=server.base_url, api_key=key["api_key"])
    points = tz.list_datapoints(
        dataset_name="support-chat.jsonl", request=ListDatapointsRequest(limit=100)
    ).datapoints
    assert len(points) == 5
    assert {p.type for p in points} == {"chat"}

    # the native door's rows
    with native_client(server, key) as http:
        body = http.get(f"/datasets/{ds['id']}/rows").json()
    assert body["total"] == 5
    assert [r["record"]["messages"] for r in body["data"]] == [r["messages"] for r in rows]


def test_uploads_api_under_the_openai_prefix_makes_a_generation_dataset(
    server: LiveServer, key: dict[str, str]
) -> None:
    """Legacy prompt/completion fine-tune rows are generation rows: Scale GP shows them."""
    body = b"".join(json.dumps({"prompt": p, "completion": c}).encode() + b"\n" for p, c in PAIRS)
    client = openai_client(server, key, "/openai/v1")
    up = client.uploads.create(
        bytes=len(body), filename="qa.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    half = len(body) // 2
    parts = [client.uploads.parts.create(up.id, data=chunk) for chunk in (body[:half], body[half:])]
    done = client.uploads.complete(up.id, part_ids=[p.id for p in parts])
    assert done.file is not None
    ds = dataset_of_file(server, key, done.file.id)
    assert (ds["status"], ds["schema_type"], ds["row_count"]) == ("succeeded", "generation", 3)

    sgp = scale_gp.SGPClient(
        api_key=key["api_key"],
        account_id=key["account_id"],
        base_url=server.base_url,
        max_retries=0,
        _strict_response_validation=True,
    )
    assert ds["id"] in [d.id for d in sgp.training_datasets.list()]
    assert sgp.training_datasets.retrieve(ds["id"]).name == "qa.jsonl"
    items = wait_for_rows(sgp, ds["id"])
    assert [(i.input, i.output) for i in items] == PAIRS


def test_deleting_one_side_keeps_the_other(
    server: LiveServer, key: dict[str, str], adaption_client: adaption.Adaption
) -> None:
    client = openai_client(server, key, "/v1")
    rows = chat_rows(3, "kept")

    # delete the file: the dataset stays, readable and downloadable
    first = client.files.create(file=("first.jsonl", jsonl_bytes(rows)), purpose="fine-tune")
    ds = dataset_of_file(server, key, first.id)
    assert ds["status"] == "succeeded"
    assert client.files.delete(first.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(first.id)
    assert adaption_client.datasets.get(ds["id"]).status == "succeeded"
    assert parsed("jsonl", download(adaption_client, ds["id"], "jsonl")) == rows
    with native_client(server, key) as http:
        assert http.get(f"/datasets/{ds['id']}").json()["source_file_id"] == first.id
    # ... and once the dataset goes too, nothing of either is left stored
    adaption_client.datasets.delete(ds["id"])
    assert not any(first.id in blob for blob in stored_blobs(server))

    # delete the dataset: the file stays, with its content
    second = client.files.create(file=("second.jsonl", jsonl_bytes(rows)), purpose="fine-tune")
    ds = dataset_of_file(server, key, second.id)
    adaption_client.datasets.delete(ds["id"])
    with pytest.raises(adaption.NotFoundError):
        adaption_client.datasets.get(ds["id"])
    assert client.files.retrieve(second.id).filename == "second.jsonl"
    assert client.files.content(second.id).read() == jsonl_bytes(rows)


def test_other_purposes_stay_plain_files(server: LiveServer, key: dict[str, str]) -> None:
    client = openai_client(server, key, "/v1")
    before = native_client(server, key).get("/datasets").json()["data"]
    file = client.files.create(
        file=("notes.jsonl", jsonl_bytes(chat_rows(2))), purpose="assistants"
    )
    assert client.files.retrieve(file.id).purpose == "assistants"
    assert native_client(server, key).get("/datasets").json()["data"] == before


def test_another_account_does_not_see_the_dataset(server: LiveServer, key: dict[str, str]) -> None:
    client = openai_client(server, key, "/v1")
    file = client.files.create(file=("mine.jsonl", jsonl_bytes(chat_rows(2))), purpose="fine-tune")
    ds = dataset_of_file(server, key, file.id)
    stranger = server.new_key()
    with native_client(server, stranger) as http:
        assert http.get("/datasets").json()["data"] == []
        r = http.get(f"/datasets/{ds['id']}")
        assert r.status_code == 404 and r.json()["error"]["param"] == "dataset_id"
