"""Starting, reading and cancelling runs; estimates are answered here without a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.datasets.records import record_of
from gristmill.services.datasets.version_history import live_rows_changed
from gristmill.services.datasets.versions import iter_datapoints
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.services.runs.estimate import Estimate, estimate_run
from gristmill.services.runs.job import run_summary, show_run
from gristmill.services.runs.spec import UNSET, RunSpec, model_of, parse_spec
from gristmill.store.metadata.models import Datapoint, Dataset, Run, utcnow

SAMPLE_ROWS = 500
ACTIVE = ("pending", "running")


@dataclass(frozen=True)
class Started:
    run: Run | None  # None: an estimate only
    estimate: dict[str, Any]


def _sample(hub: Hub, ds: Dataset) -> list[dict[str, Any]]:
    live = (Datapoint.dataset_id == ds.id) & Datapoint.staled_at.is_(None)
    for page in iter_datapoints(hub, live, page_size=SAMPLE_ROWS):
        return [versions.as_row(dp) for dp in page]
    return []


def _check_columns(spec: RunSpec, sample: list[dict[str, Any]]) -> None:
    if spec.mapping is None or not sample:
        return
    seen: dict[str, None] = {}
    for row in sample:
        seen.update(dict.fromkeys(record_of(row)))
    for role, column in spec.mapping.columns():
        if column not in seen:
            param = "column_mapping.context" if role == "context" else f"column_mapping.{role}"
            raise InvalidRequest(
                f"Column {column!r} is not in this dataset's rows (they have: {', '.join(seen)}).",
                param=param,
            )


def _adaptable(hub: Hub, account_id: str, dataset_id: str) -> Dataset:
    """The dataset, with a head version equal to its live rows (cut now if need be)."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    if ds.status != "succeeded":
        raise Conflict(
            f"Dataset {dataset_id} has no version to adapt yet (status: {ds.status}).",
            param="dataset_id",
        )
    if ds.head_version_id is None or live_rows_changed(hub, ds):
        versions.cut_version(hub, ds, reason="snapshot")
        ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    return ds


def start_run(
    hub: Hub,
    account_id: str,
    dataset_id: str,
    body: dict[str, Any],
    *,
    target: Dataset | None = None,
) -> Started:
    """Validate, estimate, and (unless `estimate`) queue a run of the dataset's head. With
    `target`, a new dataset made in the same transaction receives the run's version."""
    ds = _adaptable(hub, account_id, dataset_id)
    stored = (ds.extra or {}).get("language_expansion")
    spec, estimate_only, expansion = parse_spec(body, hub.settings, stored_expansion=stored)
    if spec.needs_model():
        model_of(spec, hub.settings)
    if spec.idempotency_key and not estimate_only:
        earlier = _by_key(hub, account_id, spec.idempotency_key)
        if earlier is not None:
            return Started(earlier, earlier.estimate or {})
    sample = _sample(hub, ds)
    _check_columns(spec, sample)
    rows = min(spec.max_rows or ds.row_count, ds.row_count)
    estimate: Estimate = estimate_run(hub, account_id, spec, sample, rows)
    if estimate_only:
        return Started(None, estimate.to_json())
    run = Run(
        id=prefixed("run_"),
        account_id=account_id,
        dataset_id=ds.id,
        target_dataset_id=target.id if target is not None else None,
        status="pending",
        params=spec.to_json(),
        idempotency_key=spec.idempotency_key,
        source_version_id=ds.head_version_id,
        progress_done=0,
        progress_total=ds.row_count,
        estimate=estimate.to_json(),
        cost_usd=0.0,
        cancel_requested=False,
    )
    try:
        with hub.db.session() as s:
            current = s.get(Dataset, ds.id)
            if current is None or current.account_id != account_id:
                raise NotFound(f"Dataset {dataset_id} not found.", param="dataset_id")
            job = queue.new_job(hub, account_id=account_id, kind="run", params={"run_id": run.id})
            run.job_id = job.id
            s.add_all([run, job])
            if target is not None:
                target.progress_total = ds.row_count
                s.add(target)
            else:
                _show_start(current, run, body, expansion)
    except IntegrityError:  # the same idempotency key, at the same moment
        earlier = _by_key(hub, account_id, spec.idempotency_key or "")
        if earlier is None:
            raise
        return Started(earlier, earlier.estimate or {})
    return Started(run, estimate.to_json())


def _show_start(ds: Dataset, run: Run, body: dict[str, Any], expansion: Any) -> None:
    """The dataset shows its new run (one at a time), and the grade it starts from."""
    if (ds.run_summary or {}).get("status") in ACTIVE:
        raise Conflict(
            f"Dataset {ds.id} already has a run in progress "
            f"({(ds.run_summary or {}).get('run_id')}); wait for it or cancel it.",
            param="dataset_id",
        )
    if body.get("language_expansion", UNSET) is not UNSET:
        ds.extra = {**(ds.extra or {}), "language_expansion": expansion}
    summary = ds.evaluation_summary or {}
    before = (
        {k: summary.get(k) for k in ("score", "grade", "version_id")}
        if summary.get("status") == "succeeded"
        else None
    )
    ds.run_summary = run_summary(run, before)
    ds.updated_at = utcnow()


