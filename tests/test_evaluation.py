"""Every new version is evaluated: the Adaption SDK's `get_evaluation` and
`wait_for_evaluation`, the native report and flags, the CLI, on both backends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pytest
from tensorzero import TensorZeroGateway

from tests.quality.corpus import clean_rows, jsonl
from tests.quality.planted import CHECKS, plant
from tests.support import GRISTMILL, Backend, LiveServer, native_client, start_server
from tests.test_tensorzero_door import chat

TOKEN_LIMIT = 1000
MALFORMED = [b'{"messages": [}\n', b'{"messages": []}\n', b"[1, 2, 3]\n"]


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp(f"evaluation-{backend.name}")
    live = start_server(
        path, backend.env, extra_env={"GRISTMILL_MAX_EXAMPLE_TOKENS": str(TOKEN_LIMIT)}
    )
    yield live
    live.stop()


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key()


@pytest.fixture(scope="module")
def client(server: LiveServer, key: dict[str, str]) -> adaption.Adaption:
    return adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)


def upload(client: adaption.Adaption, body: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(body)
    dataset_id = client.datasets.upload_file(path).dataset_id
    done = client.datasets.wait_for_completion(
        dataset_id, initial_interval=0.1, max_interval=0.3, timeout=120
    )
    assert done.status == "succeeded"
    return dataset_id


def evaluated(client: adaption.Adaption, dataset_id: str) -> Any:
    return client.datasets.wait_for_evaluation(
        dataset_id, initial_interval=0.2, max_interval=0.5, timeout=180
    )


@pytest.fixture(scope="module")
def planted(
    client: adaption.Adaption, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, set[int]]]:
    """A 300-row file with every kind of defect planted, and three malformed lines at the
    end (lines 301-303), which ingest rejects: the `format` check's rows."""
    rows, lines = plant(300, {check: 4 for check in CHECKS})
    body = jsonl(rows) + b"".join(MALFORMED)
    dataset_id = upload(client, body, tmp_path_factory.mktemp("planted"), "planted")
    return dataset_id, {**lines, "format": {301, 302, 303}}


