"""The `evaluate` job: every new dataset version is checked, scored and explained.

A version's evaluation is queued in the transaction that makes the version (ingest today,
runs later), so no version goes unevaluated. The job runs the pipeline over the version's
Parquet snapshot (local processes, or Ray when `GRISTMILL_RAY_ADDRESS` is set), writes the
flagged rows batch by batch tagged with its attempt, and publishes the report in one final
transaction that also drops whatever a crashed attempt wrote, so a retry never doubles a
flag and a half-written evaluation is never visible.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.jobs.worker import JobContext, register
from gristmill.pipeline.base import Check, CheckOutput, Flag
from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.local import run_local
from gristmill.pipeline.runners.tasks import PipelineOutput, Progress
from gristmill.services.datasets import version_diff, versions
from gristmill.services.errors import InvalidRequest
from gristmill.services.quality.scoring import score
from gristmill.store.metadata.models import (
    Dataset,
    DatasetRowError,
    DatasetVersion,
    Evaluation,
    EvaluationFlag,
    Job,
    utcnow,
)

log = logging.getLogger("gristmill.evaluation")
FLAG_BATCH = 5000
PROGRESS_EVERY = 0.5
FORMAT = "format"
FORMAT_DESCRIBE = "were rejected at ingest"


def summary(ev: Evaluation) -> dict[str, Any]:
    """What a dataset carries of its latest evaluation."""
    return {
        "evaluation_id": ev.id,
        "version_id": ev.version_id,
        "status": ev.status,
        "score": ev.score,
        "grade": ev.grade,
    }


def by_version(s: Session, account_id: str, version_ids: list[str]) -> dict[str, Evaluation]:
    """The evaluations of some versions of the account's, by version id."""
    wanted = [v for v in version_ids if v]
    if not wanted:
        return {}
    found = s.scalars(
        select(Evaluation).where(
            Evaluation.account_id == account_id, Evaluation.version_id.in_(wanted)
        )
    )
    return {ev.version_id: ev for ev in found}


def show_on_dataset(s: Session, ev: Evaluation) -> None:
    """Mirror the evaluation's state on its dataset, if its version is still the head."""
    s.flush()
    s.execute(
        update(Dataset)
        .where(Dataset.id == ev.dataset_id, Dataset.head_version_id == ev.version_id)
        .values(evaluation_summary=summary(ev))
    )


def queue_evaluation(hub: Hub, s: Session, ds: Dataset, version_id: str) -> Evaluation:
    """Queue the evaluation of a new version, in the transaction that made it."""
    ev = Evaluation(
        id=prefixed("eval_"),
        account_id=ds.account_id,
        dataset_id=ds.id,
        version_id=version_id,
        status="pending",
        progress_done=0,
    )
    job = queue.new_job(hub, account_id=ds.account_id, kind="evaluate", params={"id": ev.id})
    job.idempotency_key = f"evaluate:{version_id}"
    ev.job_id = job.id
    s.add_all([ev, job])
    s.execute(update(Dataset).where(Dataset.id == ds.id).values(evaluation_summary=summary(ev)))
    return ev


def checks_for(hub: Hub) -> list[Check]:
    return default_checks(hub.settings.max_example_tokens)


def run_checks(hub: Hub, path: str, checks: list[Check], progress: Progress) -> PipelineOutput:
    settings = hub.settings
    address = settings.ray_address
    if address:
        from gristmill.pipeline.runners.ray_runner import run_ray

        return run_ray(
            path,
            checks,
            address=address,
            progress=progress,
            task_rows=settings.evaluation_task_rows,
        )
    return run_local(
        path,
        checks,
        processes=hub.settings.evaluation_processes,
        progress=progress,
        task_rows=hub.settings.evaluation_task_rows,
    )


def format_output(hub: Hub, dataset_id: str, valid_rows: int) -> CheckOutput:
    """The rows ingest rejected, as the `format` check's flags."""
    out = CheckOutput()
    last = 0
    while True:
        with hub.db.session() as s:
            errors = list(
                s.scalars(
                    select(DatasetRowError)
                    .where(DatasetRowError.dataset_id == dataset_id, DatasetRowError.line > last)
                    .order_by(DatasetRowError.line)
                    .limit(FLAG_BATCH)
                )
            )
        for e in errors:
            why = "; ".join(str(r.get("message", r)) for r in e.reasons or [])
            out.flags.append(Flag("", e.line, why or "rejected at ingest"))
        if len(errors) < FLAG_BATCH:
            break
        last = errors[-1].line
    out.rows_checked = valid_rows + len(out.flags)
    return out


def _set_progress(hub: Hub, ev_id: str, done: int, total: int | None) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Evaluation)
            .where(Evaluation.id == ev_id, Evaluation.status == "running")
            .values(progress_done=done, progress_total=total)
        )


