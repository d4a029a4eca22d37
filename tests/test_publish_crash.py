"""A publication whose worker is SIGKILLed while its commit is landing on the Hub is retried
by another worker, which finds that commit by the publication's title: the Hub (a second
Gristmill) holds the data once, in one version."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.jobs.kinds import register_all
from gristmill.jobs.worker import Worker
from gristmill.services.accounts import Principal, issue_key
from gristmill.services.datasets import datasets
from gristmill.services.publishing import publications
from gristmill.store.metadata.models import Job, Publication
from tests.support import GRISTMILL, Backend, LiveServer, start_server
from tests.test_jobs import open_hub, signal_group, start_worker, wait_until


@pytest.fixture
def hub(backend: Backend, tmp_path: Path) -> Iterator[Hub]:
    h = open_hub(backend, tmp_path, {})
    yield h
    h.close()


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[LiveServer]:
    """The Hub, with no worker of its own until the test starts one: a commit to it waits."""
    live = start_server(tmp_path / "peer", {}, args=("--no-worker",))
    yield live
    live.stop()


def test_sigkilled_publication_commits_once(hub: Hub, peer: LiveServer, tmp_path: Path) -> None:
    issued = issue_key(hub, account_name="publisher")
    caller = Principal(issued.account_id, issued.identity_id, "user", issued.key_id)
    source = tmp_path / "rows.jsonl"
    rows = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(40)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = datasets.create_dataset(hub, caller, name="answers", origin="native")
    key = f"datasets/{caller.account_id}/{ds.id}/source/rows.jsonl"
    hub.blobs.put(key, [source.read_bytes()])
    datasets.start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename="rows.jsonl")
    register_all()
    for _ in range(10):  # the ingest and its evaluation, here, before the publication
        if not Worker(hub, "setup").run_once():
            break
    owner = peer.new_key("hubteam")
    spec = {
        "repo_id": "hubteam/answers",
        "endpoint": f"{peer.base_url}/hf",
        "token": owner["api_key"],
    }
    pub = publications.start_publication(hub, caller.account_id, ds.id, "huggingface", spec)
    peer_http = httpx.Client(
        base_url=f"{peer.base_url}/native/v1",
        headers={"Authorization": f"Bearer {owner['api_key']}"},
    )

    def peer_dataset() -> dict[str, object] | None:
        found = peer_http.get("/datasets", params={"q": "answers"}).json()["data"]
        return found[0] if found else None

    first = start_worker(hub, "doomed", tmp_path / "w1.log")
    try:
        # the commit has reached the Hub, which cannot finish it without a worker
        wait_until(
            lambda: (d := peer_dataset()) is not None and d["status"] == "pending",
            what="the commit to be waiting on the Hub's ingest",
        )
        signal_group(first, signal.SIGKILL)
        first.wait()
    finally:
        signal_group(first, signal.SIGKILL)
    with open(tmp_path / "peer-worker.log", "ab") as log:
        peer_worker = subprocess.Popen([*GRISTMILL, "worker"], env=peer.env, stdout=log, stderr=log)
    second = None
    try:
        landed = wait_until(
            lambda: (d := peer_dataset()) is not None and d["status"] == "succeeded" and d,
            what="the Hub to finish the first attempt's commit",
        )
        second = start_worker(hub, "rescuer", tmp_path / "w2.log")

        def publication() -> Publication:
            with hub.db.session() as s:
                found = s.get(Publication, pub.id)
                assert found is not None
                s.expunge(found)
                return found

        final = wait_until(
            lambda: (p := publication()).status in ("succeeded", "failed") and p,
            what="the retried publication to finish",
        )
    finally:
        if second is not None:
            second.terminate()
            second.wait(10)
        peer_worker.terminate()
        peer_worker.wait(10)
    assert final.status == "succeeded", final.error
    assert final.secrets is None  # forgotten once it ended
    versions = peer_http.get(f"/datasets/{landed['id']}/versions").json()["data"]
    assert [v["row_count"] for v in versions] == [len(rows)]  # one commit, whole
    with hub.db.session() as s:
        job = s.scalar(select(Job).where(Job.id == final.job_id))
    assert job is not None and job.attempts == 2