@dataclass(frozen=True)
class Expanded:
    dataset: Dataset | None  # None: an estimate only
    started: Started
    new_rows: int


EXPANSION_KINDS = {"translate": "translated", "localize": "localized"}


def start_expansion(
    hub: Hub, account_id: str, dataset_id: str, kind: str, body: dict[str, Any]
) -> Expanded:
    """Adaption's `translate` / `localize`: a new dataset holding this one's rows plus a
    translated copy of a sampled share of them per target, made by a run."""
    source = _adaptable(hub, account_id, dataset_id)
    targets = "languages" if kind == "translate" else "pairs"
    key = body.get("idempotency_key")
    if key is not None:
        earlier = _by_key(hub, account_id, key) if isinstance(key, str) else None
        if earlier is not None and earlier.target_dataset_id is None:
            raise Conflict(
                f"idempotency_key {key!r} was used for a run that made no new dataset.",
                param="idempotency_key",
            )
        if earlier is not None and earlier.target_dataset_id is not None:
            made = dataset_service.get_dataset(hub, account_id, earlier.target_dataset_id)
            return Expanded(made, Started(earlier, {}), 0)
    mapping = (
        {"chat": "messages"}
        if source.schema_type == "chat"
        else {"prompt": "prompt", "completion": "completion"}
    )
    run_body = {
        "column_mapping": mapping,
        "recipe_specification": {"recipes": {"deduplication": False}},
        "language_expansion": {
            "type": kind,
            targets: body.get(targets),
            "sample_rate": body.get("sample_rate"),
        },
        "estimate": body.get("estimate"),
        "job_specification": {"idempotency_key": key} if key is not None else {},
    }
    target = Dataset(
        id=prefixed("ds_"),
        account_id=account_id,
        name=f"{source.name} ({EXPANSION_KINDS[kind]})",
        origin=source.origin,
        schema_type=source.schema_type,
        data_source=source.data_source,
        status="pending",
        extra={"kind": EXPANSION_KINDS[kind], "source_dataset_id": source.id},
    )
    try:
        started = start_run(hub, account_id, dataset_id, run_body, target=target)
    except InvalidRequest as exc:  # name the caller's own fields, not the run's
        param = (exc.param or "").removeprefix("language_expansion.")
        raise InvalidRequest(
            exc.message.replace("language_expansion.", ""), param=param or None, code=exc.code
        ) from None
    if started.run is None:
        return Expanded(None, started, started.estimate.get("rows_added", 0))
    return Expanded(target, started, started.estimate.get("rows_added", 0))


def _by_key(hub: Hub, account_id: str, key: str) -> Run | None:
    with hub.db.session() as s:
        found: Run | None = s.scalar(
            select(Run).where(Run.account_id == account_id, Run.idempotency_key == key)
        )
        return found


def get_run(hub: Hub, account_id: str, run_id: str) -> Run:
    with hub.db.session() as s:
        run = s.get(Run, run_id)
        if run is None or run.account_id != account_id:
            raise NotFound(f"Run {run_id} not found.", param="run_id")
        return run


def get_dataset_run(hub: Hub, account_id: str, dataset_id: str, run_id: str) -> Run:
    run = get_run(hub, account_id, run_id)
    if run.dataset_id != dataset_id:
        raise NotFound(f"Run {run_id} not found.", param="run_id")
    return run


def list_runs(hub: Hub, account_id: str, dataset_id: str, *, limit: int = 50) -> list[Run]:
    """The dataset's newest runs first."""
    _ = dataset_service.get_dataset(hub, account_id, dataset_id)  # 404 for another account's
    with hub.db.session() as s:
        found = list(
            s.scalars(
                select(Run)
                .where(Run.dataset_id == dataset_id, Run.account_id == account_id)
                .order_by(Run.created_at.desc(), Run.id.desc())
                .limit(limit)
            )
        )
        s.expunge_all()
    return found


def cancel_run(hub: Hub, account_id: str, dataset_id: str, run_id: str) -> Run:
    """Ask a run to stop; a run that has not started is cancelled at once."""
    get_dataset_run(hub, account_id, dataset_id, run_id)
    with hub.db.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        if run.status in ("succeeded", "failed", "cancelled"):
            raise Conflict(f"Run {run_id} has already {run.status}.", param="run_id")
        run.cancel_requested = True
        if run.status == "pending":
            run.status, run.finished_at = "cancelled", utcnow()
            show_run(s, run)
        s.flush()
        s.expunge(run)
        return run


def run_view(run: Run) -> dict[str, Any]:
    """The native door's view of a run, report included once it has one."""
    total = run.progress_total
    return {
        "id": run.id,
        "object": "run",
        "dataset_id": run.dataset_id,
        "status": run.status,
        "progress": {
            "processed_rows": run.progress_done,
            "total_rows": total,
            "percent": min(100, run.progress_done * 100 // total) if total else None,
        },
        "source_version_id": run.source_version_id,
        "result_version_id": run.result_version_id,
        "params": run.params,
        "estimate": run.estimate,
        "cost_usd": run.cost_usd,
        "report": run.report,
        "error": run.error,
        "cancel_requested": run.cancel_requested,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
