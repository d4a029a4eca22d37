"""A log dataset's rows: one chat datapoint per inference log that matches its filters.

Membership is kept in step with the logs:
- a new log joins every enabled dataset of its gateway that it matches (`add_new_logs`,
  called by `logs.record_logs` in the log's own transaction);
- a dataset gets its existing matching logs when it is created, and is re-synced to its
  filters whenever it is updated while enabled, by a job (`log_dataset_job`, page by page):
  rows whose log no longer matches go stale (TensorZero's soft delete), missing ones are
  added, unchanged rows keep their ids;
- a log whose feedback changes is re-evaluated against every enabled dataset (`reevaluate`).
A disabled dataset is frozen: it neither gains nor loses rows until it is enabled again.

Rows are written with bulk INSERTs from plain column tuples, so materialising many logs keeps
no ORM objects alive and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.orm import Session

from gristmill.ids import uuid7
from gristmill.services.logs.filters import parse_filters, to_sql
from gristmill.store.metadata.models import Datapoint, Dataset, InferenceLog, utcnow

BATCH = 500
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")
LOG_COLUMNS = (  # what `datapoint_values` reads from a log
    InferenceLog.id,
    InferenceLog.gateway_id,
    InferenceLog.provider,
    InferenceLog.model,
    InferenceLog.request,
    InferenceLog.response,
    InferenceLog.metadata_.label("metadata"),
)


def assistant_messages(response: Any) -> list[dict[str, Any]]:
    """The assistant message of each choice of an OpenAI chat completion, in choice order."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(choices, list):
        return []
    ordered = sorted(
        (c for c in choices if isinstance(c, dict) and isinstance(c.get("message"), dict)),
        key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0,
    )
    return [c["message"] for c in ordered]


def datapoint_values(ds: Dataset, log: Any) -> dict[str, Any]:
    """The chat datapoint of one log row: input = the request's messages, output = the
    assistant message(s); tools, if any, ride in `extra` as in OpenAI's fine-tuning format.
    The function name is the log's `function_name` metadata, else the gateway id."""
    request = log.request if isinstance(log.request, dict) else {}
    messages = request.get("messages")
    metadata = log.metadata if isinstance(log.metadata, dict) else {}
    function = metadata.get("function_name")
    extra = {k: request[k] for k in _TOOL_FIELDS if k in request}
    now = utcnow()
    return {
        "id": str(uuid7()),
        "account_id": ds.account_id,
        "dataset_id": ds.id,
        "function_name": function if isinstance(function, str) else log.gateway_id,
        "kind": "chat",
        "input": {"messages": messages if isinstance(messages, list) else []},
        "output": assistant_messages(log.response),
        "tags": {"gateway_id": log.gateway_id, "provider": log.provider, "model": log.model or ""},
        "extra": extra or None,
        "source_inference_id": log.id,
        "created_at": now,
        "updated_at": now,
    }


def condition(ds: Dataset) -> ColumnElement[bool]:
    """The dataset's logs: its gateway's, in its account, matching its filters."""
    return and_(
        InferenceLog.account_id == ds.account_id,
        InferenceLog.gateway_id == ds.gateway_id,
        to_sql(parse_filters(ds.filters or [])),
    )


def _count(s: Session, ds: Dataset, delta: int) -> None:
    if delta:
        # updated_at is kept: it is the dataset's modified_at, which rows joining do not change
        s.execute(
            update(Dataset)
            .where(Dataset.id == ds.id)
            .values(row_count=Dataset.row_count + delta, updated_at=Dataset.updated_at)
        )


def _insert(s: Session, ds: Dataset, logs: Sequence[Any]) -> int:
    if logs:
        s.execute(insert(Datapoint), [datapoint_values(ds, log) for log in logs])
    return len(logs)


def _live(ds: Dataset) -> ColumnElement[bool]:
    return and_(
        Datapoint.dataset_id == ds.id,
        Datapoint.staled_at.is_(None),
        Datapoint.source_inference_id.is_not(None),
    )


def stale_unmatched(s: Session, ds: Dataset) -> int:
    """Stale the live rows whose log no longer matches the dataset's filters."""
    matching = select(InferenceLog.id).where(condition(ds))
    result = s.execute(
        update(Datapoint)
        .where(_live(ds), Datapoint.source_inference_id.not_in(matching))
        .values(staled_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    staled = int(result.rowcount)  # type: ignore[attr-defined]
    _count(s, ds, -staled)
    return staled


def add_missing_page(s: Session, ds: Dataset, after: str) -> tuple[str, int, int] | None:
    """One keyset page of the matching logs after log id `after`: a row for each that has
    none yet. Returns (the page's last log id, logs seen, rows added), or None past the end.
    Logs recorded meanwhile may already have their row (`add_new_logs`), so each is checked."""
    logs = s.execute(
        select(*LOG_COLUMNS)
        .where(condition(ds), InferenceLog.id > after)
        .order_by(InferenceLog.id)
        .limit(BATCH)
    ).all()
    if not logs:
        return None
    have = set(
        s.scalars(
            select(Datapoint.source_inference_id).where(
                _live(ds), Datapoint.source_inference_id.in_([r.id for r in logs])
            )
        )
    )
    added = _insert(s, ds, [r for r in logs if r.id not in have])
    _count(s, ds, added)
    return logs[-1].id, len(logs), added


def count_matching(s: Session, ds: Dataset) -> int:
    return s.scalar(select(func.count()).select_from(InferenceLog).where(condition(ds))) or 0


def _enabled(s: Session, account_id: str, gateway_id: str) -> list[Dataset]:
    return list(
        s.scalars(
            select(Dataset).where(
                Dataset.account_id == account_id,
                Dataset.gateway_id == gateway_id,
                Dataset.enable.is_(True),
            )
        )
    )


def add_new_logs(s: Session, account_id: str, gateway_id: str, log_ids: Sequence[str]) -> None:
    """Add just-recorded logs to every enabled dataset of their gateway that they match."""
    for ds in _enabled(s, account_id, gateway_id):
        where = condition(ds)
        for start in range(0, len(log_ids), BATCH):
            chunk = list(log_ids[start : start + BATCH])
            logs = s.execute(select(*LOG_COLUMNS).where(where, InferenceLog.id.in_(chunk))).all()
            _count(s, ds, _insert(s, ds, logs))


def reevaluate(s: Session, account_id: str, gateway_id: str, log_id: str) -> None:
    """After a log changed: join the enabled datasets it now matches, leave the others."""
    for ds in _enabled(s, account_id, gateway_id):
        log = s.execute(
            select(*LOG_COLUMNS).where(condition(ds), InferenceLog.id == log_id)
        ).first()
        live = s.scalar(
            select(Datapoint.id).where(_live(ds), Datapoint.source_inference_id == log_id).limit(1)
        )
        if log is not None and live is None:
            _count(s, ds, _insert(s, ds, [log]))
        elif log is None and live is not None:
            s.execute(
                update(Datapoint)
                .where(_live(ds), Datapoint.source_inference_id == log_id)
                .values(staled_at=utcnow(), updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            _count(s, ds, -1)
