"""Reading evaluations: a dataset's report, its flagged rows, and asking for a new one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.jobs import queue
from gristmill.pipeline.checks import CHECK_NAMES
from gristmill.services.accounts import Principal
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.services.quality.evaluation import (
    by_version,
    queue_evaluation,
    show_on_dataset,
    summary,
)
from gristmill.store.metadata.models import (
    Dataset,
    Evaluation,
    EvaluationFlag,
)

MAX_FLAGS_PAGE = 1000
MIN_FOR_PERCENTILE = 10


def head_evaluation(hub: Hub, ds: Dataset) -> Evaluation | None:
    """The evaluation of the dataset's head version, if one was queued."""
    if ds.head_version_id is None:
        return None
    with hub.db.session() as s:
        found: Evaluation | None = s.scalar(
            select(Evaluation).where(
                Evaluation.version_id == ds.head_version_id,
                Evaluation.account_id == ds.account_id,
            )
        )
        return found


def evaluations_of(hub: Hub, account_id: str, version_ids: list[str]) -> dict[str, Evaluation]:
    """The evaluations of some versions, by version id."""
    with hub.db.session() as s:
        return by_version(s, account_id, version_ids)


def before_after(
    head: dict[str, Any] | None, run: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Grade and score before and after the latest run, once the head is graded (`head`:
    its evaluation's summary); before only, when no run has made the head."""
    if not head or head.get("status") != "succeeded":
        return None
    now = {"grade": head.get("grade"), "score": head.get("score")}
    before = (run or {}).get("before")
    made_by_run = run and run.get("result_version_id") == head.get("version_id")
    if not made_by_run or not before:
        return {"grade_before": now["grade"], "score_before": now["score"]}
    improvement = None
    if before.get("score") and now["score"] is not None:
        improvement = round((now["score"] - before["score"]) / before["score"] * 100, 1)
    return {
        "grade_before": before.get("grade"),
        "score_before": before.get("score"),
        "grade_after": now["grade"],
        "score_after": now["score"],
        "improvement_percent": improvement,
    }


def report(ds: Dataset, ev: Evaluation | None) -> dict[str, Any]:
    """The report as the native door shows it; `skipped` when there is nothing to grade."""
    if ev is None:
        status = "skipped" if ds.status == "succeeded" else ds.status
        if status == "running":
            status = "pending"  # the ingest runs; its evaluation comes after it
        return {
            "status": status,
            "dataset_id": ds.id,
            "version_id": ds.head_version_id,
            "score": None,
            "grade": None,
            "rows": None,
            "checks": [],
            "error": f"The dataset's ingest failed: {ds.error}" if ds.status == "failed" else None,
        }
    body = ev.report or {}
    return {
        "status": ev.status,
        "evaluation_id": ev.id,
        "dataset_id": ds.id,
        "version_id": ev.version_id,
        "score": ev.score,
        "grade": ev.grade,
        "rows": ev.rows,
        "progress": {"done": ev.progress_done, "total": ev.progress_total},
        "checks": body.get("checks", []),
        "caps": body.get("caps", []),
        "defective_rows": body.get("defective_rows"),
        "stats": body.get("stats", {}),
        "error": ev.error,
        # from the evaluation itself: the dataset was read just before it, in another
        # session, and may still carry the summary from before this evaluation finished
        "before_after": before_after(summary(ev), ds.run_summary)
        if ev.status == "succeeded"
        else None,
        "created_at": ev.created_at.isoformat(),
        "finished_at": ev.finished_at.isoformat() if ev.finished_at else None,
    }


def percentile(hub: Hub, score: float | None) -> float | None:
    """The share (0-100) of this hub's graded versions scoring below `score`; None while
    fewer than `MIN_FOR_PERCENTILE` versions are graded."""
    if score is None:
        return None
    with hub.db.session() as s:
        graded = Evaluation.status == "succeeded"
        total = s.scalar(select(func.count()).where(graded)) or 0
        if total < MIN_FOR_PERCENTILE:
            return None
        below = s.scalar(select(func.count()).where(graded, Evaluation.score < score)) or 0
    return round(below * 100 / total, 1)


def dataset_report(hub: Hub, account_id: str, dataset_id: str) -> dict[str, Any]:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    out = report(ds, head_evaluation(hub, ds))
    if out["status"] == "succeeded":
        out["percentile"] = percentile(hub, out["score"])
    return out


def list_flags(
    hub: Hub,
    account_id: str,
    dataset_id: str,
    *,
    check: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """The head evaluation's flagged rows in the order checks found them, keyset-paged."""
    dataset_service.check_limit(limit, MAX_FLAGS_PAGE)
    if check is not None and check not in CHECK_NAMES:
        raise InvalidRequest(
            f"Unknown check {check!r}: expected one of {', '.join(CHECK_NAMES)}.", param="check"
        )
    after = 0
    if cursor:
        found = decimal(cursor)
        if found is None:
            raise InvalidRequest(f"Invalid cursor {cursor!r}.", param="cursor")
        after = found
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    ev = head_evaluation(hub, ds)
    if ev is None or ev.status != "succeeded":
        return [], None
    q = select(EvaluationFlag).where(
        EvaluationFlag.evaluation_id == ev.id, EvaluationFlag.id > after
    )
    if check is not None:
        q = q.where(EvaluationFlag.check == check)
    with hub.db.session() as s:
        rows = list(s.scalars(q.order_by(EvaluationFlag.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    flags = [
        {"line": f.line, "datapoint_id": f.datapoint_id, "check": f.check, "detail": f.detail}
        for f in rows
    ]
    return flags, (str(rows[-1].id) if more else None)


def request_evaluation(hub: Hub, caller: Principal, dataset_id: str) -> dict[str, Any]:
    """Evaluate the dataset's head: its head version's evaluation if it has one (asking
    twice queues nothing new), else a snapshot of the live rows cut now and evaluated."""
    ds = dataset_service.get_dataset(hub, caller.account_id, dataset_id)
    if ds.status != "succeeded":
        raise Conflict(
            f"Dataset {ds.id} is {ds.status}: it can be evaluated once it has succeeded.",
            param="dataset_id",
        )
    ev = head_evaluation(hub, ds)
    if ev is not None and ev.status != "failed":
        return report(ds, ev)
    if ev is not None:  # failed for good (an outage, say): asking again runs it again
        return report(ds, retry_evaluation(hub, ev))
    if ds.head_version_id is None:
        version_id = versions.cut_version(hub, ds, reason="evaluation")
    else:
        version_id = ds.head_version_id
    try:
        with hub.db.session() as s:
            fresh = s.get(Dataset, ds.id)
            if fresh is None:
                raise NotFound(f"Dataset {ds.id} not found.", param="dataset_id")
            ev = queue_evaluation(hub, s, fresh, version_id)
    except IntegrityError:  # asked twice at once: the other request queued it
        fresh_ds = dataset_service.get_dataset(hub, caller.account_id, dataset_id)
        ev = head_evaluation(hub, fresh_ds)
        if ev is None:
            raise Conflict(f"Dataset {ds.id} changed meanwhile; ask again.") from None
    return report(ds, ev)


def retry_evaluation(hub: Hub, ev: Evaluation) -> Evaluation:
    """Queue a failed evaluation again, under a new job."""
    with hub.db.session() as s:
        row = s.get(Evaluation, ev.id)
        assert row is not None
        job = queue.new_job(hub, account_id=row.account_id, kind="evaluate", params={"id": row.id})
        job.idempotency_key = f"evaluate:{row.version_id}:retry:{job.id}"
        row.status, row.error, row.job_id, row.finished_at = "pending", None, job.id, None
        row.progress_done, row.progress_total = 0, None
        s.add(job)
        show_on_dataset(s, row)
        return row
