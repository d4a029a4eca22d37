"""A run whose worker is SIGKILLed mid-run is retried by another worker: it resumes from
the checkpointed answers, the model is paid once per row and recipe, and the new version
holds every row once."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gristmill.hub import Hub
from gristmill.jobs.kinds import register_all
from gristmill.jobs.worker import Worker
from gristmill.services.accounts import Principal, issue_key
from gristmill.services.datasets import datasets
from gristmill.services.runs import runs
from gristmill.store.metadata.models import Datapoint, Job, Run, RunCall
from tests.quality.corpus import documented
from tests.stub_model_server import ModelServer, run_env
from tests.support import Backend
from tests.test_jobs import open_hub, signal_group, start_worker, wait_until

ROWS = 60
ANSWERED_BEFORE_THE_CRASH = 30


@pytest.fixture
def model() -> Iterator[ModelServer]:
    with ModelServer() as m:
        yield m


@pytest.fixture
def hub(backend: Backend, model: ModelServer, tmp_path: Path) -> Iterator[Hub]:
    h = open_hub(
        backend,
        tmp_path,
        {**run_env(model, timeout=10.0), "GRISTMILL_RUN_CONCURRENCY": "4"},
    )
    yield h
    h.close()


def test_sigkilled_run_resumes_without_paying_twice(
    hub: Hub, model: ModelServer, tmp_path: Path
) -> None:
    issued = issue_key(hub, account_name="runs")
    caller = Principal(issued.account_id, issued.identity_id, "user", issued.key_id)
    pool = documented()[:ROWS]
    source = tmp_path / "rows.jsonl"
    source.write_text(
        "".join(
            json.dumps({"prompt": f"What does {name} do?", "completion": doc}) + "\n"
            for name, doc in pool
        )
    )
    ds = datasets.create_dataset(hub, caller, name="to-adapt", origin="native")
    key = f"datasets/{caller.account_id}/{ds.id}/source/rows.jsonl"
    hub.blobs.put(key, [source.read_bytes()])
    datasets.start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename="rows.jsonl")
    register_all()
    for _ in range(10):  # the ingest and its evaluation, here, before the run
        if not Worker(hub, "setup").run_once():
            break
    body = {
        "column_mapping": {"prompt": "prompt", "completion": "completion"},
        "recipe_specification": {"recipes": {"prompt_rephrase": True}},
        "brand_controls": {"length": "minimal"},
    }
    started = runs.start_run(hub, caller.account_id, ds.id, body)
    assert started.run is not None
    run_id = started.run.id

    def answers_stored() -> int:
        with hub.db.session() as s:
            return s.scalar(select(func.count()).where(RunCall.run_id == run_id)) or 0

    def run() -> Run:
        with hub.db.session() as s:
            found = s.get(Run, run_id)
            assert found is not None
            return found

    model.hold_after = ANSWERED_BEFORE_THE_CRASH
    first = start_worker(hub, "doomed", tmp_path / "w1.log")
    try:
        wait_until(model.holding.is_set, what="the model to hold the rest of the calls")
        wait_until(
            lambda: answers_stored() == sum(model.successes.values()),
            what="every answer so far to be checkpointed",
        )
        signal_group(first, signal.SIGSTOP)  # frozen with calls in flight, then killed
        assert run().status == "running"
        paid_before = sum(model.successes.values())
        signal_group(first, signal.SIGKILL)
        first.wait()
    finally:
        signal_group(first, signal.SIGKILL)
        model.release.set()
    second = start_worker(hub, "rescuer", tmp_path / "w2.log")
    try:
        final = wait_until(
            lambda: (r := run()).status in ("succeeded", "failed") and r,
            what="the resumed run to finish",
        )
    finally:
        second.terminate()
        second.wait(10)
    assert final.status == "succeeded", final.error
    assert final.report is not None
    assert final.report["cached_calls"] == paid_before >= ANSWERED_BEFORE_THE_CRASH
    # the model answered each row's two requests exactly once, across both workers
    assert len(model.successes) == 2 * ROWS
    assert set(model.successes.values()) == {1}
    with hub.db.session() as s:
        prompts = list(
            s.scalars(
                select(Datapoint.input).where(
                    Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None)
                )
            )
        )
        job = s.get(Job, final.job_id)
    assert sorted(p["prompt"] for p in prompts) == sorted(
        f"Could you tell me: What does {name} do?" for name, _ in pool
    )
    assert job is not None and job.attempts == 2
