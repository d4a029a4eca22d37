"""Adaptation runs through the official `adaption` SDK and the native door, against a live
server whose model provider is a real local chat-completions server (tests/stub_model_server):
estimates, recipes, untrusted model output, retries, budget, cancel, idempotency, and the
grade before and after; on both backends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pytest
from cloudflare import Cloudflare

from tests.quality.corpus import documented
from tests.stub_model_server import ModelServer, run_env
from tests.support import Backend, LiveServer, native_client, start_server

CLEAN_ROWS = 24
# rows whose prompt makes the model misbehave, and the reason each is flagged with
FAULTS = {
    "[[empty]]": "empty text",
    "[[length]]": "cut off",
    "[[refuse]]": "refused",
    "[[echo]]": "echoed",
    "[[garbage]]": "not a chat completion",
    "[[slow]]": "no answer after 4 attempts",  # each attempt times out
}
RECOVERED = ("[[429]]", "[[500]]")  # answered on a retry
MAPPING = {"prompt": "prompt", "completion": "completion"}


@pytest.fixture(scope="module")
def model(backend: Backend) -> Iterator[ModelServer]:
    """One per backend, so that each counts only its own server's calls."""
    with ModelServer(delay=3.0) as m:
        yield m


@pytest.fixture(scope="module")
def server(
    backend: Backend, model: ModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp(f"runs-{backend.name}")
    live = start_server(path, backend.env, run_env(model, timeout=1.0))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def key(server: LiveServer) -> dict[str, str]:
    return server.new_key()


@pytest.fixture(scope="module")
def client(server: LiveServer, key: dict[str, str]) -> adaption.Adaption:
    return adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)


def rows(n: int, markers: tuple[str, ...] = (), start: int = 0) -> list[dict[str, str]]:
    pool = documented()[start : start + n + len(markers)]
    out = [{"prompt": f"What does {name} do?", "completion": doc} for name, doc in pool]
    for i, marker in enumerate(markers):
        out[n + i]["prompt"] += f" {marker}"
    return out


def upload(client: adaption.Adaption, tmp_path: Path, data: list[dict[str, str]]) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in data))
    dataset_id = client.datasets.upload_file(path).dataset_id
    done = wait(client, dataset_id)
    assert done.status == "succeeded", done
    client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=120)
    return dataset_id


def wait(client: adaption.Adaption, dataset_id: str) -> Any:
    return client.datasets.wait_for_completion(
        dataset_id, initial_interval=0.2, max_interval=0.5, timeout=180
    )


def native_rows(http: httpx.Client, dataset_id: str) -> list[dict[str, Any]]:
    page = http.get(f"/datasets/{dataset_id}/rows", params={"limit": 1000}).json()
    return [r["record"] for r in page["data"]]


def run_of(http: httpx.Client, dataset_id: str, run_id: str) -> dict[str, Any]:
    resp = http.get(f"/datasets/{dataset_id}/runs/{run_id}")
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def settled(http: httpx.Client, dataset_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = run_of(http, dataset_id, run_id)
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.2)
    raise TimeoutError(run_id)


