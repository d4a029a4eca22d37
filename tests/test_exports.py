"""Exports in training formats through the native door, the Adaption SDK's download and signed
links, on both backends: shapes per format, rows a format cannot hold reported by line, a
deterministic train/validation split, any version, and the cut before an export."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.ingest.openai_checks import check_messages
from gristmill.services.datasets import export_fast
from tests.support import Backend, LiveServer, native_client, start_server

LINK_SECONDS = 6


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp(f"exports-{backend.name}"),
        backend.env,
        {"GRISTMILL_EXPORT_URL_EXPIRY_SECONDS": str(LINK_SECONDS)},
    )
    yield live
    live.stop()


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key()


def _upload(server: LiveServer, key: dict[str, str], path: Path, rows: list[Any]) -> str:
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset_id = client.datasets.upload_file(path, name=path.stem).dataset_id
    done = client.datasets.wait_for_completion(dataset_id, initial_interval=0.1, timeout=60)
    assert done.status == "succeeded"
    return dataset_id


def _finished(http: httpx.Client, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    started = http.post(f"/datasets/{dataset_id}/exports", json=body)
    assert started.status_code == 202, started.text
    export = started.json()
    deadline = time.monotonic() + 60
    while export["status"] in ("pending", "running"):
        assert time.monotonic() < deadline, export
        time.sleep(0.1)
        export = http.get(f"/datasets/{dataset_id}/exports/{export['id']}").json()
    assert export["status"] == "succeeded", export
    return export


def _lines(url: str) -> list[dict[str, Any]]:
    resp = httpx.get(url)  # no key: the link is the permission
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.text.splitlines()]


def _sorted_json(values: list[Any]) -> list[str]:
    return sorted(json.dumps(v, sort_keys=True) for v in values)


def _cookbook_problems(example: dict[str, Any]) -> list[str]:
    """The format checks of OpenAI's cookbook "Data preparation and analysis for chat model
    fine-tuning", as written there."""
    problems = []
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["missing_messages_list"]
    for m in messages:
        if "role" not in m or ("content" not in m and "tool_calls" not in m):
            problems.append("message_missing_key")
        if any(
            k
            not in (
                "role",
                "content",
                "name",
                "function_call",
                "weight",
                "tool_calls",
                "tool_call_id",
            )
            for k in m
        ):
            problems.append("message_unrecognized_key")
        if m.get("role") not in ("system", "user", "assistant", "function", "tool"):
            problems.append("unrecognized_role")
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            problems.append("missing_content")
    if not any(m.get("role") == "assistant" for m in messages):
        problems.append("example_missing_assistant_message")
    return problems


# escapes, non-ASCII text and a date-like string take the fast path like plain text does
ANSWERS = {5: '10, "tén" \\ ✓\n', 6: "2026-12-01"}
CHATS: list[dict[str, Any]] = [
    *[
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": ANSWERS.get(i, f"{2 * i}")},
            ]
        }
        for i in range(18)
    ],
    {  # line 19: a tool call and its result
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees"},
            {"role": "assistant", "content": "It is 4 degrees in Oslo."},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    },
    {  # line 20: two turns
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Goodbye."},
        ]
    },
]