def all_flags(http: httpx.Client, dataset_id: str, **params: Any) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/datasets/{dataset_id}/flags", params=query)
        assert page.status_code == 200, page.text
        flags += page.json()["flags"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return flags


def test_adaption_sdk_waits_for_the_evaluation_and_reads_it(
    client: adaption.Adaption, planted: tuple[str, dict[str, set[int]]]
) -> None:
    dataset_id, lines = planted
    ev = evaluated(client, dataset_id)
    assert ev.status == "succeeded"
    assert ev.quality is not None and ev.raw_results is not None
    report = ev.raw_results
    assert ev.quality.grade_before == report["grade"] and ev.quality.grade_before in "ABCDE"
    assert ev.quality.score_before == report["score"]
    assert report["rows"] == 303
    by_check = {c["check"]: c for c in report["checks"]}
    assert set(by_check) >= {*CHECKS, "format"}
    lost = [c["points_lost"] for c in report["checks"]]
    assert lost == sorted(lost, reverse=True)
    for check, planted_lines in lines.items():
        entry = by_check[check]
        assert entry["flagged"] == len(planted_lines), (check, entry)
        assert {e["line"] for e in entry["examples"]} <= planted_lines
        assert entry["reason"].startswith(f"{len(planted_lines)} of ")
    assert "hold personal data (" in by_check["pii"]["reason"]
    assert by_check["format"]["rows_checked"] == 303
    summary = client.datasets.get(dataset_id).evaluation_summary
    assert summary is not None and summary.grade_before == report["grade"]


def test_native_report_and_every_flag(
    server: LiveServer, key: dict[str, str], planted: tuple[str, dict[str, set[int]]]
) -> None:
    dataset_id, lines = planted
    with native_client(server, key) as http:
        report = http.get(f"/datasets/{dataset_id}/evaluation").json()
        assert report["status"] == "succeeded"
        for field in ("version_id", "score", "grade", "rows", "checks"):
            assert report[field] is not None
        for entry in report["checks"]:
            assert set(entry) >= {
                "check",
                "rows_checked",
                "flagged",
                "rate",
                "threshold",
                "weight",
                "score",
                "points_lost",
                "reason",
                "examples",
            }
        flags = all_flags(http, dataset_id)
        found: dict[str, set[int]] = {}
        for flag in flags:
            assert set(flag) == {"line", "datapoint_id", "check", "detail"}
            found.setdefault(flag["check"], set()).add(flag["line"])
            if flag["check"] == "format":
                assert flag["datapoint_id"] is None  # rejected: never a datapoint
            else:
                assert flag["datapoint_id"]
        assert found == {check: rows for check, rows in lines.items() if rows}
        pii = all_flags(http, dataset_id, check="pii")
        assert {f["line"] for f in pii} == lines["pii"] and {f["check"] for f in pii} == {"pii"}
        assert all("@" not in f["detail"] for f in pii)


def test_bad_flag_queries_and_other_accounts(
    server: LiveServer, planted: tuple[str, dict[str, set[int]]], key: dict[str, str]
) -> None:
    dataset_id, _ = planted
    with native_client(server, key) as http:
        for params, param in (
            ({"check": "vibes"}, "check"),
            ({"cursor": "abc"}, "cursor"),
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
        ):
            r = http.get(f"/datasets/{dataset_id}/flags", params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.json()["error"]["param"] == param
        assert http.get("/datasets/ds_nope/evaluation").status_code == 404
    stranger = server.new_key()
    with native_client(server, stranger) as http:
        for path in ("evaluation", "flags"):
            r = http.get(f"/datasets/{dataset_id}/{path}")
            assert r.status_code == 404 and r.json()["error"]["param"] == "dataset_id"
        assert http.post(f"/datasets/{dataset_id}/evaluation").status_code == 404
    with pytest.raises(adaption.NotFoundError):
        adaption.Adaption(
            api_key=stranger["api_key"], base_url=server.base_url, max_retries=0
        ).datasets.get_evaluation(dataset_id)


def test_clean_data_grades_well(client: adaption.Adaption, tmp_path: Path) -> None:
    dataset_id = upload(client, jsonl(clean_rows(200, seed=3)), tmp_path, "clean")
    ev = evaluated(client, dataset_id)
    assert ev.status == "succeeded" and ev.quality is not None
    assert ev.quality.grade_before in ("A", "B"), ev.raw_results
    assert all(c["flagged"] == 0 for c in ev.raw_results["checks"])  # type: ignore[index]


def test_a_dataset_without_a_version_is_snapshotted_and_evaluated(
    server: LiveServer, key: dict[str, str]
) -> None:
    """TensorZero datapoints make no version; asking for an evaluation cuts one first."""
    tz = TensorZeroGateway.build_http(gateway_url=server.base_url, api_key=key["api_key"])
    name = f"tz-eval-{time.monotonic_ns()}"
    rows = clean_rows(12, seed=5)
    tz.create_datapoints(
        dataset_name=name,
        requests=[chat(r["messages"][0]["content"], r["messages"][1]["content"]) for r in rows],
    )
    with native_client(server, key) as http:
        listed = http.get("/datasets", params={"q": name}).json()["data"]
        (ds,) = listed
        assert http.get(f"/datasets/{ds['id']}/evaluation").json()["status"] == "skipped"
        asked = http.post(f"/datasets/{ds['id']}/evaluation")
        assert asked.status_code == 202 and asked.json()["status"] in ("pending", "running")
        again = http.post(f"/datasets/{ds['id']}/evaluation").json()  # nothing new queued
        assert again["evaluation_id"] == asked.json()["evaluation_id"]
        deadline = time.monotonic() + 120
        while (report := http.get(f"/datasets/{ds['id']}/evaluation").json())["status"] in (
            "pending",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert report["status"] == "succeeded" and report["rows"] == 12
        shown = http.get(f"/datasets/{ds['id']}").json()
        assert report["version_id"] == shown["head_version_id"]
        assert shown["evaluation_summary"] == {
            "evaluation_id": report["evaluation_id"],
            "version_id": report["version_id"],
            "status": "succeeded",
            "score": report["score"],
            "grade": report["grade"],
        }


def test_cli_prints_the_report(
    server: LiveServer, key: dict[str, str], planted: tuple[str, dict[str, set[int]]]
) -> None:
    import subprocess

    dataset_id, _ = planted
    env = {**server.env, "GRISTMILL_URL": server.base_url, "GRISTMILL_API_KEY": key["api_key"]}
    table = subprocess.run(
        [*GRISTMILL, "evaluate", dataset_id], env=env, capture_output=True, text=True, check=True
    ).stdout
    with native_client(server, key) as http:
        report = http.get(f"/datasets/{dataset_id}/evaluation").json()
    assert table.startswith(f"grade {report['grade']}  score {report['score']:.1f}/10")
    for entry in report["checks"]:
        assert entry["check"] in table
        if entry["flagged"]:
            assert entry["reason"] in table
    raw = subprocess.run(
        [*GRISTMILL, "evaluate", dataset_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(raw) == report
    missing = subprocess.run(
        [*GRISTMILL, "evaluate", "ds_missing"], env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0 and missing.stderr.startswith("error: 404")
    assert len(missing.stderr.strip().splitlines()) == 1


def test_an_empty_dataset_is_skipped_not_graded(server: LiveServer, key: dict[str, str]) -> None:
    tz = TensorZeroGateway.build_http(gateway_url=server.base_url, api_key=key["api_key"])
    name = f"tz-empty-{time.monotonic_ns()}"
    ids = tz.create_datapoints(dataset_name=name, requests=[chat("Hello there, who are you?")]).ids
    tz.delete_datapoints(dataset_name=name, ids=ids)
    with native_client(server, key) as http:
        (ds,) = http.get("/datasets", params={"q": name}).json()["data"]
        http.post(f"/datasets/{ds['id']}/evaluation")
        deadline = time.monotonic() + 60
        while (report := http.get(f"/datasets/{ds['id']}/evaluation").json())["status"] in (
            "pending",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert report["status"] == "skipped" and report["grade"] is None
    assert "no rows" in report["error"]
    ev = adaption.Adaption(
        api_key=key["api_key"], base_url=server.base_url, max_retries=0
    ).datasets.wait_for_evaluation(ds["id"], initial_interval=0.1, timeout=30)
    assert ev.status == "skipped" and "no rows" in str(ev.message)  # type: ignore[attr-defined]