def test_estimate_then_run_rephrase_and_rewrite(
    server: LiveServer,
    model: ModelServer,
    client: adaption.Adaption,
    key: dict[str, str],
    tmp_path: Path,
) -> None:
    markers = (*FAULTS, *RECOVERED)
    data = rows(CLEAN_ROWS, markers)
    dataset_id = upload(client, tmp_path, data)
    params: dict[str, Any] = {
        "column_mapping": MAPPING,
        "recipe_specification": {"recipes": {"prompt_rephrase": True, "deduplication": False}},
        "brand_controls": {"length": "concise", "blueprint": "You are a patient teacher."},
    }
    before = model.requests
    with pytest.warns(DeprecationWarning):  # `run` is the SDK's deprecated name of `adapt`
        quote = client.datasets.run(dataset_id, estimate=True, **params)
    assert quote.run_id is None and quote.estimate is True
    assert quote.estimated_credits_consumed > 0 and quote.estimated_minutes > 0
    assert model.requests == before, "an estimate must not call the model"

    started = client.datasets.adapt(dataset_id, **params)
    assert started.run_id and started.estimate is False
    assert started.estimated_credits_consumed == pytest.approx(quote.estimated_credits_consumed)
    done = wait(client, dataset_id)
    assert done.status == "succeeded", done
    ds = client.datasets.get(dataset_id)
    assert ds.run_id == started.run_id

    http = native_client(server, key)
    run = run_of(http, dataset_id, started.run_id)
    assert run["status"] == "succeeded" and run["result_version_id"]
    report = run["report"]
    assert report["rows_in"] == report["rows_out"] == len(data)
    rephrase, completion = report["recipes"]["prompt_rephrase"], report["recipes"]["completion"]
    good = CLEAN_ROWS + len(RECOVERED)
    assert rephrase["rows_changed"] == good and completion["rows_changed"] == good
    assert rephrase["rows_flagged"] == completion["rows_flagged"] == len(FAULTS)
    flagged = {(f["line"], f["recipe"]): f["reason"] for f in report["flagged"]}
    for i, (marker, needle) in enumerate(FAULTS.items()):
        line = CLEAN_ROWS + i + 1
        assert needle in flagged[(line, "prompt_rephrase")], (marker, flagged)
    assert report["retries"] >= len(RECOVERED) * 2

    after = native_rows(http, dataset_id)
    assert len(after) == len(data)
    for record, original in zip(after, data, strict=True):
        if any(m in original["prompt"] for m in FAULTS):
            assert record == original  # an unusable answer leaves the row as it was
        else:
            assert record["prompt"] == f"Could you tell me: {original['prompt']}"
            assert record["completion"] != original["completion"]
    # one successful call per row and recipe, retries included
    for record, original in zip(after, data, strict=True):
        if not any(m in original["prompt"] for m in FAULTS):
            assert model.successes[("prompt_rephrase", original["prompt"])] == 1
            assert model.successes[("completion", record["prompt"])] == 1

    # the estimate holds; the cost is the sum of the run's logs, each tagged with the run
    actual = report["actual"]
    assert abs(actual["credits"] - quote.estimated_credits_consumed) <= (
        0.25 * quote.estimated_credits_consumed
    ), (actual, quote)
    cf = Cloudflare(api_token=key["api_key"], base_url=f"{server.base_url}/client/v4")
    logs = list(cf.ai_gateway.logs.list("gristmill-runs", account_id=key["account_id"]))
    mine = [
        log for log in logs if json.loads(log.metadata or "{}").get("gristmill_run_id") == run["id"]
    ]
    assert sum(1 for log in mine if log.success) == report["calls"]
    assert sum(log.cost or 0 for log in mine if log.success) == pytest.approx(report["cost_usd"])

    graded = client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=120)
    assert graded.status == "succeeded"
    assert graded.quality is not None
    assert graded.quality.score_before is not None and graded.quality.score_after is not None
    summary = client.datasets.get(dataset_id).evaluation_summary
    assert summary is not None and summary.grade_after == graded.quality.grade_after


