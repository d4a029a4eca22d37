"""Filters over inference logs, as Cloudflare AI Gateway datasets and log lists send them.

A filter is `{"key", "operator", "value": [...]}`; a log must match every filter, and a filter
with several values matches when any value does. Values are typed per key:

===========================================================  ==========  ======================
key                                                          type        operators
===========================================================  ==========  ======================
provider, model, request_content_type, response_content_type string      eq, contains (, neq)
success, cached                                              bool        eq (, neq)
cost, tokens, tokens_in, tokens_out, duration, feedback      number      eq, lt, gt (, neq)
created_at                                                   datetime    eq, lt, gt (, neq)
===========================================================  ==========  ======================

Datasets accept exactly the keys and operators of the Cloudflare dataset page (no `neq`, no
`id`); the log list also takes `id` and `neq`, which its SDK sends. `contains` is a
case-insensitive substring match (the same on SQLite and PostgreSQL); `lt` / `gt` take one
value; `neq` also matches logs where the field is unknown. `tokens` is tokens_in + tokens_out,
`duration` is in milliseconds. A comparison with an unknown field (e.g. no feedback yet) is
false, so `feedback gt 0` holds only for logs that have positive feedback.

Filters become one SQL condition, so the same definition selects a dataset's existing logs,
decides which new logs join it, and lists logs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, true

from gristmill.services.errors import InvalidRequest
from gristmill.store.metadata.models import InferenceLog

KEY_TYPES: dict[str, str] = {
    "created_at": "datetime",
    "request_content_type": "string",
    "response_content_type": "string",
    "success": "bool",
    "cached": "bool",
    "provider": "string",
    "model": "string",
    "cost": "number",
    "tokens": "number",
    "tokens_in": "number",
    "tokens_out": "number",
    "duration": "number",
    "feedback": "number",
}
DATASET_KEYS = tuple(KEY_TYPES)
DATASET_OPERATORS = ("eq", "contains", "lt", "gt")
LOG_KEYS = (*DATASET_KEYS, "id")
LOG_OPERATORS = (*DATASET_OPERATORS, "neq")

OPERATORS_BY_TYPE = {
    "string": ("eq", "neq", "contains"),
    "bool": ("eq", "neq"),
    "number": ("eq", "neq", "lt", "gt"),
    "datetime": ("eq", "neq", "lt", "gt"),
}


@dataclass(frozen=True)
class LogFilter:
    key: str
    operator: str
    values: tuple[Any, ...]  # str | bool | float | datetime, per KEY_TYPES


def key_type(key: str) -> str:
    return "string" if key == "id" else KEY_TYPES[key]


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_filter")


def typed_value(kind: str, value: Any, from_text: bool, param: str) -> Any:
    """One value, checked against its key's type; query-string values arrive as text."""
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    if kind == "number":
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif from_text and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is not None and math.isfinite(number):
            return number
    if kind == "datetime" and isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is not None:
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    expected = {"datetime": "an ISO 8601 date-time string"}.get(kind, f"a {kind}")
    raise _bad(f"{param} must be {expected}, got {value!r}.", param)


def parse_filter(
    raw: Any,
    param: str,
    *,
    keys: Sequence[str] = DATASET_KEYS,
    operators: Sequence[str] = DATASET_OPERATORS,
    from_text: bool = False,
) -> LogFilter:
    if not isinstance(raw, dict):
        raise _bad(f"{param} must be an object with key, operator and value.", param)
    key, operator, value = raw.get("key"), raw.get("operator"), raw.get("value")
    if key not in keys:
        raise _bad(
            f"Unknown filter key {key!r} in {param}: expected one of {', '.join(keys)}.",
            f"{param}.key",
        )
    if operator not in operators:
        raise _bad(
            f"Unknown filter operator {operator!r} in {param}: expected one of "
            f"{', '.join(operators)}.",
            f"{param}.operator",
        )
    key, operator = str(key), str(operator)
    kind = key_type(key)
    if operator not in OPERATORS_BY_TYPE[kind]:
        allowed = [op for op in OPERATORS_BY_TYPE[kind] if op in operators]
        raise _bad(
            f"Operator {operator!r} does not apply to {kind} key {key!r} in {param}: use "
            f"{', '.join(allowed)}.",
            f"{param}.operator",
        )
    if not isinstance(value, list) or not value:
        raise _bad(f"{param}.value must be a non-empty list.", f"{param}.value")
    if operator in ("lt", "gt") and len(value) != 1:
        raise _bad(f"{param}.value must hold exactly one value for {operator!r}.", f"{param}.value")
    typed = tuple(
        typed_value(kind, v, from_text, f"{param}.value[{i}]") for i, v in enumerate(value)
    )
    return LogFilter(key=key, operator=operator, values=typed)


