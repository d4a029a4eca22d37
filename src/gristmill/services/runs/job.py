"""The `run` job: a dataset's head version through the run's recipes, into a new version.

The new version is built in a temp Parquet file and published in one transaction that also
swaps the dataset's live rows, makes the version its head and queues its evaluation, so it
appears once and whole. Model answers are checkpointed as they arrive (see `model_client`),
so a retried job pays only for the rows the crashed one had not finished. A cancelled run,
or one stopped by its budget, publishes nothing: the previous version stays the head.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import anyio
from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.ids import uuid7
from gristmill.jobs.worker import JobContext, register
from gristmill.pipeline.checks.duplicates import ExactDuplicate, NearDuplicate
from gristmill.pipeline.runners.local import run_local
from gristmill.services.datasets import versions
from gristmill.services.errors import InvalidRequest
from gristmill.services.quality.evaluation import queue_evaluation
from gristmill.services.runs.engine import Adapter, RunTally, adapt_in_order
from gristmill.services.runs.model_client import ModelClient, run_calls
from gristmill.services.runs.spec import RunSpec, model_of
from gristmill.store.metadata.models import (
    Dataset,
    DatasetVersion,
    Evaluation,
    Job,
    Run,
    utcnow,
)

log = logging.getLogger("gristmill.runs")
PROGRESS_EVERY = 0.5


def run_summary(run: Run, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the dataset shows of its latest run."""
    return {
        "run_id": run.id,
        "status": run.status,
        "processed_rows": run.progress_done,
        "total_rows": run.progress_total,
        "result_version_id": run.result_version_id,
        "error": run.error,
        "before": before,
    }


def show_run(s: Any, run: Run) -> None:
    """Mirror the run on its dataset: the source's `run_summary`, or, for a run that makes a
    new dataset (translate, localize), that dataset's own status and progress."""
    if run.target_dataset_id is not None:
        target = s.get(Dataset, run.target_dataset_id)
        if target is not None:
            target.status = run.status if run.status in ("pending", "running") else "failed"
            target.error = run.error or f"The run that makes this dataset was {run.status}."
            target.progress_done, target.progress_total = run.progress_done, run.progress_total
            if run.status in ("pending", "running"):
                target.error = None
        return
    ds = s.get(Dataset, run.dataset_id)
    if ds is not None and (ds.run_summary or {}).get("run_id") in (None, run.id):
        before = (ds.run_summary or {}).get("before")
        ds.run_summary = run_summary(run, before)


def _duplicates(path: str) -> set[str]:
    out = run_local(path, [ExactDuplicate(), NearDuplicate()], processes=1)
    return {f.datapoint_id for o in out.outputs.values() for f in o.flags}


def _rows(path: str) -> Iterator[dict[str, Any]]:
    return versions.iter_snapshot_rows(path)  # type: ignore[arg-type]


def _progress(hub: Hub, run_id: str, done: int, total: int) -> bool:
    """Record progress; True when the run has been asked to stop."""
    with hub.db.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            return True
        run.progress_done, run.progress_total = done, total
        show_run(s, run)
        return run.cancel_requested


def _finish(hub: Hub, run_id: str, status: str, error: str | None, report: dict[str, Any]) -> None:
    with hub.db.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            return
        run.status, run.error, run.report, run.finished_at = status, error, report, utcnow()
        run.cost_usd = report.get("cost_usd", 0.0)
        show_run(s, run)


