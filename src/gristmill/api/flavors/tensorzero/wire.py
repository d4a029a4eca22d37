"""TensorZero wire format: request bodies decoded into service calls, responses and errors.

Updates: the current `tensorzero` client sends every key of an update, with `null` for the
fields the caller left out (its OMIT) as well as for those set to None, so the wire cannot
tell "leave it" from "clear it". Gristmill reads `null` as "leave it", so an update through
the client changes only what it sets (TensorZero's own gateway would clear the rest). To empty
an output: `[]` for chat, `{"raw": null}` for json; to clear a name: the metadata route, where
`name: null` does clear it. Tool settings can be replaced, not cleared.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel

from gristmill.api.envelopes import Problem
from gristmill.services.datapoints.checks import TOOL_FIELDS, parse_raw_output
from gristmill.services.datapoints.datapoints import DEFAULT_LIMIT, DatapointQuery, NewDatapoint
from gristmill.services.datapoints.from_logs import LogSelection
from gristmill.services.datapoints.updates import DatapointChange
from gristmill.services.errors import InvalidRequest

_COMMON = ("input", "output", "tags", "name")
UPDATABLE = {"chat": (*_COMMON, *TOOL_FIELDS), "json": (*_COMMON, "output_schema")}


class CreateDatapointsResponse(BaseModel):
    ids: list[str]


class UpdateDatapointsResponse(BaseModel):
    ids: list[str]


class DeleteDatapointsResponse(BaseModel):
    num_deleted_datapoints: int


class GetDatapointsResponse(BaseModel):
    """Documents the list/get reply; the routes encode it directly with orjson."""

    datapoints: list[dict[str, Any]]


def json_response(content: Any) -> Response:
    """Rendered datapoints go out through orjson: they hold stored JSON as `orjson.Fragment`s,
    which pydantic cannot serialise, and re-validating them would cost more than the query."""
    return Response(orjson.dumps(content), media_type="application/json")


def render_error(p: Problem) -> dict[str, Any]:
    # the tensorzero client raises TensorZeroError(status_code, text) with this body as text
    return {"error": p.message}


def _object(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where} must be an object.", param=where)
    return item


def _tool_params(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in TOOL_FIELDS if item.get(key) is not None}


def _json_output(output: Any, where: str) -> Any:
    if not isinstance(output, dict):
        raise InvalidRequest(
            f'{where}.output must be an object {{"raw": ...}}.', param=f"{where}.output"
        )
    return parse_raw_output(output.get("raw"), f"{where}.output")


def new_datapoint(item: Any, where: str, *, legacy: bool = False) -> NewDatapoint:
    """One datapoint of `POST /v1/datasets/{name}/datapoints` (or of the older bulk route,
    where a json datapoint's output is the object itself and the type may be left out)."""
    item = _object(item, where)
    kind = item.get("type")
    output = item.get("output")
    if legacy and kind is None:
        # the gateway looks the type up in its function config; Gristmill reads the shape
        kind = "json" if "output_schema" in item or isinstance(output, dict) else "chat"
    if kind == "json" and not legacy and output is not None:
        output = _json_output(output, where)
    return NewDatapoint(
        kind=kind,
        function_name=item.get("function_name"),
        input=item.get("input"),
        output=output,
        output_schema=item.get("output_schema") if kind == "json" else None,
        tool_params=_tool_params(item) if kind == "chat" else {},
        tags=item.get("tags"),
        name=item.get("name"),
        episode_id=item.get("episode_id"),
    )


def legacy_datapoint(item: Any, where: str) -> NewDatapoint:
    return new_datapoint(item, where, legacy=True)


def datapoint_change(item: Any, where: str) -> DatapointChange:
    """One update of `PATCH /v1/datasets/{name}/datapoints`."""
    item = _object(item, where)
    kind = item.get("type")
    if kind not in UPDATABLE:
        raise InvalidRequest(
            f"Unknown function type {kind!r} for {where}.type: expected 'chat' or 'json'.",
            param=f"{where}.type",
        )
    # older clients nest the name and the tool fields; newer ones send them flat
    for nested in (item.get("metadata"), item.get("tool_params")):
        if isinstance(nested, dict):
            item = {**item, **{k: v for k, v in nested.items() if item.get(k) is None}}
    fields = {k: v for k, v in item.items() if v is not None and k in UPDATABLE[kind]}
    if "output" in fields and kind == "json":
        fields["output"] = _json_output(fields["output"], where)
    return DatapointChange(id=item.get("id"), kind=kind, fields=fields)


def name_change(item: Any, where: str) -> tuple[Any, bool, Any]:
    """One item of `PATCH /v1/datasets/{name}/datapoints/metadata`: (id, given, name)."""
    item = _object(item, where)
    metadata = item.get("metadata")
    if "name" not in item and isinstance(metadata, dict):
        item = {**item, **metadata}
    return item.get("id"), "name" in item, item.get("name")


def _count(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"{key} must be an integer.", param=key)
    return value


def list_query(body: dict[str, Any]) -> DatapointQuery:
    """`POST /v1/datasets/{name}/list_datapoints`; `page_size` is the deprecated `limit`."""
    limit = _count(body, "limit", _count(body, "page_size", DEFAULT_LIMIT))
    function_name = body.get("function_name")
    search = body.get("search_query_experimental")
    for key, value in (("function_name", function_name), ("search_query_experimental", search)):
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{key} must be a string.", param=key)
    return DatapointQuery(
        function_name=function_name,
        filter=body.get("filter"),
        order_by=body.get("order_by"),
        search=search,
        limit=limit,
        offset=_count(body, "offset", 0),
    )


def log_selection(body: dict[str, Any]) -> LogSelection:
    """`POST /v1/datasets/{name}/from_inferences`: inference ids, or an inference query."""
    kind = body.get("type")
    if kind == "inference_ids":
        return LogSelection(inference_ids=_list(body, "inference_ids"))
    if kind != "inference_query":
        raise InvalidRequest(
            f"type must be 'inference_ids' or 'inference_query', not {kind!r}.", param="type"
        )
    text = {}
    for key in ("function_name", "variant_name", "episode_id", "before", "after"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{key} must be a string.", param=key)
        text[key] = value
    search = body.get("search_query_experimental")
    if search is not None and not isinstance(search, str):
        raise InvalidRequest("search_query_experimental must be a string.", param="search")
    return LogSelection(
        **text,
        # `filter` is the deprecated spelling of `filters`
        filter=body["filters"] if body.get("filters") is not None else body.get("filter"),
        order_by=body.get("order_by"),
        search=search,
        limit=_count(body, "limit", DEFAULT_LIMIT),
        offset=_count(body, "offset", 0),
    )


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise InvalidRequest(f"{key} must be a list.", param=key)
    return value
