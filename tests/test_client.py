"""The Python client (`from gristmill import Client`) against a live server, on both
backends: upload with progress, paging, the report, an export round trip, versions, and
errors by status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import gristmill
from gristmill.client import (
    AuthenticationError,
    BadRequestError,
    Client,
    JobFailedError,
    NotFoundError,
)
from tests.support import Backend, LiveServer, start_server

CHATS = [
    {
        "messages": [
            {"role": "user", "content": f"What colour is fruit number {i}?"},
            {"role": "assistant", "content": f"Fruit {i} is {['red', 'green', 'yellow'][i % 3]}."},
        ]
    }
    for i in range(9)
]


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp(f"client-{backend.name}"), backend.env)
    yield live
    live.stop()


@pytest.fixture
def gm(server: LiveServer) -> Iterator[Client]:
    with gristmill.Client(server.base_url, server.new_key()["api_key"], poll_seconds=0.1) as c:
        yield c


def test_upload_report_export_round_trip(gm: Client, tmp_path: Path) -> None:
    source = tmp_path / "fruit.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in CHATS))
    seen: list[tuple[str, int, int | None]] = []
    ds = gm.datasets.upload(source, progress=lambda *event: seen.append(event))
    assert ds["status"] == "succeeded" and ds["row_count"] == len(CHATS)
    assert ("upload", source.stat().st_size, source.stat().st_size) in seen
    assert any(stage == "ingest" for stage, _, _ in seen)
    report = gm.datasets.evaluation(ds["id"], wait=True)
    assert report["status"] == "succeeded" and report["grade"] in "ABCDE"
    rows = list(gm.datasets.rows(ds["id"], page_size=4))  # three pages
    assert len(rows) == len(CHATS) and len({r["id"] for r in rows}) == len(CHATS)

    export = gm.exports.create(ds["id"], "openai-chat", split={"validation": 3, "seed": 1})
    files = gm.exports.download(export, tmp_path / "sft.jsonl")
    assert [p.name for p in files] == ["sft-train.jsonl", "sft-validation.jsonl"]
    lines = [json.loads(line) for p in files for line in p.read_text().splitlines()]
    assert sorted(json.dumps(x) for x in lines) == sorted(json.dumps(c) for c in CHATS)

    versions = list(gm.versions.list(ds["id"]))
    assert [v["number"] for v in versions] == [1]
    tagged = gm.versions.tag(ds["id"], versions[0]["id"], "first")
    assert tagged["tags"] == ["first"]
    names = [d["name"] for d in gm.datasets.list(page_size=1)]
    assert names == ["fruit.jsonl"]
    gm.datasets.delete(ds["id"])
    with pytest.raises(NotFoundError) as missing:
        gm.datasets.get(ds["id"])
    assert missing.value.status_code == 404 and missing.value.param == "dataset_id"


def test_errors_by_status(gm: Client, server: LiveServer, tmp_path: Path) -> None:
    with pytest.raises(AuthenticationError):
        Client(server.base_url, "gm-not-a-key").datasets.get("ds_x")
    with pytest.raises(BadRequestError) as bad:
        list(gm.datasets.list(page_size=0))
    assert bad.value.param == "limit"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(JobFailedError) as failed:
        gm.datasets.upload(broken)
    assert failed.value.result["status"] == "failed" and "line 1" in failed.value.result["error"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(BadRequestError, match="empty"):
        gm.datasets.upload(empty)
    with pytest.raises(NotFoundError):
        gm.exports.create("ds_missing", "jsonl")


def test_cli_datasets_commands(server: LiveServer, tmp_path: Path) -> None:
    key = server.new_key()
    flags = ("--url", server.base_url, "--api-key", key["api_key"])
    source = tmp_path / "colours.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in CHATS))
    up = server.cli(
        "datasets", "upload", str(source), "--name", "colours", "--wait", "--json", *flags
    )
    ds = json.loads(up.stdout)
    assert ds["status"] == "succeeded" and ds["row_count"] == len(CHATS)
    report = json.loads(server.cli("report", ds["id"], "--json", *flags).stdout)
    assert report["status"] == "succeeded" and report["grade"] in "ABCDE"
    assert report["rows"] == len(CHATS) and {c["check"] for c in report["checks"]} >= {"pii"}
    out = tmp_path / "colours-sft.jsonl"
    exported = server.cli(
        "export", ds["id"], "--format", "openai-chat", "-o", str(out), "--json", *flags
    )
    assert json.loads(exported.stdout)["rows_written"] == len(CHATS)
    assert [json.loads(line) for line in out.read_text().splitlines()] == CHATS
    missing = server.cli("report", "ds_missing", *flags, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: 404: ")
    shown = server.cli("datasets", "upload", str(source), "--name", "again", *flags)
    assert "ingest" in shown.stderr and shown.stdout.strip().endswith("succeeded  9 rows")
    listed = server.cli("datasets", "list", *flags).stdout.splitlines()
    assert listed[0].split()[:3] == ["id", "name", "status"] and len(listed) == 3
    names = [d["name"] for d in json.loads(server.cli("datasets", "list", "--json", *flags).stdout)]
    assert names == ["again", "colours"]
    rows = server.cli("datasets", "rows", ds["id"], "--limit", "2", *flags).stdout.splitlines()
    assert [json.loads(r) for r in rows] == CHATS[:2]
    assert "succeeded" in server.cli("datasets", "show", ds["id"], *flags).stdout
    server.cli("datasets", "delete", ds["id"], *flags)
    gone = server.cli("datasets", "show", ds["id"], *flags, check=False)
    assert gone.returncode == 1 and gone.stderr == f"error: 404: Dataset {ds['id']} not found.\n"
    bad = server.cli("datasets", "upload", str(tmp_path / "missing.jsonl"), *flags, check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error: ")


def test_logs_through_the_client_and_the_cli(server: LiveServer, gm: Client) -> None:
    key = server.new_key()
    entries = [
        {
            "gateway_id": "support",
            "provider": "openai",
            "model": "gpt-4o-mini" if i % 2 else "gpt-4o",
            "request": {"messages": [{"role": "user", "content": f"refund order {i}"}]},
            "response": {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]
            },
            "tokens_in": 10,
            "tokens_out": 2,
            "success": i != 4,
        }
        for i in range(7)
    ]
    with Client(server.base_url, key["api_key"]) as mine:
        made = mine.request("POST", "/logs", json={"logs": entries})["ids"]
        listed = list(mine.logs.list("support", page_size=2))  # four pages
        assert sorted(log["id"] for log in listed) == sorted(made)
        minis = list(mine.logs.list("support", model="gpt-4o-mini"))
        assert {log["model"] for log in minis} == {"gpt-4o-mini"} and len(minis) == 3
        assert [log["success"] for log in mine.logs.list("support", success=False)] == [False]
        assert mine.logs.get(made[0])["tokens_in"] == 10
    with pytest.raises(NotFoundError):  # another account's gateway
        list(gm.logs.list("support"))
    flags = ("--url", server.base_url, "--api-key", key["api_key"])
    table = server.cli("logs", "list", "support", "--model", "gpt-4o", *flags).stdout.splitlines()
    assert table[0].split()[:4] == ["id", "created", "provider", "model"] and len(table) == 5
    as_json = json.loads(
        server.cli("logs", "list", "support", "--limit", "3", "--json", *flags).stdout
    )
    assert len(as_json) == 3
    missing = server.cli("logs", "list", "nowhere", *flags, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: 404")