@pytest.mark.parametrize(
    ("body", "param", "needle"),
    [
        ({}, "column_mapping", "required"),
        ({"column_mapping": {"chat": "messages", "prompt": "prompt"}}, "column_mapping.prompt",
         "exclusive"),
        ({"column_mapping": {"universal_prompt": "Answer it."}}, "column_mapping.context",
         "context"),
        ({"column_mapping": {"completion": "completion"}}, "column_mapping", "one of"),
        ({"column_mapping": {"prompt": "question"}}, "column_mapping.prompt", "'question'"),
        ({"column_mapping": MAPPING, "brand_controls": {"length": "epic"}},
         "brand_controls.length", "minimal"),
        ({"column_mapping": MAPPING, "brand_controls": {"hallucination_mitigation": True}},
         "brand_controls.hallucination_mitigation", "GRISTMILL_SEARCH_URL"),
        ({"column_mapping": MAPPING, "recipe_specification": {"recipes": {"magic": True}}},
         "recipe_specification.recipes.magic", "Unknown recipe"),
        ({"column_mapping": MAPPING, "language_expansion": {"type": "translate",
          "languages": ["klingon"], "sample_rate": 0.5}},
         "language_expansion.languages[0]", "klingon"),
        ({"column_mapping": MAPPING, "language_expansion": {"type": "localize",
          "pairs": [{"country": "ZZ", "language": "es"}], "sample_rate": 0.5}},
         "language_expansion.pairs[0].country", "ZZ"),
        ({"column_mapping": MAPPING, "language_expansion": {"type": "translate",
          "languages": ["es"], "sample_rate": 2}},
         "language_expansion.sample_rate", "0.01"),
        ({"column_mapping": MAPPING, "job_specification": {"max_rows": 0}},
         "job_specification.max_rows", "at least 1"),
    ],
)  # fmt: skip
def test_bad_parameters_are_400s_naming_the_field(
    server: LiveServer,
    client: adaption.Adaption,
    key: dict[str, str],
    small: str,
    body: dict[str, Any],
    param: str,
    needle: str,
) -> None:
    dataset_id = small
    resp = httpx.post(
        f"{server.base_url}/api/v1/datasets/{dataset_id}/run",
        json=body,
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["param"] == param and needle in err["message"], err


@pytest.fixture(scope="module")
def small(client: adaption.Adaption, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A graded six-row dataset for the tests that need any dataset."""
    return upload(client, tmp_path_factory.mktemp("small"), rows(6, start=200))


def test_idempotency_key_returns_the_first_run(client: adaption.Adaption, small: str) -> None:
    dataset_id = small
    job = {"idempotency_key": "nightly-2026-12-01"}
    first = client.datasets.adapt(dataset_id, column_mapping=MAPPING, job_specification=job)
    second = client.datasets.adapt(dataset_id, column_mapping=MAPPING, job_specification=job)
    assert first.run_id and second.run_id == first.run_id
    assert wait(client, dataset_id).status == "succeeded"


def test_budget_cap_stops_the_run_and_keeps_the_head(
    server: LiveServer,
    client: adaption.Adaption,
    key: dict[str, str],
    tmp_path: Path,
) -> None:
    dataset_id = upload(client, tmp_path, rows(20, start=240))
    http = native_client(server, key)
    head = http.get(f"/datasets/{dataset_id}").json()["head_version_id"]
    body = {
        "column_mapping": MAPPING,
        "brand_controls": {"length": "detailed"},
        "max_cost": 0.002,
    }
    run = http.post(f"/datasets/{dataset_id}/runs", json=body).json()
    done = settled(http, dataset_id, run["id"])
    assert done["status"] == "failed" and "budget" in done["error"], done
    assert done["report"]["cost_usd"] <= 0.002
    assert http.get(f"/datasets/{dataset_id}").json()["head_version_id"] == head
    status = client.datasets.get_status(dataset_id)
    assert status.status == "failed" and status.error_data is not None
    assert status.error_data.code == "run_failed"


def test_cancel_keeps_the_previous_version(
    server: LiveServer,
    client: adaption.Adaption,
    key: dict[str, str],
    tmp_path: Path,
) -> None:
    data = [{**r, "prompt": r["prompt"] + " [[slow]]"} for r in rows(40, start=270)]
    dataset_id = upload(client, tmp_path, data)
    http = native_client(server, key)
    head = http.get(f"/datasets/{dataset_id}").json()["head_version_id"]
    run = http.post(
        f"/datasets/{dataset_id}/runs",
        json={
            "column_mapping": MAPPING,
            "recipe_specification": {"recipes": {"prompt_rephrase": True}},
        },
    ).json()
    assert client.datasets.get_status(dataset_id).status == "running"
    resp = http.post(f"/datasets/{dataset_id}/runs/{run['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["cancel_requested"] is True
    done = settled(http, dataset_id, run["id"])
    assert done["status"] == "cancelled"
    assert http.get(f"/datasets/{dataset_id}").json()["head_version_id"] == head
    assert client.datasets.get_status(dataset_id).status == "succeeded"
    again = http.post(f"/datasets/{dataset_id}/runs/{run['id']}/cancel")
    assert again.status_code == 409


def test_preference_pairs_safety_and_translation(
    server: LiveServer,
    client: adaption.Adaption,
    key: dict[str, str],
    tmp_path: Path,
) -> None:
    data = rows(10, start=320)
    dataset_id = upload(client, tmp_path, data)
    started = client.datasets.adapt(
        dataset_id,
        column_mapping=MAPPING,
        training_type="preference_pairs",
        brand_controls={"safety_categories": ["violence"]},
        language_expansion={"type": "translate", "languages": ["es", "de"], "sample_rate": 0.5},
    )
    assert wait(client, dataset_id).status == "succeeded"
    http = native_client(server, key)
    report = run_of(http, dataset_id, started.run_id or "")["report"]
    records = native_rows(http, dataset_id)
    translated = [r for r in records if r.get("language")]
    assert len(records) == len(data) + len(translated) == report["rows_out"]
    assert {r["language"] for r in translated} <= {"es", "de"} and translated
    originals = [r for r in records if not r.get("language")]
    for record, source in zip(originals, data, strict=True):
        assert record["preferred_output"][0]["content"] != source["completion"]
        assert record["non_preferred_output"][0]["content"] == source["completion"]
        assert record["prompt_safety_issues"] == [] and record["response_safety_issues"] == []
    for record in translated:
        lang = {"es": "Spanish", "de": "German"}[record["language"]]
        assert record["prompt"].startswith(f"[{lang}] ")


def test_other_accounts_runs_are_not_found(server: LiveServer, small: str) -> None:
    dataset_id = small
    stranger = server.new_key()
    other = adaption.Adaption(api_key=stranger["api_key"], base_url=server.base_url, max_retries=0)
    with pytest.raises(adaption.NotFoundError):
        other.datasets.adapt(dataset_id, column_mapping=MAPPING)
    http = native_client(server, stranger)
    assert http.get(f"/datasets/{dataset_id}/runs/run_missing").status_code == 404


def test_without_a_model_only_deterministic_recipes_run(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    live = start_server(tmp_path_factory.mktemp(f"runs-no-model-{backend.name}"), backend.env)
    try:
        key = live.new_key()
        client = adaption.Adaption(api_key=key["api_key"], base_url=live.base_url, max_retries=0)
        data = rows(12, start=340)
        data += [dict(data[0]), dict(data[1])]  # two exact duplicates
        dataset_id = upload(client, tmp_path_factory.mktemp("dups"), data)
        with pytest.raises(adaption.BadRequestError) as err:
            client.datasets.adapt(
                dataset_id,
                column_mapping=MAPPING,
                recipe_specification={"recipes": {"prompt_rephrase": True}},
            )
        assert err.value.body["error"]["code"] == "no_model_configured"  # type: ignore[index]
        assert "GRISTMILL_RUN_MODEL" in err.value.message
        started = client.datasets.adapt(dataset_id, column_mapping=MAPPING)
        assert wait(client, dataset_id).status == "succeeded"
        assert client.datasets.get(dataset_id).row_count == len(data) - 2
        http = native_client(live, key)
        report = run_of(http, dataset_id, started.run_id or "")["report"]
        assert report["duplicates_removed"] == 2 and report["calls"] == 0
    finally:
        live.stop()


def test_cli_estimates_runs_and_reports(
    server: LiveServer, key: dict[str, str], client: adaption.Adaption, tmp_path: Path
) -> None:
    dataset_id = upload(client, tmp_path, rows(8, start=360))
    flags = ("--url", server.base_url, "--api-key", key["api_key"])
    quote = server.cli("run", dataset_id, "--recipe", "prompt_rephrase", "--estimate", *flags)
    assert "credits" in quote.stdout and "model calls over 8 rows" in quote.stdout, quote.stdout
    done = server.cli("run", dataset_id, "--recipe", "prompt_rephrase", "--json", *flags)
    run = json.loads(done.stdout)
    assert run["status"] == "succeeded" and run["report"]["rows_out"] == 8
    assert "run pending" in done.stderr and "0/8 rows" in done.stderr  # the progress bar
    table = server.cli("run", dataset_id, "--no-dedup", *flags)
    assert "run_" in table.stdout and "succeeded" in table.stdout, table.stdout
    missing = server.cli("run", "ds_missing", *flags, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: 404"), missing.stderr


def test_translate_and_localize_make_new_datasets(
    server: LiveServer, client: adaption.Adaption, key: dict[str, str], tmp_path: Path
) -> None:
    data = rows(12, start=370)
    source = upload(client, tmp_path, data)
    quote = client.datasets.translate(source, languages=["fr"], sample_rate=0.5, estimate=True)
    assert quote.dataset_id is None and quote.estimate is True
    assert quote.estimated_new_rows > 0 and quote.estimated_credits_consumed > 0
    made = client.datasets.translate(
        source, languages=["fr", "zh"], sample_rate=0.5, idempotency_key="fr-zh-once"
    )
    assert made.dataset_id and made.dataset_id != source and made.status == "pending"
    assert wait(client, made.dataset_id).status == "succeeded"
    copy = client.datasets.get(made.dataset_id)
    assert copy.kind == "translated" and copy.source_dataset_id == source
    http = native_client(server, key)
    records = native_rows(http, made.dataset_id)
    added = [r for r in records if r.get("language")]
    assert copy.row_count == len(records) == len(data) + len(added) and added
    assert {r["language"] for r in added} <= {"fr", "zh-Hans"}
    assert len(native_rows(http, source)) == len(data)  # the source is untouched
    again = client.datasets.translate(
        source, languages=["fr", "zh"], sample_rate=0.5, idempotency_key="fr-zh-once"
    )
    assert again.dataset_id == made.dataset_id and again.estimated_credits_consumed == 0

    local = client.datasets.localize(
        source, pairs=[{"country": "BR", "language": "pt"}], sample_rate=1.0
    )
    assert local.dataset_id and wait(client, local.dataset_id).status == "succeeded"
    localized = native_rows(http, local.dataset_id)
    assert len(localized) == 2 * len(data)
    assert {r.get("language") for r in localized} == {None, "pt-BR"}
    assert client.datasets.get(local.dataset_id).kind == "localized"

    with pytest.raises(adaption.BadRequestError) as err:
        client.datasets.translate(source, languages=["xx"], sample_rate=0.5)
    assert err.value.body["error"]["param"] == "languages[0]"  # type: ignore[index]


def test_custom_eval_scores_before_and_after(
    model: ModelServer, client: adaption.Adaption, tmp_path: Path
) -> None:
    dataset_id = upload(client, tmp_path, rows(6, start=390))
    with pytest.raises(adaption.ConflictError):  # nothing adapted yet
        client.datasets.custom_evals.create(dataset_id, judge_prompt="Is it helpful?")
    client.datasets.adapt(dataset_id, column_mapping=MAPPING, brand_controls={"length": "concise"})
    assert wait(client, dataset_id).status == "succeeded"
    rubric = "Judge how helpful the response is."
    made = client.datasets.custom_evals.create(dataset_id, judge_prompt=rubric, name="helpful")
    assert made.status == "pending" and made.name == "helpful"
    deadline = time.monotonic() + 60
    ev = made
    while ev.status not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        ev = client.datasets.custom_evals.get(made.custom_eval_id, dataset_id=dataset_id)
    assert ev.status == "succeeded", ev
    assert ev.scored_rows == 6
    # the stub judge gives longer answers higher scores: the adapted ones are longer
    assert ev.score_before is not None and ev.score_after is not None
    assert ev.score_after > ev.score_before and ev.improvement_percent is not None
    listed = client.datasets.custom_evals.list(dataset_id).items
    assert [e.custom_eval_id for e in listed] == [made.custom_eval_id]
    with pytest.raises(adaption.BadRequestError):
        client.datasets.custom_evals.create(dataset_id, judge_prompt="  ")
    with pytest.raises(adaption.NotFoundError):
        client.datasets.custom_evals.get("ceval_missing", dataset_id=dataset_id)


def test_reasoning_max_rows_blueprint_and_the_stored_expansion(
    server: LiveServer,
    model: ModelServer,
    client: adaption.Adaption,
    key: dict[str, str],
    tmp_path: Path,
) -> None:
    data = rows(5, ("[[badjson]]",), start=180)
    dataset_id = upload(client, tmp_path, data)
    http = native_client(server, key)
    blueprint = "Answer as a museum guide would."
    first = client.datasets.adapt(
        dataset_id,
        column_mapping=MAPPING,
        recipe_specification={"recipes": {"reasoning_traces": True}},
        brand_controls={"blueprint": blueprint},
    )
    assert wait(client, dataset_id).status == "succeeded"
    report = run_of(http, dataset_id, first.run_id or "")["report"]
    assert report["recipes"]["reasoning_traces"]["reasons"] == {"the answer is not valid JSON": 1}
    records = native_rows(http, dataset_id)
    assert all(r["completion"].startswith("<think>\n") for r in records[:5])
    assert "<think>" not in records[5]["completion"]  # the [[badjson]] row's reasoning failed
    assert any(blueprint.encode() in body for body in model.seen)  # the completion's system

    second = client.datasets.adapt(
        dataset_id,
        column_mapping=MAPPING,
        recipe_specification={"recipes": {"prompt_rephrase": True}},
        job_specification={"max_rows": 2},
    )
    assert wait(client, dataset_id).status == "succeeded"
    assert run_of(http, dataset_id, second.run_id or "")["report"]["rows_processed"] == 2
    now = native_rows(http, dataset_id)
    assert [r["prompt"].startswith("Could you tell me:") for r in now] == [True, True] + [False] * 4

    def added_by_estimate() -> int:
        body = {"column_mapping": MAPPING, "estimate": True}
        return int(
            http.post(f"/datasets/{dataset_id}/runs", json=body).json()["estimate"]["rows_added"]
        )

    expansion = {"type": "translate", "languages": ["it"], "sample_rate": 1.0}
    client.datasets.adapt(dataset_id, column_mapping=MAPPING, language_expansion=expansion)
    assert wait(client, dataset_id).status == "succeeded"
    # a copy of each row but the [[badjson]] one, whose translation is not JSON either
    assert client.datasets.get(dataset_id).row_count == 11
    assert added_by_estimate() == 11  # omitted: the stored expansion still applies
    client.datasets.adapt(
        dataset_id,
        column_mapping=MAPPING,
        recipe_specification={"recipes": {"deduplication": False}},  # the stub's "[Italian] …"
        language_expansion=None,  # copies would count as near duplicates of their sources
    )
    assert wait(client, dataset_id).status == "succeeded"
    assert client.datasets.get(dataset_id).row_count == 11  # null: no expansion ...
    assert added_by_estimate() == 0  # ... and none stored any more


def test_deleting_a_dataset_takes_its_runs(
    server: LiveServer, client: adaption.Adaption, key: dict[str, str], tmp_path: Path
) -> None:
    dataset_id = upload(client, tmp_path, rows(3, start=395))
    started = client.datasets.adapt(dataset_id, column_mapping=MAPPING)
    assert wait(client, dataset_id).status == "succeeded"
    http = native_client(server, key)
    assert http.get(f"/datasets/{dataset_id}/runs/{started.run_id}").status_code == 200
    client.datasets.delete(dataset_id)
    assert http.get(f"/datasets/{dataset_id}/runs/{started.run_id}").status_code == 404


def test_a_run_starts_from_the_live_rows_not_a_stale_head(
    server: LiveServer, client: adaption.Adaption, key: dict[str, str], tmp_path: Path
) -> None:
    chats = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in (r.values() for r in rows(4, start=300))
    ]
    path = tmp_path / "chats.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in chats))
    made = client.datasets.upload_file(path, name="live-rows-chat")
    assert wait(client, made.dataset_id).status == "succeeded"
    http = native_client(server, key)
    doomed = http.get(f"/datasets/{made.dataset_id}/rows").json()["data"][0]["id"]
    gone = httpx.request(  # deleted through the TensorZero door, after version 1 was cut
        "DELETE",
        f"{server.base_url}/v1/datasets/live-rows-chat/datapoints",
        json={"ids": [doomed]},
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
    assert gone.status_code == 200 and gone.json()["num_deleted_datapoints"] == 1, gone.text
    client.datasets.adapt(made.dataset_id, column_mapping={"chat": "messages"})
    assert wait(client, made.dataset_id).status == "succeeded"
    ids = [r["id"] for r in http.get(f"/datasets/{made.dataset_id}/rows").json()["data"]]
    assert len(ids) == 3 and doomed not in ids


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"column_mapping": {"prompt": "prompt"}, "brand_controls": {"length": []}}',
         "brand_controls.length"),
        (b'{"column_mapping": {"prompt": "prompt"}, "job_specification": {"max_rows": 1e999}}',
         "job_specification.max_rows"),
        (b'{"column_mapping": {"prompt": "prompt"}, "max_cost": NaN}', "max_cost"),
        (b'{"column_mapping": {"prompt": 7}}', "column_mapping.prompt"),
        (b'{"column_mapping": "prompt"}', "column_mapping"),
    ],
)  # fmt: skip
def test_odd_json_is_a_400_not_a_500(
    server: LiveServer, key: dict[str, str], small: str, raw: bytes, param: str
) -> None:
    resp = httpx.post(
        f"{server.base_url}/api/v1/datasets/{small}/run",
        content=raw,
        headers={"Authorization": f"Bearer {key['api_key']}", "content-type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param