def parse_filters(
    raw: Any,
    param: str = "filters",
    *,
    keys: Sequence[str] = DATASET_KEYS,
    operators: Sequence[str] = DATASET_OPERATORS,
    from_text: bool = False,
) -> list[LogFilter]:
    if not isinstance(raw, list):
        raise _bad(f"{param} must be a list of filters.", param)
    return [
        parse_filter(f, f"{param}[{i}]", keys=keys, operators=operators, from_text=from_text)
        for i, f in enumerate(raw)
    ]


def group_query_filters(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Rebuild filters from a query string. The cloudflare SDK sends every key, then every
    operator, then every value (`filters.key=model&filters.key=cost&filters.operator=eq&…`),
    so the n-th key goes with the n-th operator, and values can be told apart only when each
    filter has one value, or when there is a single filter (which takes them all)."""
    fields: dict[str, list[str]] = {"key": [], "operator": [], "value": []}
    for name, value in pairs:
        if name.startswith("filters."):
            field = name.removeprefix("filters.")
            if field not in fields:
                raise _bad(f"Unknown filter field {name!r}.", name)
            fields[field].append(value)
    keys, operators, values = fields["key"], fields["operator"], fields["value"]
    if len(keys) != len(operators):
        raise _bad("Each filter needs one filters.key and one filters.operator.", "filters")
    if len(keys) == 1:
        return [{"key": keys[0], "operator": operators[0], "value": values}]
    if len(values) != len(keys):
        raise _bad(
            "With several filters in a query string, give each exactly one filters.value: "
            "the query cannot say which values belong to which filter.",
            "filters",
        )
    return [
        {"key": k, "operator": o, "value": [v]}
        for k, o, v in zip(keys, operators, values, strict=True)
    ]


def _column(key: str) -> Any:
    if key == "tokens":
        return func.coalesce(InferenceLog.tokens_in, 0) + func.coalesce(InferenceLog.tokens_out, 0)
    if key == "duration":
        return InferenceLog.duration_ms
    return getattr(InferenceLog, key)


def _condition(f: LogFilter) -> ColumnElement[bool]:
    col = _column(f.key)
    values = list(f.values)
    if f.operator == "eq":
        return col.in_(values) if len(values) > 1 else col == values[0]  # type: ignore[no-any-return]
    if f.operator == "neq":
        return or_(col.is_(None), col.not_in(values))
    if f.operator == "contains":
        lowered = func.lower(col)
        return or_(*(lowered.contains(v.lower(), autoescape=True) for v in values))
    if f.operator == "lt":
        return col < values[0]  # type: ignore[no-any-return]
    if f.operator == "lte":  # internal: the log list's max_* and end_date
        return col <= values[0]  # type: ignore[no-any-return]
    if f.operator == "gte":  # internal: the log list's min_* and start_date
        return col >= values[0]  # type: ignore[no-any-return]
    return col > values[0]  # type: ignore[no-any-return]


def to_sql(filters: Sequence[LogFilter]) -> ColumnElement[bool]:
    """All filters as one condition on InferenceLog (true when there are none)."""
    return and_(true(), *(_condition(f) for f in filters))
