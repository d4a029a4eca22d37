"""TensorZero's `from_inferences`, fed from Gristmill's own inference logs.

A log becomes the same chat datapoint that a log dataset holds (`log_rows.datapoint_values`):
input = the request's messages, output = the assistant message, tags = gateway, provider and
model. TensorZero's inference vocabulary maps onto logs as follows:

====================  =====================================================================
TensorZero            inference log
====================  =====================================================================
inference id          log id
function_name         metadata `function_name`, else the gateway id (as in log datasets)
variant_name          model
episode_id            metadata `episode_id`
tag filter            metadata[key]; `gateway_id`, `provider`, `model` are the log's fields
time filter           created_at
float_metric          `feedback` (-1, 0, 1) or `score`; a log without it never matches
boolean_metric        `feedback`: true is positive feedback, false negative
output_source         `inference` (default) or `none`; logs have no demonstrations
====================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.services.accounts import Principal
from gristmill.services.datapoints import checks, filters
from gristmill.services.datapoints.datapoints import (
    DEFAULT_LIMIT,
    ID_BATCH,
    batches,
    check_count,
    dataset_for_create,
    insert_rows,
)
from gristmill.services.errors import InvalidRequest, NotFound

# the columns `datapoint_values` reads, selected as log datasets select them
from gristmill.services.logs.rows import LOG_COLUMNS as _COLUMNS
from gristmill.services.logs.rows import datapoint_values
from gristmill.store.metadata.models import InferenceLog

OUTPUT_SOURCES = ("inference", "none", "demonstration")
MAX_QUERY_LIMIT = 10_000
_TEXT = (InferenceLog.request, InferenceLog.response)
_METRICS = {"feedback": InferenceLog.feedback, "score": InferenceLog.score}
_FIELD_TAGS = {
    "gateway_id": InferenceLog.gateway_id,
    "provider": InferenceLog.provider,
    "model": InferenceLog.model,
}


@dataclass(frozen=True)
class LogSelection:
    """Either `inference_ids`, or a query (every other field)."""

    inference_ids: Sequence[Any] | None = None
    function_name: str | None = None
    variant_name: str | None = None
    episode_id: str | None = None
    filter: Any = None
    order_by: Any = None
    search: str | None = None
    limit: int | None = None
    offset: int | None = None
    before: str | None = None
    after: str | None = None


def _metadata(key: str) -> Any:
    return InferenceLog.metadata_[key].as_string()


def _tag(node: dict[str, Any], where: str) -> Any:
    key = node.get("key")
    column = _FIELD_TAGS.get(key) if isinstance(key, str) else None
    if column is not None:
        compare = filters.comparison(node, where, filters.TAG_OPERATORS)
        return compare(func.coalesce(column, ""), node.get("value"))
    return filters.tag_condition(InferenceLog.metadata_, node, where)


def _metric(node: dict[str, Any], where: str) -> Any:
    name = node.get("metric_name")
    if name not in _METRICS:
        raise InvalidRequest(
            f"{where}.metric_name must be 'feedback' or 'score': those are the metrics a "
            f"log has, not {name!r}.",
            param=f"{where}.metric_name",
        )
    column = _METRICS[name]
    value = node.get("value")
    if node.get("type") == "boolean_metric":
        if not isinstance(value, bool) or name != "feedback":
            raise InvalidRequest(
                f"{where}: a boolean_metric filter is on 'feedback' with a boolean value.",
                param=where,
            )
        return column > 0 if value else column < 0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRequest(f"{where}.value must be a number.", param=f"{where}.value")
    compare = filters.comparison(node, where, tuple(filters.COMPARISONS))
    # a log without the metric never matches, under `not` too, as TensorZero's join has it
    return and_(column.is_not(None), compare(column, value))


def _no_demonstrations(node: dict[str, Any], where: str) -> Any:
    raise InvalidRequest(
        f"{where}: Gristmill's inference logs have no demonstrations.", param=where
    )


LOG_LEAVES: dict[str, filters.Leaf] = {
    "tag": _tag,
    "time": lambda n, w: filters.time_condition(InferenceLog.created_at, n, w),
    "float_metric": _metric,
    "boolean_metric": _metric,
    "demonstration_feedback": _no_demonstrations,
}


def _order(sel: LogSelection) -> list[Any]:
    def key(term: dict[str, Any], where: str) -> Any:
        by = term.get("by")
        if by == "timestamp":
            return InferenceLog.created_at
        if by == "metric" and term.get("name") in _METRICS:
            return _METRICS[term["name"]]
        if by == "search_relevance":
            return filters.relevance_key(sel.search, _TEXT, where)
        raise filters.unknown_order(by, where, ("timestamp", "metric", "search_relevance"))

    return filters.order_terms(sel.order_by, key, InferenceLog.id)


def _query(account_id: str, sel: LogSelection) -> Any:
    where: list[Any] = [InferenceLog.account_id == account_id]
    if sel.function_name:
        named = _metadata("function_name")
        where.append(
            or_(
                named == sel.function_name,
                and_(named.is_(None), InferenceLog.gateway_id == sel.function_name),
            )
        )
    if sel.variant_name:
        where.append(InferenceLog.model == sel.variant_name)
    if sel.episode_id:
        where.append(_metadata("episode_id") == sel.episode_id)
    if sel.filter is not None:
        where.append(filters.compile_filter(sel.filter, LOG_LEAVES, "filters"))
    if sel.search:
        where.append(filters.search_condition(sel.search, _TEXT))
    if sel.before:
        where.append(InferenceLog.id < checks.check_uuid(sel.before, "before"))
    if sel.after:
        where.append(InferenceLog.id > checks.check_uuid(sel.after, "after"))
    limit = DEFAULT_LIMIT if sel.limit is None else sel.limit
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_QUERY_LIMIT}.", param="limit")
    offset = sel.offset or 0
    if offset < 0:
        raise InvalidRequest("offset must not be negative.", param="offset")
    # paging after an id reads forward in time; everything else newest first
    order = [InferenceLog.id.asc()] if sel.after and not sel.order_by else _order(sel)
    return select(*_COLUMNS).where(*where).order_by(*order).offset(offset).limit(limit)


def _by_ids(s: Session, account_id: str, ids: Sequence[Any]) -> list[Any]:
    check_count(len(ids), "inference_ids")
    wanted = [checks.check_uuid(v, f"inference_ids[{i}]") for i, v in enumerate(ids)]
    found: dict[str, Any] = {}
    for batch in batches(wanted, ID_BATCH):
        q = select(*_COLUMNS).where(
            InferenceLog.account_id == account_id, InferenceLog.id.in_(batch)
        )
        found.update((row.id, row) for row in s.execute(q))
    for i, log_id in enumerate(wanted):
        if log_id not in found:
            raise NotFound(f"Inference {log_id} not found.", param=f"inference_ids[{i}]")
    return [found[i] for i in dict.fromkeys(wanted)]


def create_from_logs(
    hub: Hub,
    caller: Principal,
    dataset_name: str,
    selection: LogSelection,
    output_source: str | None = None,
) -> list[str]:
    """One chat datapoint per selected log, in the named dataset (made if new)."""
    source = output_source or "inference"
    if source not in OUTPUT_SOURCES:
        raise InvalidRequest(
            f"output_source must be one of {', '.join(OUTPUT_SOURCES)}, not {source!r}.",
            param="output_source",
        )
    if source == "demonstration":
        raise InvalidRequest(
            "Gristmill's inference logs have no demonstrations: use output_source "
            "'inference' or 'none'.",
            param="output_source",
        )
    with hub.db.session() as s:
        if selection.inference_ids is not None:
            logs = _by_ids(s, caller.account_id, selection.inference_ids)
        else:
            logs = list(s.execute(_query(caller.account_id, selection)))
        if not logs:
            return []
        ds = dataset_for_create(s, caller, dataset_name, {"chat"})
        rows = []
        for log in logs:
            row = datapoint_values(ds, log)
            metadata = log.metadata if isinstance(log.metadata, dict) else {}
            episode = metadata.get("episode_id")
            row.update(is_custom=False, episode_id=episode if isinstance(episode, str) else None)
            if source == "none":
                row["output"] = None
            rows.append(row)
        insert_rows(s, ds, rows)
    return [r["id"] for r in rows]