def run_adaptation(ctx: JobContext) -> dict[str, Any]:
    hub = ctx.hub
    run_id = ctx.job.params["run_id"]
    with hub.db.session() as s:
        run = s.get(Run, run_id)
        if run is None or run.account_id != ctx.job.account_id:
            raise InvalidRequest(f"Run {run_id} no longer exists.")
        if run.status in ("succeeded", "failed", "cancelled"):
            return {"run_id": run_id, "status": run.status}
        version = s.get(DatasetVersion, run.source_version_id)
        if version is None or s.get(Dataset, run.dataset_id) is None:
            raise InvalidRequest(f"The dataset of run {run_id} no longer exists.")
        if run.cancel_requested:
            run.status, run.finished_at = "cancelled", utcnow()
            show_run(s, run)
            return {"run_id": run_id, "status": "cancelled"}
        run.status, run.error = "running", None
        show_run(s, run)
        spec = RunSpec.from_json(run.params)
        account_id, estimate = run.account_id, run.estimate or {}
        source_id = run.dataset_id
        dataset_id = run.target_dataset_id or source_id  # where the version goes
        blob_key, total_rows = version.blob_key, version.row_count
    client = None
    if spec.needs_model():
        provider, model = model_of(spec, hub.settings)
        client = ModelClient(
            hub,
            account_id=account_id,
            run_id=run_id,
            provider=provider,
            model=model,
            max_cost=spec.max_cost,
            resume=ctx.job.attempts > 1,
        )
    started = time.monotonic()
    with versions.local_copy(hub, blob_key) as path, versions.SnapshotFile() as snap:
        drop = _duplicates(str(path)) if spec.deduplication else set()
        tally = RunTally(rows_in=total_rows, duplicates_removed=len(drop))
        cancelled = run_calls(
            _adapt_all, ctx, spec, client, str(path), drop, snap, tally, dataset_id, source_id
        )
        report = _report(spec, client, tally, estimate, time.monotonic() - started)
        if cancelled or (client is not None and client.stopped):
            status = "cancelled" if cancelled else "failed"
            reason = "The run was cancelled." if cancelled else client.stopped  # type: ignore[union-attr]
            _finish(hub, run_id, status, reason, report)
            return {"run_id": run_id, "status": status}
        version_id = _publish(ctx, run_id, dataset_id, account_id, snap, report)
    if version_id is None:
        _finish(hub, run_id, "cancelled", "The run was cancelled.", report)
        return {"run_id": run_id, "status": "cancelled"}
    return {"run_id": run_id, "status": "succeeded", "version_id": version_id}


async def _adapt_all(
    ctx: JobContext,
    spec: RunSpec,
    client: ModelClient | None,
    path: str,
    drop: set[str],
    snap: versions.SnapshotFile,
    tally: RunTally,
    dataset_id: str,
    source_id: str,
) -> bool:
    """Adapt every row into `snap`; True when the run was cancelled meanwhile."""
    hub, run_id = ctx.hub, ctx.job.params["run_id"]
    adapter = Adapter(spec, client)
    fresh_ids = dataset_id != source_id
    total = tally.rows_in
    limit = spec.max_rows
    seen = [0]

    def process(row: dict[str, Any]) -> bool:
        seen[0] += 1
        return limit is None or seen[0] <= limit

    window = 4 * hub.settings.run_concurrency
    done, last, cancelled = 0, 0.0, False
    batch: list[dict[str, Any]] = []
    try:
        rows = adapt_in_order(
            _rows(path), adapter, keep=lambda r: r["id"] not in drop, process=process,
            window=window,
        )  # fmt: skip
        async with aclosing(rows):
            async for source, outcome in rows:
                tally.add(source, outcome)
                if fresh_ids:  # a new dataset's rows are new datapoints
                    batch.extend({**r, "id": str(uuid7())} for r in outcome.rows)
                else:
                    batch.extend(outcome.rows)
                if len(batch) >= versions.BATCH:
                    snap.add(batch)
                    batch = []
                done += 1
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    ctx.progress(done + tally.duplicates_removed, total)
                    stop = await anyio.to_thread.run_sync(
                        _progress, hub, run_id, done + tally.duplicates_removed, total
                    )
                    if stop:
                        cancelled = True
                        if client is not None:
                            client.stop("The run was cancelled.")
                        else:
                            break
        snap.add(batch)
        tally.rows_processed = min(done, limit) if limit is not None else done
    finally:
        if client is not None:
            await client.aclose()
    if not cancelled:  # asked to stop at the very end: still cancelled
        cancelled = await anyio.to_thread.run_sync(_progress, hub, run_id, total, total)
    return cancelled