def run_evaluation(ctx: JobContext) -> dict[str, Any]:
    hub, token = ctx.hub, ctx.attempt_token
    ev_id = ctx.job.params["id"]
    with hub.db.session() as s:
        ev = s.get(Evaluation, ev_id)
        version = s.get(DatasetVersion, ev.version_id) if ev else None
        if ev is None or version is None or ev.account_id != ctx.job.account_id:
            raise InvalidRequest(f"Evaluation {ev_id} has no version to evaluate any more.")
        if ev.status in ("succeeded", "skipped"):  # published; the job died before it finished
            return {"evaluation_id": ev_id, "score": ev.score, "grade": ev.grade}
        ev.status, ev.error, ev.progress_done, ev.progress_total = "running", None, 0, None
        show_on_dataset(s, ev)
    checks = checks_for(hub)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        ctx.progress(done, total)
        if time.monotonic() - last[0] >= PROGRESS_EVERY or done == total:
            _set_progress(hub, ev_id, done, total)
            last[0] = time.monotonic()

    with versions.local_copy(hub, version.blob_key) as path:
        result = run_checks(hub, str(path), checks, progress)
        _record_changes(hub, version, path)
    if result.rows == 0:
        _skip(ctx, ev_id, "The version holds no rows: there is nothing to grade.")
        return {"evaluation_id": ev_id, "skipped": True}
    outputs: dict[str, CheckOutput] = {FORMAT: format_output(hub, ev.dataset_id, result.rows)}
    outputs.update(result.outputs)
    describe = {FORMAT: FORMAT_DESCRIBE, **{c.name: c.describe for c in checks}}
    params = {c.name: c.params() for c in checks}
    total = result.rows + len(outputs[FORMAT].flags)
    scored = score(outputs, describe, params, total)
    _write_flags(ctx, ev_id, outputs)
    stats = dict(result.outputs["too_long"].stats) if "too_long" in result.outputs else {}
    report = {
        "rows": total,
        "valid_rows": result.rows,
        "defective_rows": scored.defective_rows,
        "checks": scored.checks,
        "caps": scored.caps,
        "stats": stats,
    }
    _publish(ctx, ev_id, scored.score, scored.grade, total, report, token)
    return {"evaluation_id": ev_id, "score": scored.score, "grade": scored.grade}


def _record_changes(hub: Hub, version: DatasetVersion, snapshot: Path) -> None:
    """What changed since the version before, kept for the diff (see `version_diff`). The
    grade does not depend on it: if it fails, the diff is computed when asked for."""
    try:
        changes = version_diff.record_changes(hub, version, snapshot)
    except Exception:
        log.exception("keeping the changes of version %s failed", version.id)
        return
    if changes is None:
        return
    with hub.db.session() as s:
        fresh = s.get(DatasetVersion, version.id)
        if fresh is not None:
            fresh.stats = {**(fresh.stats or {}), "changes": changes}
    if fresh is None:  # the dataset was deleted meanwhile: its blobs are gone but this one
        hub.blobs.delete(changes["key"])


def _write_flags(ctx: JobContext, ev_id: str, outputs: dict[str, CheckOutput]) -> None:
    token = ctx.attempt_token
    rows: list[dict[str, Any]] = []
    for name, out in outputs.items():
        for flag in out.flags:
            rows.append(
                {
                    "evaluation_id": ev_id,
                    "job_id": token,
                    "check": name,
                    "line": flag.line,
                    "datapoint_id": flag.datapoint_id or None,
                    "detail": flag.detail,
                }
            )
            if len(rows) >= FLAG_BATCH:
                _insert(ctx, rows)
                rows = []
    if rows:
        _insert(ctx, rows)


def _insert(ctx: JobContext, rows: list[dict[str, Any]]) -> None:
    """One batch of flags, written only while this worker holds the job: a worker whose
    lease expired must not add flags beside the attempt that took over."""
    with ctx.hub.db.session() as s:
        ctx.hold_lease(s)
        s.execute(insert(EvaluationFlag), rows)


def _publish(
    ctx: JobContext,
    ev_id: str,
    value: float,
    grade: str,
    rows: int,
    report: dict[str, Any],
    token: str,
) -> None:
    with ctx.hub.db.session() as s:
        ctx.hold_lease(s)
        ev = s.get(Evaluation, ev_id)
        if ev is None:  # the dataset was deleted meanwhile: leave nothing behind
            s.execute(delete(EvaluationFlag).where(EvaluationFlag.evaluation_id == ev_id))
            return
        s.execute(
            delete(EvaluationFlag).where(
                EvaluationFlag.evaluation_id == ev_id, EvaluationFlag.job_id != token
            )
        )
        ev.status, ev.score, ev.grade, ev.rows, ev.report = "succeeded", value, grade, rows, report
        ev.progress_done = ev.progress_total = rows
        ev.finished_at = utcnow()
        show_on_dataset(s, ev)


def _skip(ctx: JobContext, ev_id: str, why: str) -> None:
    with ctx.hub.db.session() as s:
        ctx.hold_lease(s)
        ev = s.get(Evaluation, ev_id)
        if ev is None:
            return
        ev.status, ev.error, ev.rows, ev.finished_at = "skipped", why, 0, utcnow()
        show_on_dataset(s, ev)


def give_up_evaluation(hub: Hub, job: Job, message: str) -> None:
    ev_id = job.params.get("id")
    with hub.db.session() as s:
        ev = s.get(Evaluation, ev_id)
        if ev is None or ev.status not in ("succeeded", "skipped"):
            s.execute(delete(EvaluationFlag).where(EvaluationFlag.evaluation_id == ev_id))
        if ev is None or ev.status in ("succeeded", "skipped"):
            return
        ev.status, ev.error, ev.finished_at = "failed", message, utcnow()
        show_on_dataset(s, ev)
    log.warning("evaluation %s failed: %s", ev_id, message)


def register_evaluation() -> None:
    register("evaluate", run_evaluation, give_up_evaluation)
