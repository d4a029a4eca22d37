"""The job that fills a log dataset with its matching logs, after a create or an update.

It works page by page (`log_rows.add_missing_page`), each page in its own transaction under
the gateway's exclusive lock: logs recorded meanwhile wait for one page at most, never for
the whole dataset, and either join through `add_new_logs` or are found by a later page. The
dataset is `running` meanwhile, with its progress (logs seen / logs matching at the start);
the TensorZero door shows its rows once it is `succeeded`. A newer job for the same dataset
(an update while this one runs) supersedes this one: the dataset's `job_id` names the job
that owns it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.jobs import queue
from gristmill.jobs.worker import JobContext, register
from gristmill.services.logs import gateways
from gristmill.services.logs import rows as log_rows
from gristmill.store.metadata.models import Dataset, Job, utcnow

KIND = "log_dataset_sync"


def queue_sync(hub: Hub, s: Session, ds: Dataset) -> Job:
    """Queue the dataset's sync in the caller's transaction and make it the dataset's job."""
    job = queue.new_job(hub, account_id=ds.account_id, kind=KIND, params={"dataset_id": ds.id})
    s.add(job)
    ds.job_id, ds.status, ds.error = job.id, "pending", None
    ds.progress_done, ds.progress_total = 0, None
    return job


def _owned(s: Session, dataset_id: str, job_id: str) -> Dataset | None:
    """The dataset, locked, if this job still owns it (not deleted, not superseded)."""
    ds = s.scalar(select(Dataset).where(Dataset.id == dataset_id).with_for_update())
    return ds if ds is not None and ds.job_id == job_id else None


def run_sync(ctx: JobContext) -> dict[str, Any]:
    hub, job = ctx.hub, ctx.job
    dataset_id = str(job.params["dataset_id"])
    with hub.db.session() as s:
        ds = _owned(s, dataset_id, job.id)
        if ds is None:
            return {"superseded": True}
        account_id, gateway_id = ds.account_id, str(ds.gateway_id)
        total = log_rows.count_matching(s, ds)
        ds.status, ds.progress_done, ds.progress_total = "running", 0, total
    ctx.progress(0, total)
    after, seen, added = "", 0, 0
    staled: int | None = None  # done once, in the first page's transaction
    while True:
        with hub.db.session() as s:
            gateways.lock_gateway(s, account_id, gateway_id, exclusive=True)
            ds = _owned(s, dataset_id, job.id)
            if ds is None:
                return {"superseded": True}
            if staled is None:
                staled = log_rows.stale_unmatched(s, ds)
            page = log_rows.add_missing_page(s, ds, after)
            if page is not None:
                after, page_seen, page_added = page
                seen, added = seen + page_seen, added + page_added
            total = max(total, seen)
            ds.progress_done, ds.progress_total = seen, total
            if page is None:
                ds.status, ds.updated_at = "succeeded", utcnow()
                break
        ctx.progress(seen, total)
    ctx.progress(seen, total)
    return {"logs": seen, "rows_added": added, "rows_staled": staled}


def give_up_sync(hub: Hub, job: Job, message: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Dataset)
            .where(Dataset.id == job.params.get("dataset_id"), Dataset.job_id == job.id)
            .values(status="failed", error=message, updated_at=utcnow())
        )


def register_log_dataset_sync() -> None:
    register(KIND, run_sync, give_up_sync)
