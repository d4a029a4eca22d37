"""A log list query, read from the query string the cloudflare SDK's `logs.list` sends.

Its shortcut parameters become filters: `model`, `provider`, the content types, `success`,
`cached` and `feedback` are `eq`; `min_*` / `max_*` and `start_date` / `end_date` are
inclusive bounds (`min_total_tokens` is on tokens_in + tokens_out). `filters.*` are grouped
as `log_filters.group_query_filters` explains. `meta_info` is accepted and ignored;
`model_type` is refused, since Gristmill does not record a model type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gristmill.services.errors import InvalidRequest
from gristmill.services.logs.filters import (
    LOG_KEYS,
    LOG_OPERATORS,
    LogFilter,
    group_query_filters,
    key_type,
    parse_filters,
    typed_value,
)
from gristmill.store.metadata.models import InferenceLog

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100

ORDERS: dict[str, Any] = {
    "created_at": InferenceLog.created_at,
    "provider": InferenceLog.provider,
    "model": InferenceLog.model,
    "success": InferenceLog.success,
    "cached": InferenceLog.cached,
    "cost": InferenceLog.cost,
    "tokens_in": InferenceLog.tokens_in,
    "tokens_out": InferenceLog.tokens_out,
    "duration": InferenceLog.duration_ms,
    "feedback": InferenceLog.feedback,
}
_EQUALS = (
    "model",
    "provider",
    "request_content_type",
    "response_content_type",
    "success",
    "cached",
    "feedback",
)
_BOUNDS = {  # parameter -> (filter key, operator)
    "start_date": ("created_at", "gte"),
    "end_date": ("created_at", "lte"),
    **{f"min_{k}": (k, "gte") for k in ("cost", "duration", "tokens_in", "tokens_out")},
    **{f"max_{k}": (k, "lte") for k in ("cost", "duration", "tokens_in", "tokens_out")},
    "min_total_tokens": ("tokens", "gte"),
    "max_total_tokens": ("tokens", "lte"),
}


@dataclass(frozen=True)
class LogQuery:
    filters: list[LogFilter] = field(default_factory=list)
    search: str | None = None
    order_by: str = "created_at"
    descending: bool = True
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    max_per_page: int = MAX_PER_PAGE
    limit: int | None = None  # deletes only: at most this many logs


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, got {raw!r}.", param=name) from None


def _direction(params: dict[str, str]) -> bool:
    raw = params.get("order_by_direction") or params.get("direction") or "desc"
    if raw not in ("asc", "desc"):
        raise InvalidRequest(
            f"direction must be 'asc' or 'desc', got {raw!r}.", param="order_by_direction"
        )
    return raw == "desc"


def parse_log_query(pairs: Iterable[tuple[str, str]]) -> LogQuery:
    pairs = list(pairs)
    params = {k: v for k, v in pairs if not k.startswith("filters.")}
    if "model_type" in params:
        raise InvalidRequest(
            "model_type is not recorded by Gristmill; filter on model.", param="model_type"
        )
    filters = parse_filters(
        group_query_filters(pairs), keys=LOG_KEYS, operators=LOG_OPERATORS, from_text=True
    )
    for name in _EQUALS:
        if name in params:
            value = typed_value(key_type(name), params[name], True, name)
            if name == "feedback" and value not in (-1, 0, 1):
                raise InvalidRequest("feedback must be -1, 0 or 1.", param=name)
            filters.append(LogFilter(name, "eq", (value,)))
    for name, (key, op) in _BOUNDS.items():
        if name in params:
            filters.append(
                LogFilter(key, op, (typed_value(key_type(key), params[name], True, name),))
            )
    order_by = params.get("order_by", "created_at")
    if order_by not in ORDERS:
        raise InvalidRequest(
            f"Unknown order_by {order_by!r}: expected one of {', '.join(ORDERS)}.",
            param="order_by",
        )
    return LogQuery(
        filters=filters,
        search=params.get("search") or None,
        order_by=order_by,
        descending=_direction(params),
        page=_int(params, "page", 1),
        per_page=_int(params, "per_page", DEFAULT_PER_PAGE),
        limit=_int(params, "limit", 0) if "limit" in params else None,
    )