def _report(
    spec: RunSpec,
    client: ModelClient | None,
    tally: RunTally,
    estimate: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    recipes: dict[str, Any] = {}
    names = [r.name for r in spec.recipes()] if spec.mapping else []
    if spec.expansion:
        names.append("translate")
    for name in names + [n for n in tally.flagged if n not in names]:
        usage = client.usage.of(name) if client is not None else None
        recipes[name] = {
            "rows_changed": tally.changed.get(name, 0),
            "rows_flagged": tally.flagged.get(name, 0),
            "reasons": dict(tally.reasons.get(name, {})),
            "calls": usage.calls if usage else 0,
            "cached_calls": usage.cached if usage else 0,
            "tokens_in": usage.tokens_in if usage else 0,
            "tokens_out": usage.tokens_out if usage else 0,
            "cost_usd": round(usage.cost_usd, 6) if usage else 0.0,
        }
    cost = round(client.spent, 6) if client is not None else 0.0
    actual = {"cost_usd": cost, "credits": round(cost / 0.01, 2), "minutes": round(seconds / 60, 2)}
    if estimate.get("credits"):
        actual["credits_vs_estimate_percent"] = round(
            (actual["credits"] - estimate["credits"]) / estimate["credits"] * 100, 1
        )
    return {
        "rows_in": tally.rows_in,
        "rows_processed": tally.rows_processed,
        "rows_out": tally.rows_out,
        "duplicates_removed": tally.duplicates_removed,
        "recipes": recipes,
        "flagged": tally.examples,
        "calls": sum(r["calls"] for r in recipes.values()),
        "cached_calls": sum(r["cached_calls"] for r in recipes.values()),
        "retries": client.usage.retries if client is not None else 0,
        "failed_calls": client.usage.failed_calls if client is not None else 0,
        "tokens_in": sum(r["tokens_in"] for r in recipes.values()),
        "tokens_out": sum(r["tokens_out"] for r in recipes.values()),
        "cost_usd": cost,
        "estimate": estimate,
        "actual": actual,
    }


def _publish(
    ctx: JobContext,
    run_id: str,
    dataset_id: str,
    account_id: str,
    snap: versions.SnapshotFile,
    report: dict[str, Any],
) -> str | None:
    """Publish the version; None (and nothing published) when the run was cancelled or its
    dataset deleted meanwhile."""
    hub = ctx.hub
    version_id = "ver_" + run_id.removeprefix("run_")
    # the attempt in the key: an attempt that lost its lease deletes only its own blob
    key = f"versions/{account_id}/{dataset_id}/{version_id}.{ctx.job.attempts}.parquet"
    rows, size = snap.publish(hub, key)
    try:
        with hub.db.session() as s:
            ctx.hold_lease(s)
            ds = s.get(Dataset, dataset_id)
            run = s.get(Run, run_id)
            if ds is None or run is None or run.cancel_requested:
                hub.blobs.delete(key)
                return None
            versions.replace_live_rows(s, snap.path, account_id, dataset_id, run_id)
            versions.add_version(
                s,
                version_id=version_id,
                account_id=account_id,
                dataset_id=dataset_id,
                reason="run",
                key=key,
                rows=rows,
                size=size,
                stats={"rows": rows, "run_id": run_id},
            )
            before = s.scalar(
                select(Evaluation).where(Evaluation.version_id == run.source_version_id)
            )
            ds.head_version_id, ds.row_count, ds.updated_at = version_id, rows, utcnow()
            run.status, run.result_version_id, run.report = "succeeded", version_id, report
            run.cost_usd, run.finished_at = report["cost_usd"], utcnow()
            run.progress_done = run.progress_total or run.progress_done
            if run.target_dataset_id is not None:  # a new dataset: it is ready now
                ds.status, ds.error = "succeeded", None
                ds.progress_done = ds.progress_total = report["rows_in"]
            else:
                ds.run_summary = run_summary(
                    run,
                    {"score": before.score, "grade": before.grade, "version_id": before.version_id}
                    if before is not None and before.status == "succeeded"
                    else None,
                )
            queue_evaluation(hub, s, ds, version_id)
    except BaseException:
        hub.blobs.delete(key)
        raise
    return version_id


def give_up_run(hub: Hub, job: Job, message: str) -> None:
    with hub.db.session() as s:
        run = s.scalar(select(Run).where(Run.job_id == job.id))
        if run is not None and run.status not in ("succeeded", "cancelled"):
            run.status, run.error, run.finished_at = "failed", message, utcnow()
            show_run(s, run)


def register_run() -> None:
    register("run", run_adaptation, give_up_run)