def test_chat_exports_split_and_links(
    server: LiveServer, key: dict[str, str], tmp_path: Path
) -> None:
    dataset_id = _upload(server, key, tmp_path / "sums.jsonl", CHATS)
    http = native_client(server, key)
    export = _finished(
        http, dataset_id, {"format": "openai-chat", "split": {"validation": 0.25, "seed": 7}}
    )
    files = {f["split"]: f for f in export["files"]}
    assert set(files) == {"train", "validation"}
    assert (files["train"]["rows"], files["validation"]["rows"]) == (15, 5)
    assert (export["rows_written"], export["rows_skipped"]) == (20, 0)
    train, validation = _lines(files["train"]["url"]), _lines(files["validation"]["url"])
    assert len(train) == 15 and len(validation) == 5
    for example in train + validation:
        assert check_messages(example["messages"]) == [], example
        assert _cookbook_problems(example) == [], example
    assert sorted(json.dumps(e, sort_keys=True) for e in train + validation) == sorted(
        json.dumps(c, sort_keys=True) for c in CHATS
    )  # every row once, exactly as uploaded

    again = _finished(
        http, dataset_id, {"format": "openai-chat", "split": {"validation": 5, "seed": 7}}
    )
    same = {f["split"]: f for f in again["files"]}
    assert _lines(same["validation"]["url"]) == validation  # 25 % of 20 = 5 rows, same seed
    other = _finished(
        http, dataset_id, {"format": "openai-chat", "split": {"validation": 5, "seed": 8}}
    )
    moved = _lines({f["split"]: f for f in other["files"]}["validation"]["url"])
    assert moved != validation and len(moved) == 5

    url = files["train"]["url"]
    # a Gristmill link, or the S3 store's own presigned GET: either way it is signed and expires
    tampered = re.sub(r"(?i)(expires=)(\d+)", r"\g<1>9\2", url)
    assert tampered != url and httpx.get(tampered).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403
    time.sleep(LINK_SECONDS + 1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    if url.startswith(server.base_url):
        assert expired.json()["error"]["code"] == "link_expired"

    sharegpt = _lines(_finished(http, dataset_id, {"format": "sharegpt"})["files"][0]["url"])
    assert sharegpt[0]["conversations"] == [
        {"from": "system", "value": "You are terse."},
        {"from": "human", "value": "What is 0 plus 0?"},
        {"from": "gpt", "value": "0"},
    ]
    assert [t["from"] for t in sharegpt[18]["conversations"]] == [
        "human",
        "function_call",
        "observation",
        "gpt",
    ]
    alpaca = _finished(http, dataset_id, {"format": "alpaca"})
    assert (alpaca["rows_written"], alpaca["rows_skipped"]) == (18, 2)
    assert sorted(s["line"] for s in alpaca["skipped"]) == [19, 20]
    assert _lines(alpaca["files"][0]["url"])[1] == {
        "instruction": "What is 1 plus 1?",
        "input": "",
        "output": "2",
        "system": "You are terse.",
    }
    dpo = _finished(http, dataset_id, {"format": "openai-preference"})
    assert (dpo["rows_written"], dpo["rows_skipped"]) == (0, 20)
    assert "no rejected answer" in dpo["skipped"][0]["reason"]

    parquet = _finished(http, dataset_id, {"format": "parquet"})
    table = pq.read_table(io.BytesIO(httpx.get(parquet["files"][0]["url"]).content))
    assert table.num_rows == 20
    assert str(table.schema.field("messages").type).startswith("list<")  # typed, not JSON text
    assert table.column("messages")[0].as_py()[1]["content"] == "What is 0 plus 0?"
    typed = [  # a struct column holds every row's fields: the ones a row lacks are null
        [{k: v for k, v in m.items() if v is not None} for m in messages]
        for messages in table.column("messages").to_pylist()
    ]
    uploaded = [
        [{k: v for k, v in m.items() if v is not None} for m in c["messages"]] for c in CHATS
    ]
    assert _sorted_json(typed) == _sorted_json(uploaded)
    assert table.column("messages")[6].as_py()[2]["content"] == "2026-12-01"  # text, not a date


def _parquet_rows(export: dict[str, Any]) -> dict[str, list[Any]]:
    tables = {
        f["split"]: pq.read_table(io.BytesIO(httpx.get(f["url"]).content)) for f in export["files"]
    }
    return {split: t.column("messages").to_pylist() for split, t in tables.items()}


def test_plain_chats_to_parquet_in_one_pass(
    server: LiveServer, key: dict[str, str], tmp_path: Path
) -> None:
    """Plain chat rows only (the one-pass path): the same rows, types and split as any other
    way; a dataset whose non-plain row comes only after the first batch is written whole."""
    plain = CHATS[:18]
    dataset_id = _upload(server, key, tmp_path / "plain.jsonl", plain)
    http = native_client(server, key)
    split = {"validation": 0.25, "seed": 7}
    parquet = _finished(http, dataset_id, {"format": "parquet", "split": split})
    assert parquet["files"][0]["columns"] == {
        "messages": "list<item: struct<role: string, content: string>>"
    }
    got = _parquet_rows(parquet)
    chat = _finished(http, dataset_id, {"format": "openai-chat", "split": split})
    as_jsonl = {f["split"]: [r["messages"] for r in _lines(f["url"])] for f in chat["files"]}
    assert got == as_jsonl  # the same rows on the same side, in the same order
    assert _sorted_json(got["train"] + got["validation"]) == _sorted_json(
        [c["messages"] for c in plain]
    )
    fifth = next(m for m in got["train"] + got["validation"] if "5 plus 5" in m[1]["content"])
    assert fifth[2]["content"] == ANSWERS[5]  # escapes and non-ASCII intact

    many = [  # more rows than one export batch, the one with a tool call last
        {
            "messages": [
                {"role": "user", "content": f"Say {i}"},
                {"role": "assistant", "content": f"{i}."},
            ]
        }
        for i in range(10_000)
    ] + [CHATS[18]]
    dataset_id = _upload(server, key, tmp_path / "many.jsonl", many)
    export = _finished(http, dataset_id, {"format": "parquet"})
    assert (export["rows_written"], export["files"][0]["rows"]) == (10_001, 10_001)
    assert "tool_calls" in export["files"][0]["columns"]["messages"]
    rows = _parquet_rows(export)["train"]
    assert len(rows) == 10_001
    assert [{k: v for k, v in m.items() if v is not None} for m in rows[9_999]] == many[9_999][
        "messages"
    ]
    assert rows[-1][1]["tool_calls"][0]["function"]["name"] == "weather"


def test_generation_formats_and_downloads(
    server: LiveServer, key: dict[str, str], tmp_path: Path
) -> None:
    rows = [{"prompt": f"Capital of country {i}?", "completion": f"City {i}."} for i in range(6)]
    dataset_id = _upload(server, key, tmp_path / "capitals.jsonl", rows)
    http = native_client(server, key)

    resp = http.get(f"/datasets/{dataset_id}/download", params={"format": "prompt-completion"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-gristmill-rows-written"] == "6"
    assert resp.headers["x-gristmill-rows-skipped"] == "0"
    assert [json.loads(line) for line in resp.text.splitlines()] == rows
    chat = http.get(f"/datasets/{dataset_id}/download", params={"format": "openai-chat"})
    assert json.loads(chat.text.splitlines()[0]) == {
        "messages": [
            {"role": "user", "content": "Capital of country 0?"},
            {"role": "assistant", "content": "City 0."},
        ]
    }
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    via_sdk = client.datasets.download(dataset_id, file_format="alpaca")  # type: ignore[arg-type]
    assert json.loads(via_sdk.read().splitlines()[2]) == {
        "instruction": "Capital of country 2?",
        "input": "",
        "output": "City 2.",
    }
    tz = [
        json.loads(line)
        for line in http.get(
            f"/datasets/{dataset_id}/download", params={"format": "tensorzero"}
        ).text.splitlines()
    ]
    assert tz[0]["input"]["messages"][0]["content"] == [
        {"type": "text", "text": "Capital of country 0?"}
    ]
    assert tz[0]["output"] == [{"type": "text", "text": "City 0."}]


def test_export_any_version_and_the_cut_before(
    server: LiveServer, key: dict[str, str], tmp_path: Path
) -> None:
    dataset_id = _upload(server, key, tmp_path / "few.jsonl", CHATS[:6])
    http = native_client(server, key)
    v1 = http.get(f"/datasets/{dataset_id}/versions").json()["data"][0]["id"]
    first = http.get(f"/datasets/{dataset_id}/rows").json()["data"][0]["id"]
    gone = httpx.request(
        "DELETE",
        f"{server.base_url}/v1/datasets/few/datapoints",
        json={"ids": [first]},
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
    assert gone.status_code == 200 and gone.json()["num_deleted_datapoints"] == 1, gone.text
    latest = _finished(http, dataset_id, {"format": "jsonl"})  # the live rows: a cut first
    assert latest["version_id"] != v1 and latest["rows_written"] == 5
    head = http.get(f"/datasets/{dataset_id}/versions").json()["data"][0]
    assert (head["id"], head["reason"]) == (latest["version_id"], "snapshot")
    older = _finished(http, dataset_id, {"format": "jsonl", "version": v1})
    assert older["version_id"] == v1 and older["rows_written"] == 6
    again = _finished(http, dataset_id, {"format": "openai-chat"})  # nothing changed: no cut
    assert again["version_id"] == head["id"]
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    links = client.datasets.get_export_links(dataset_id)
    assert links.huggingface is None and links.kaggle is None
    files = links.model_extra["files"]  # type: ignore[index]
    assert [f["format"] for f in files] == ["openai-chat"] and len(_lines(files[0]["url"])) == 5
    stranger = adaption.Adaption(
        api_key=server.new_key()["api_key"], base_url=server.base_url, max_retries=0
    )
    with pytest.raises(adaption.NotFoundError):
        stranger.datasets.get_export_links(dataset_id)


def test_export_errors(server: LiveServer, key: dict[str, str], tmp_path: Path) -> None:
    dataset_id = _upload(server, key, tmp_path / "tiny.jsonl", CHATS[:2])
    http = native_client(server, key)
    for body, param in (
        ({"format": "docx"}, "format"),
        ({}, "format"),
        ({"format": "jsonl", "split": {"validation": 1.5}}, "split.validation"),
        ({"format": "jsonl", "split": {"validation": 0}}, "split.validation"),
        ({"format": "jsonl", "split": {"validation": 0.1, "seed": "x"}}, "split.seed"),
        ({"format": "jsonl", "split": 3}, "split"),
        ({"format": "jsonl", "version": 3}, "version"),
    ):
        resp = http.post(f"/datasets/{dataset_id}/exports", json=body)
        assert resp.status_code == 400 and resp.json()["error"]["param"] == param, (body, resp.text)
    missing = http.post(f"/datasets/{dataset_id}/exports", json={"format": "jsonl", "version": "x"})
    assert missing.status_code == 404
    assert http.get(f"/datasets/{dataset_id}/exports/exp_missing").status_code == 404
    assert (
        http.get(f"/datasets/{dataset_id}/download", params={"format": "docx"}).status_code == 400
    )
    done = _finished(http, dataset_id, {"format": "jsonl"})
    stranger = native_client(server, server.new_key())
    assert stranger.get(f"/datasets/{dataset_id}/exports/{done['id']}").status_code == 404
    assert (
        stranger.post(f"/datasets/{dataset_id}/exports", json={"format": "jsonl"}).status_code
        == 404
    )
    assert stranger.get(f"/datasets/{dataset_id}/download").status_code == 404
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    with pytest.raises(adaption.BadRequestError, match="openai-chat"):
        client.datasets.download(dataset_id, file_format="docx")  # type: ignore[arg-type]


def test_cli_export(server: LiveServer, key: dict[str, str], tmp_path: Path) -> None:
    dataset_id = _upload(server, key, tmp_path / "cli.jsonl", CHATS)
    flags = ("--url", server.base_url, "--api-key", key["api_key"])
    out = tmp_path / "out" / "sft.jsonl"
    out.parent.mkdir()
    done = server.cli(
        "export", dataset_id, "--format", "alpaca", "-o", str(out), "--validation", "4", *flags
    )
    train, validation = out.with_name("sft-train.jsonl"), out.with_name("sft-validation.jsonl")
    assert len(train.read_text().splitlines()) + len(validation.read_text().splitlines()) == 18
    assert len(validation.read_text().splitlines()) <= 4
    assert "2 rows cannot be expressed as alpaca" in done.stdout
    assert "skipped line 19" in done.stderr and "skipped line 20" in done.stderr
    report = json.loads(
        server.cli(
            "export", dataset_id, "--format", "openai-chat", "-o", str(out), "--json", *flags
        ).stdout
    )
    assert report["rows_written"] == 20 and len(out.read_text().splitlines()) == 20
    bad = server.cli(
        "export", "ds_missing", "--format", "jsonl", "-o", str(out), *flags, check=False
    )
    assert bad.returncode != 0 and bad.stderr == "error: 404: Dataset ds_missing not found.\n"


def test_a_long_row_keeps_its_batch_on_the_one_pass_way() -> None:
    """Arrow's JSON reader refuses a line longer than two of its blocks; a 3 MB answer among
    small rows must not send the batch (and so the whole export) the per-row way."""
    answers = ["x" * 3_000_000, *[f"answer {i}" for i in range(2_000)]]
    batch = pa.RecordBatch.from_pydict(
        {
            "kind": ["chat"] * len(answers),
            "input": [
                json.dumps({"messages": [{"role": "user", "content": "q"}]}, separators=(",", ":"))
            ]
            * len(answers),
            "output": [
                json.dumps([{"role": "assistant", "content": a}], separators=(",", ":"))
                for a in answers
            ],
            "extra": pa.nulls(len(answers), pa.string()),
            "tool_params": pa.nulls(len(answers), pa.string()),
            "output_schema": pa.nulls(len(answers), pa.string()),
        }
    )
    table = export_fast.plain_messages(batch)
    assert table is not None and table.num_rows == len(answers)
    assert [m[1]["content"] for m in table.column("messages").to_pylist()] == answers
