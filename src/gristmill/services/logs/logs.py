"""Inference logs: record (from the logging gateway or a batch), read, list, give feedback.

`record_logs` is the one way logs are written, so every log joins the log datasets it matches
in its own transaction (see `log_rows`). Other services (e.g. TensorZero's
`from_inferences`) read logs with `get_log` / `list_logs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import uuid7
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.logs import gateways
from gristmill.services.logs import rows as log_rows
from gristmill.services.logs.filters import LogFilter, to_sql
from gristmill.services.logs.pricing import cost_of
from gristmill.services.logs.queries import ORDERS, LogQuery
from gristmill.store.metadata.models import InferenceLog, utcnow

MAX_BATCH_BYTES = 256 * 1024 * 1024  # one POST of logs, read whole before it is parsed
UNSET: Any = object()  # "leave as it is", as opposed to None ("clear it")


@dataclass
class LogEntry:
    """One model call to record. Cost, when not given, comes from the price table."""

    gateway_id: str
    provider: str
    id: str | None = None  # a UUIDv7 chosen by the caller (e.g. sent in a header first)
    model: str | None = None
    request: Any = None
    response: Any = None
    success: bool = True
    cached: bool = False
    stream: bool = False
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    duration_ms: int | None = None
    status_code: int | None = None
    path: str | None = None
    request_content_type: str | None = None
    response_content_type: str | None = None
    error: str | None = None
    feedback: int | None = None
    score: float | None = None
    metadata: dict[str, Any] | None = field(default=None)
    created_at: datetime | None = None


def check_feedback(value: Any, param: str = "feedback") -> int | None:
    """-1, 0 or 1 (the cloudflare SDK sends a float), or None to clear it."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (-1, 0, 1):
        return int(value)
    raise InvalidRequest(f"{param} must be -1, 0 or 1, got {value!r}.", param=param)


def check_score(value: Any, param: str = "score") -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise InvalidRequest(f"{param} must be a number, got {value!r}.", param=param)


def check_metadata(value: Any, param: str = "metadata") -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in value.items()
    ):
        return value
    raise InvalidRequest(f"{param} must map strings to strings, numbers or booleans.", param=param)


def _row(hub: Hub, account_id: str, e: LogEntry, i: int) -> dict[str, Any]:
    where = f"logs[{i}]"
    if not e.provider or len(e.provider) > 64:
        raise InvalidRequest(
            f"{where}.provider must be 1 to 64 characters.", param=f"{where}.provider"
        )
    for name in ("tokens_in", "tokens_out", "duration_ms"):
        value = getattr(e, name)
        if value is not None and value < 0:
            raise InvalidRequest(f"{where}.{name} must not be negative.", param=f"{where}.{name}")
    cost = e.cost
    if cost is None:
        cost = cost_of(e.model, e.tokens_in, e.tokens_out, hub.settings.model_prices)
    return {
        "id": e.id or str(uuid7()),
        "account_id": account_id,
        "gateway_id": e.gateway_id,
        "provider": e.provider,
        "model": e.model,
        "path": e.path,
        "request": e.request,
        "response": e.response,
        "status_code": e.status_code,
        "success": e.success,
        "cached": e.cached,
        "stream": e.stream,
        "tokens_in": e.tokens_in,
        "tokens_out": e.tokens_out,
        "cost": cost,
        "duration_ms": e.duration_ms,
        "request_content_type": e.request_content_type,
        "response_content_type": e.response_content_type,
        "error": e.error,
        "feedback": check_feedback(e.feedback, f"{where}.feedback"),
        "score": check_score(e.score, f"{where}.score"),
        "metadata_": check_metadata(e.metadata, f"{where}.metadata"),
        # In UTC: SQLite keeps the wall-clock time and drops the offset
        "created_at": e.created_at.astimezone(UTC) if e.created_at else utcnow(),
    }


def record_logs(
    hub: Hub, account_id: str, entries: Sequence[LogEntry], *, gateways_exist: bool = False
) -> list[str]:
    """Write the logs, all or none, and add each to the enabled datasets it matches; their
    ids. A gateway is created on its first log, unless the caller knows they all exist.
    A plain bulk insert, not the ORM's unit of work: a run writes one log per model call."""
    by_gateway: dict[str, list[str]] = {}
    rows = [_row(hub, account_id, e, i) for i, e in enumerate(entries)]
    for row in rows:
        by_gateway.setdefault(row["gateway_id"], []).append(row["id"])
    if not gateways_exist:
        for gateway_id in by_gateway:
            gateways.ensure_gateway(hub, account_id, gateway_id)
    with hub.db.session() as s:
        for gateway_id in sorted(by_gateway):  # one lock order, so no deadlock
            gateways.lock_gateway(s, account_id, gateway_id, exclusive=False)
        if rows:
            s.execute(insert(InferenceLog), rows)
        for gateway_id, ids in by_gateway.items():
            log_rows.add_new_logs(s, account_id, gateway_id, ids)
    return [row["id"] for row in rows]


