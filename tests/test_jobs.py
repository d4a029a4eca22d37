"""Jobs with real processes: a worker killed with SIGKILL mid-ingest is retried by another
worker, and the dataset ends with exactly the right rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gristmill.hub import Hub
from gristmill.services.accounts import Principal, issue_key
from gristmill.services.datasets import datasets
from gristmill.settings import Settings
from gristmill.store.metadata.models import Datapoint, Dataset, DatasetRowError, Job
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


@pytest.fixture
def hub(backend: Backend, tmp_path: Path) -> Iterator[Hub]:
    env = {
        **backend.env,
        "GRISTMILL_DATA_DIR": str(tmp_path / "data"),
        "GRISTMILL_JOB_LEASE_SECONDS": "2",
    }
    old = dict(os.environ)
    os.environ.update(env)
    try:
        h = Hub.open(Settings())
    finally:
        os.environ.clear()
        os.environ.update(old)
    h.env = {**old, **env}  # type: ignore[attr-defined]
    yield h
    h.close()


def start_worker(hub: Hub, name: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [*GRISTMILL, "worker", "--name", name], env=hub.env, stdout=fh, stderr=subprocess.STDOUT
        )  # type: ignore[attr-defined]


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
        first.send_signal(signal.SIGSTOP)  # frozen mid-job: it cannot finish before the kill
        assert progress() < ROWS, "the job finished before it could be killed; use more rows"
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
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
    [shown] = json.loads(listed.stdout)
    assert (shown["id"], shown["status"], shown["attempts"]) == (job.id, "succeeded", 2)
    assert shown["progress_done"] == shown["progress_total"] == ROWS
    watched = subprocess.run(
        [*GRISTMILL, "jobs", "watch", job.id], env=env, capture_output=True, text=True, timeout=60
    )
    assert watched.returncode == 0
    assert f"{ROWS:,}/{ROWS:,} rows" in watched.stdout and "100.0%" in watched.stdout
