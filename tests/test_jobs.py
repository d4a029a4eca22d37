"""Jobs with real processes: a worker killed with SIGKILL mid-ingest (or mid-evaluation) is
retried by another worker, and the dataset ends with exactly the right rows (and flags)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gristmill.hub import Hub
from gristmill.jobs import queue, worker
from gristmill.jobs.kinds import register_all
from gristmill.jobs.worker import Worker
from gristmill.services.accounts import Principal, issue_key
from gristmill.services.datasets import datasets
from gristmill.services.quality import reports
from gristmill.settings import Settings
from gristmill.store.metadata.models import (
    Datapoint,
    Dataset,
    DatasetRowError,
    Evaluation,
    EvaluationFlag,
    Job,
)
from tests.support import GRISTMILL, Backend

ROWS = 60_000
BAD_LINES = {17, 29_999, 59_000}


def write_chat_jsonl(path: Path) -> None:
    with open(path, "w") as fh:
        for i in range(1, ROWS + 1):
            if i in BAD_LINES:
                fh.write('{"messages": [{"role": "robot", "content": "beep"}]}\n')
                continue
            row = {
                "messages": [
                    {"role": "system", "content": "You answer arithmetic questions."},
                    {"role": "user", "content": f"What is {i} times 3?"},
                    {"role": "assistant", "content": f"{i * 3}"},
                ]
            }
            fh.write(json.dumps(row) + "\n")


def open_hub(backend: Backend, tmp_path: Path, settings: dict[str, str]) -> Hub:
    """A hub in this process on the backend, with a 2 s job lease and these settings; its
    `env` is what a worker process needs to share it."""
    env = {
        **backend.env,
        "GRISTMILL_DATA_DIR": str(tmp_path / "data"),
        "GRISTMILL_JOB_LEASE_SECONDS": "2",
        **settings,
    }
    old = dict(os.environ)
    os.environ.update(env)
    try:
        h = Hub.open(Settings())
    finally:
        os.environ.clear()
        os.environ.update(old)
    h.env = {**old, **env}  # type: ignore[attr-defined]
    return h


@pytest.fixture
def hub(backend: Backend, tmp_path: Path) -> Iterator[Hub]:
    # evaluations in one process, in tasks of 5,000 rows: one at a time, slow to finish
    h = open_hub(
        backend,
        tmp_path,
        {"GRISTMILL_EVALUATION_PROCESSES": "1", "GRISTMILL_EVALUATION_TASK_ROWS": "5000"},
    )
    yield h
    h.close()


def start_worker(hub: Hub, name: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [*GRISTMILL, "worker", "--name", name],
            env=hub.env,  # type: ignore[attr-defined]
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal to its group reaches any process it started
        )


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def wait_until(pred, timeout: float = 120.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def test_sigkilled_worker_is_retried_without_duplicates(hub: Hub, tmp_path: Path) -> None:
    issued = issue_key(hub, account_name="jobs")
    caller = Principal(
        account_id=issued.account_id,
        identity_id=issued.identity_id,
        identity_kind="user",
        key_id=issued.key_id,
    )
    source = tmp_path / "chat.jsonl"
    write_chat_jsonl(source)
    ds = datasets.create_dataset(hub, caller, name="arith", origin="native")
    key = f"datasets/{caller.account_id}/{ds.id}/source/chat.jsonl"
    hub.blobs.put(key, [source.read_bytes()])
    job = datasets.start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename="chat.jsonl")

    def progress() -> int:
        with hub.db.session() as s:
            row = s.get(Dataset, ds.id)
            assert row is not None
            return row.progress_done

    first = start_worker(hub, "doomed", tmp_path / "w1.log")
    try:
        wait_until(lambda: progress() >= 4000, what="the first worker to make progress")
        signal_group(first, signal.SIGSTOP)  # frozen mid-job: it cannot finish before the kill
        assert progress() < ROWS, "the job finished before it could be killed; use more rows"
        signal_group(first, signal.SIGKILL)
        first.wait()
    finally:
        signal_group(first, signal.SIGKILL)
    with hub.db.session() as s:
        written = s.scalar(
            select(func.count()).select_from(Datapoint).where(Datapoint.dataset_id == ds.id)
        )
        assert written and written > 0  # the dead worker left partial rows behind
        assert s.get(Dataset, ds.id).status == "running"  # type: ignore[union-attr]

    second = start_worker(hub, "rescuer", tmp_path / "w2.log")
    try:
        final = wait_until(
            lambda: (
                (d := datasets.get_dataset(hub, caller.account_id, ds.id)).status
                in ("succeeded", "failed")
                and d
            ),
            what="the retry to finish",
        )
    finally:
        second.terminate()
        second.wait(10)
    assert final.status == "succeeded", final.error
    assert final.row_count == ROWS - len(BAD_LINES)
    assert final.invalid_row_count == len(BAD_LINES)
    with hub.db.session() as s:
        count = s.scalar(
            select(func.count()).select_from(Datapoint).where(Datapoint.dataset_id == ds.id)
        )
        lines = s.scalars(select(Datapoint.source_line).where(Datapoint.dataset_id == ds.id))
        distinct = len(set(lines))
        bad = sorted(
            s.scalars(select(DatasetRowError.line).where(DatasetRowError.dataset_id == ds.id))
        )
        done = s.get(Job, job.id)
    assert count == distinct == ROWS - len(BAD_LINES)
    assert bad == sorted(BAD_LINES)
    assert done is not None and done.status == "succeeded" and done.attempts == 2
    assert done.progress_done == ROWS

    env = hub.env  # type: ignore[attr-defined]
    listed = subprocess.run(
        [*GRISTMILL, "jobs", "list", "--account", "jobs", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [shown] = [j for j in json.loads(listed.stdout) if j["kind"] == "ingest"]
    assert (shown["id"], shown["status"], shown["attempts"]) == (job.id, "succeeded", 2)
    assert shown["progress_done"] == shown["progress_total"] == ROWS
    watched = subprocess.run(
        [*GRISTMILL, "jobs", "watch", job.id], env=env, capture_output=True, text=True, timeout=60
    )
    assert watched.returncode == 0
    assert f"{ROWS:,}/{ROWS:,} rows" in watched.stdout and "100.0%" in watched.stdout
    # the module's next test shares this store on PostgreSQL: its queued evaluation must not
    # keep the next test's workers busy, and with the dataset gone it fails at once
    datasets.delete_dataset(hub, caller.account_id, ds.id)


EVAL_ROWS = 30_000
REPEATS = set(range(1_000, EVAL_ROWS + 1, 1_000))  # each repeats the line before it


def test_sigkilled_evaluation_is_retried_without_duplicate_flags(hub: Hub, tmp_path: Path) -> None:
    issued = issue_key(hub, account_name="evaluations")
    caller = Principal(issued.account_id, issued.identity_id, "user", issued.key_id)
    source = tmp_path / "rows.jsonl"
    with open(source, "w") as fh:
        for i in range(1, EVAL_ROWS + 1):
            n = i - 1 if i in REPEATS else i
            answer = f"{n} times 7 is {n * 7}, and {n} squared is {n * n}."
            row = {
                "messages": [
                    {"role": "user", "content": f"Tell me about the number {n}."},
                    {"role": "assistant", "content": answer},
                ]
            }
            fh.write(json.dumps(row) + "\n")
    ds = datasets.create_dataset(hub, caller, name="numbers", origin="native")
    key = f"datasets/{caller.account_id}/{ds.id}/source/rows.jsonl"
    hub.blobs.put(key, [source.read_bytes()])
    datasets.start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename="rows.jsonl")
    register_all()
    for _ in range(10):  # the ingest, here (after any job an earlier test left): it queues
        if datasets.get_dataset(hub, caller.account_id, ds.id).status == "succeeded":
            break
        Worker(hub, "ingester").run_once()
    evaluation = wait_until(
        lambda: reports.head_evaluation(hub, datasets.get_dataset(hub, caller.account_id, ds.id)),
        what="the evaluation to be queued",
    )

    def state() -> Evaluation:
        with hub.db.session() as s:
            found = s.get(Evaluation, evaluation.id)
            assert found is not None
            return found

    first = start_worker(hub, "doomed", tmp_path / "e1.log")
    try:
        wait_until(lambda: state().progress_done > 0, what="the evaluation to make progress")
        signal_group(first, signal.SIGSTOP)
        assert state().status == "running", "it finished before it could be killed"
        signal_group(first, signal.SIGKILL)
        first.wait()
    finally:
        signal_group(first, signal.SIGKILL)
    second = start_worker(hub, "rescuer", tmp_path / "e2.log")
    try:
        final = wait_until(
            lambda: (e := state()).status in ("succeeded", "failed") and e,
            what="the retried evaluation to finish",
        )
    finally:
        second.terminate()
        second.wait(10)
    assert final.status == "succeeded", final.error
    assert final.report is not None
    by_check = {c["check"]: c for c in final.report["checks"]}
    assert by_check["exact_duplicate"]["flagged"] == len(REPEATS)
    with hub.db.session() as s:
        flags = list(
            s.execute(
                select(EvaluationFlag.check, EvaluationFlag.line).where(
                    EvaluationFlag.evaluation_id == evaluation.id
                )
            )
        )
        job = s.get(Job, evaluation.job_id)
    assert sorted(line for check, line in flags if check == "exact_duplicate") == sorted(REPEATS)
    assert len(flags) == len(set(flags)) == sum(c["flagged"] for c in final.report["checks"])
    assert job is not None and job.status == "succeeded" and job.attempts == 2


def test_a_job_queued_here_wakes_this_process_worker(backend: Backend, tmp_path: Path) -> None:
    """A worker idle for a 60 s poll starts a job queued in its own process at once: the
    commit that queued it wakes the worker, also from a savepoint (not when the savepoint is
    released, but when the transaction commits); a transaction that rolled back wakes nobody."""
    hub = open_hub(backend, tmp_path, {"GRISTMILL_JOB_POLL_INTERVAL_SECONDS": "60"})
    ran: list[dict[str, object]] = []
    worker.register("test_wake", lambda ctx: ran.append(ctx.job.params) or {"ok": True})
    stop = threading.Event()
    idle = threading.Thread(target=Worker(hub).run_forever, args=(stop,), daemon=True)
    try:
        idle.start()
        time.sleep(0.5)  # the worker has found nothing and waits out its poll
        with contextlib.suppress(RuntimeError), hub.db.session() as s:
            s.add(queue.new_job(hub, account_id="acct_none", kind="test_wake", params={"n": 0}))
            s.flush()
            raise RuntimeError("rolled back: no job")
        assert not queue.QUEUED.is_set()
        with hub.db.session() as s:
            with s.begin_nested():
                s.add(queue.new_job(hub, account_id="acct_none", kind="test_wake", params={"n": 1}))
            assert not queue.QUEUED.is_set()  # a savepoint's release is not the commit
        wait_until(lambda: ran, timeout=10, what="the commit to wake the worker")
        job = queue.enqueue(hub, account_id="acct_none", kind="test_wake", params={"n": 2})

        def succeeded() -> bool:
            with hub.db.session() as s:
                return s.get_one(Job, job.id).status == "succeeded"

        wait_until(succeeded, timeout=10, what="the woken worker to run the job")
        assert sorted(p["n"] for p in ran) == [1, 2]  # type: ignore[type-var]
    finally:
        worker.request_stop(stop)
        idle.join(timeout=5)
        worker.HANDLERS.pop("test_wake", None)
        hub.close()