def record_log(hub: Hub, account_id: str, entry: LogEntry) -> str:
    return record_logs(hub, account_id, [entry])[0]


def _get(s: Session, account_id: str, log_id: str, gateway_id: str | None) -> InferenceLog:
    q = select(InferenceLog).where(InferenceLog.id == log_id, InferenceLog.account_id == account_id)
    if gateway_id is not None:
        q = q.where(InferenceLog.gateway_id == gateway_id)
    row = s.scalar(q)
    if row is None:
        raise NotFound(f"Log {log_id} not found.", param="id")
    return row


def get_log(hub: Hub, account_id: str, log_id: str, gateway_id: str | None = None) -> InferenceLog:
    with hub.db.session() as s:
        return _get(s, account_id, log_id, gateway_id)


def _search(text: str) -> Any:
    like = text.lower()
    return or_(
        InferenceLog.id == text,
        *(
            func.lower(c).contains(like, autoescape=True)
            for c in (
                InferenceLog.model,
                InferenceLog.provider,
                InferenceLog.path,
                cast(InferenceLog.metadata_, String),
            )
        ),
    )


def _selection(
    account_id: str, gateway_id: str, filters: Sequence[LogFilter], search: str | None
) -> Any:
    q = select(InferenceLog).where(
        InferenceLog.account_id == account_id,
        InferenceLog.gateway_id == gateway_id,
        to_sql(filters),
    )
    return q.where(_search(search)) if search else q


def list_logs(
    hub: Hub, account_id: str, gateway_id: str, query: LogQuery
) -> tuple[list[InferenceLog], int]:
    """A page of the gateway's logs and the total count; past the last page, no logs."""
    gateways.get_gateway(hub, account_id, gateway_id)
    offset = gateways.page_offset(query.page, query.per_page, query.max_per_page)
    q = _selection(account_id, gateway_id, query.filters, query.search)
    col = ORDERS[query.order_by]
    order = (col.desc(), InferenceLog.id.desc()) if query.descending else (col, InferenceLog.id)
    with hub.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(s.scalars(q.order_by(*order).offset(offset).limit(query.per_page)))
    return rows, total


def edit_log(
    hub: Hub,
    account_id: str,
    gateway_id: str | None,
    log_id: str,
    *,
    feedback: Any = UNSET,
    score: Any = UNSET,
    metadata: Any = UNSET,
) -> InferenceLog:
    """Set feedback (-1, 0, 1), score and metadata; None clears one. The log then joins or
    leaves the enabled datasets whose filters it now does or does not match."""
    changes = {
        "feedback": check_feedback(feedback) if feedback is not UNSET else UNSET,
        "score": check_score(score) if score is not UNSET else UNSET,
        "metadata_": check_metadata(metadata) if metadata is not UNSET else UNSET,
    }
    if gateway_id is None:
        gateway_id = get_log(hub, account_id, log_id).gateway_id
    with hub.db.session() as s:
        gateways.lock_gateway(s, account_id, gateway_id, exclusive=False)
        row = _get(s, account_id, log_id, gateway_id)
        for name, value in changes.items():
            if value is not UNSET:
                setattr(row, name, value)
        s.flush()
        log_rows.reevaluate(s, account_id, gateway_id, log_id)
    return row


def delete_logs(hub: Hub, account_id: str, gateway_id: str, query: LogQuery) -> int:
    """Delete the matching logs (the first `limit` in the query's order). Dataset rows made
    from them stay: a datapoint is a copy of its log."""
    gateways.get_gateway(hub, account_id, gateway_id)
    q = _selection(account_id, gateway_id, query.filters, query.search)
    col = ORDERS[query.order_by]
    ids = q.with_only_columns(InferenceLog.id).order_by(
        col.desc() if query.descending else col, InferenceLog.id
    )
    if query.limit is not None:
        if query.limit < 1:
            raise InvalidRequest("limit must be positive.", param="limit")
        ids = ids.limit(query.limit)
    with hub.db.session() as s:
        chosen = list(s.scalars(ids))
        for start in range(0, len(chosen), 1000):
            s.execute(delete(InferenceLog).where(InferenceLog.id.in_(chosen[start : start + 1000])))
    return len(chosen)
