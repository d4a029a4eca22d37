"""TensorZero's filter trees (`tag`, `time`, `and`, `or`, `not`), ordering and text search,
as SQLAlchemy expressions that mean the same on SQLite and PostgreSQL.

A tag comparison treats a missing tag as the empty string, as TensorZero's ClickHouse maps
do: `{"type": "tag", "key": "k", "comparison_operator": "!=", "value": "v"}` also matches
rows without `k`. So no comparison is ever NULL, and `not` is a plain negation.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, and_, cast, false, func, or_, true

from gristmill.services.errors import InvalidRequest
from gristmill.store.metadata.models import Datapoint

Leaf = Callable[[dict[str, Any], str], ColumnElement[bool]]

MAX_DEPTH = 32
MAX_NODES = 1000
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,
}
TAG_OPERATORS = ("=", "!=")
DIRECTIONS = ("ascending", "descending")


def compile_filter(node: Any, leaves: Mapping[str, Leaf], param: str = "filter") -> Any:
    """One SQL condition for a filter tree; `leaves` maps a leaf type to its condition."""
    seen = 0

    def walk(n: Any, where: str, depth: int) -> Any:
        nonlocal seen
        seen += 1
        if depth > MAX_DEPTH or seen > MAX_NODES:
            raise InvalidRequest(
                f"{param} is too large: at most {MAX_NODES} nodes, {MAX_DEPTH} levels deep.",
                param=param,
            )
        kind = n.get("type") if isinstance(n, dict) else None
        if kind in ("and", "or"):
            children = n.get("children")
            if not isinstance(children, list):
                raise InvalidRequest(f"{where}.children must be a list.", param=where)
            parts = [walk(c, f"{where}.children[{i}]", depth + 1) for i, c in enumerate(children)]
            # an empty `and` holds for every row and an empty `or` for none, as in logic
            return and_(true(), *parts) if kind == "and" else or_(false(), *parts)
        if kind == "not":
            return ~walk(n.get("child"), f"{where}.child", depth + 1)
        if isinstance(kind, str) and kind in leaves:
            return leaves[kind](n, where)
        raise InvalidRequest(
            f"{where} has unknown filter type {kind!r}: expected one of "
            f"{', '.join([*leaves, 'and', 'or', 'not'])}.",
            param=where,
        )

    return walk(node, param, 1)


def comparison(node: dict[str, Any], where: str, allowed: tuple[str, ...]) -> Callable[..., Any]:
    op = node.get("comparison_operator")
    if op not in allowed:
        raise InvalidRequest(
            f"{where}.comparison_operator must be one of {', '.join(allowed)}, not {op!r}.",
            param=f"{where}.comparison_operator",
        )
    return COMPARISONS[op]


def check_tag_name(key: str, param: str) -> str:
    """A tag name SQL can look up: SQLite spells the JSON path with the name in quotes."""
    if '"' in key or "\\" in key or "\x00" in key:
        raise InvalidRequest(f'{param}: a tag name must not hold ", \\ or NUL.', param=param)
    return key


def tag_condition(tags: Any, node: dict[str, Any], where: str) -> Any:
    """`tags` is a JSON column of a string map; compare one key's value."""
    key, value = node.get("key"), node.get("value")
    if not isinstance(key, str) or not isinstance(value, str):
        raise InvalidRequest(f"{where}: a tag filter needs a string key and value.", param=where)
    check_tag_name(key, where)
    compare = comparison(node, where, TAG_OPERATORS)
    return compare(func.coalesce(tags[key].as_string(), ""), value)


def parse_time(value: Any, param: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidRequest(f"{param} must be an RFC 3339 timestamp.", param=param)
    text = value.strip().replace("z", "Z")
    head, dot, tail = text.partition(".")
    if dot:  # Python parses at most microseconds; TensorZero may send nanoseconds
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[: min(digits, 6)] + tail[digits:]
        text = f"{head}.{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{param} is not an RFC 3339 timestamp: {value!r}.", param=param
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def time_condition(column: Any, node: dict[str, Any], where: str) -> Any:
    compare = comparison(node, where, tuple(COMPARISONS))
    return compare(column, parse_time(node.get("time"), f"{where}.time"))


DATAPOINT_LEAVES: dict[str, Leaf] = {
    "tag": lambda n, w: tag_condition(Datapoint.tags, n, w),
    # TensorZero's time filter is on the datapoint's last update
    "time": lambda n, w: time_condition(Datapoint.updated_at, n, w),
}


def datapoint_filter(node: Any) -> Any:
    return compile_filter(node, DATAPOINT_LEAVES)


DATAPOINT_TEXT = (Datapoint.input, Datapoint.output)


def _haystack(columns: Sequence[Any]) -> ColumnElement[str]:
    parts = [func.coalesce(cast(c, Text), "") for c in columns]
    text: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return func.lower(text)


def _needle(query: str) -> str:
    # rows hold JSON text, so look for the query as JSON would spell it inside a string
    return orjson.dumps(query.lower()).decode()[1:-1]


def search_condition(query: str, columns: Sequence[Any] = DATAPOINT_TEXT) -> Any:
    """Case-insensitive substring search over JSON columns (input and output)."""
    return _haystack(columns).contains(_needle(query), autoescape=True)


def search_relevance(query: str, columns: Sequence[Any] = DATAPOINT_TEXT) -> Any:
    """Term frequency of the query in the row: what TensorZero ranks by."""
    needle = _needle(query)
    hay = _haystack(columns)
    return (func.length(hay) - func.length(func.replace(hay, needle, ""))) / len(needle)


OrderKey = Callable[[dict[str, Any], str], Any]


def order_terms(order_by: Any, key: OrderKey, id_column: Any) -> list[Any]:
    """ORDER BY for TensorZero's `order_by` list (`key` maps one term to its column); newest
    first when none is given. The id breaks ties so that offset pages never overlap."""
    if order_by is None:
        order_by = []
    if not isinstance(order_by, list):
        raise InvalidRequest("order_by must be a list.", param="order_by")
    terms: list[Any] = []
    last = "descending"
    for i, term in enumerate(order_by):
        where = f"order_by[{i}]"
        direction = term.get("direction") if isinstance(term, dict) else None
        if direction not in DIRECTIONS:
            raise InvalidRequest(
                f"{where}.direction must be 'ascending' or 'descending'.", param=where
            )
        last = str(direction)
        column = key(term, where)
        terms.append(column.asc() if last == "ascending" else column.desc())
    terms.append(id_column.asc() if last == "ascending" else id_column.desc())
    return terms


def relevance_key(search: str | None, columns: Sequence[Any], where: str) -> Any:
    if not search:
        raise InvalidRequest(
            f"{where}: ordering by search_relevance needs search_query_experimental.",
            param=where,
        )
    return search_relevance(search, columns)


def unknown_order(by: Any, where: str, known: Sequence[str]) -> InvalidRequest:
    return InvalidRequest(
        f"{where}.by must be one of {', '.join(known)}, not {by!r}.", param=f"{where}.by"
    )


def datapoint_order(order_by: Any, search: str | None) -> list[Any]:
    def key(term: dict[str, Any], where: str) -> Any:
        by = term.get("by")
        if by == "timestamp":
            return Datapoint.created_at
        if by == "search_relevance":
            return relevance_key(search, DATAPOINT_TEXT, where)
        raise unknown_order(by, where, ("timestamp", "search_relevance"))

    return order_terms(order_by, key, Datapoint.id)
