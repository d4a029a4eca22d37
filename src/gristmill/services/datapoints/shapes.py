"""How chat and json datapoints are stored, and how any stored row reads as a TensorZero one.

Gristmill stores chat rows the way ingest does, so every door and export reads them alike:
`input = {"messages": [...]}` with the system prompt as a leading `system` message, and
`output = [assistant message, ...]`. A datapoint written through the TensorZero door keeps its
content blocks verbatim inside those messages, so it reads back exactly as it was written.
Rows from other sources (OpenAI-style files, gateway logs) are translated on the way out:
string content becomes text blocks, `tool_calls` become tool_call blocks, `tool` messages
become tool_result blocks, and anything unknown is passed along as an `unknown` block rather
than breaking the client's parser.

A json row's `output` is the parsed value; TensorZero's `{"raw", "parsed"}` is made on read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Row

from gristmill.services.datapoints.checks import INPUT_BLOCKS, OUTPUT_BLOCKS, TOOL_FIELDS

AnyRow = Row[*tuple[Any, ...]]  # a Core result row of any columns
DEFAULT_FUNCTION = "tensorzero::default"  # TensorZero's function for plain model calls


def stored_input(tz_input: dict[str, Any]) -> dict[str, Any]:
    messages = list(tz_input.get("messages") or [])
    if tz_input.get("system") is not None:
        messages.insert(0, {"role": "system", "content": tz_input["system"]})
    return {"messages": messages}


def stored_chat_output(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    return None if blocks is None else [{"role": "assistant", "content": blocks}]


def stored_tool_params(fields: dict[str, Any]) -> dict[str, Any] | None:
    params = {k: v for k, v in fields.items() if k in TOOL_FIELDS and v is not None}
    return params or None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else orjson.dumps(content).decode()


def _block(part: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if isinstance(part, dict) and part.get("type") in allowed:
        return part
    return {"type": "unknown", "data": part}


def _arguments(raw: Any) -> Any:
    try:
        return orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        return None


def _tool_calls(message: dict[str, Any], *, output: bool) -> list[dict[str, Any]]:
    """OpenAI `tool_calls` as TensorZero tool_call blocks (outputs also carry raw fields)."""
    blocks = []
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") or {}
        name, raw = str(fn.get("name", "")), fn.get("arguments") or "{}"
        block: dict[str, Any] = {"type": "tool_call", "id": str(call.get("id", "")), "name": name}
        if output:
            block |= {"raw_name": name, "raw_arguments": raw, "arguments": _arguments(raw)}
        else:
            block["arguments"] = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
        blocks.append(block)
    return blocks


def _content(message: dict[str, Any], allowed: frozenset[str], *, output: bool) -> list[Any]:
    content = message.get("content")
    parts = content if isinstance(content, list) else [] if content is None else [content]
    return [_block(p, allowed) for p in parts] + _tool_calls(message, output=output)


def view_input(stored: Any) -> dict[str, Any]:
    if not isinstance(stored, dict):
        stored = {} if stored is None else {"value": stored}
    if "messages" not in stored and stored:
        # structured json-function input from a file: TensorZero's form for it is a template
        block = {"type": "template", "name": "user", "arguments": stored}
        return {"messages": [{"role": "user", "content": [block]}]}
    system = stored.get("system")
    messages: list[dict[str, Any]] = []
    for message in stored.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer") and system is None and not messages:
            content = message.get("content")
            system = content if isinstance(content, str | dict) else _text(content)
        elif role == "tool":
            result = {
                "type": "tool_result",
                "id": str(message.get("tool_call_id", "")),
                "name": str(message.get("name", "")),
                "result": _text(message.get("content")),
            }
            messages.append({"role": "user", "content": [result]})
        else:
            role = role if role in ("user", "assistant") else "user"
            messages.append(
                {"role": role, "content": _content(message, INPUT_BLOCKS, output=False)}
            )
    view: dict[str, Any] = {"messages": messages}
    if system is not None:
        view["system"] = system
    return view


def view_chat_output(stored: Any) -> list[dict[str, Any]] | None:
    if stored is None:
        return None
    blocks: list[dict[str, Any]] = []
    for item in stored if isinstance(stored, list) else [stored]:
        if isinstance(item, dict) and "role" in item:
            blocks += _content(item, OUTPUT_BLOCKS, output=True)
        else:
            blocks.append(_block(item, OUTPUT_BLOCKS))
    return blocks


def view_json_output(output: Any, is_custom: bool) -> dict[str, Any] | None:
    if output is None:
        return None
    # TensorZero exports ingested from a file already hold {"raw", "parsed"}
    if not is_custom and isinstance(output, dict) and set(output) == {"raw", "parsed"}:
        return output
    return {"raw": orjson.dumps(output).decode(), "parsed": output}


def _openai_tool(tool: Any) -> Any:
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict):
        return tool
    return {
        "type": "function",
        "name": fn.get("name", ""),
        "description": fn.get("description", ""),
        "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
        "strict": bool(fn.get("strict", False)),
    }


def view_tool_params(tool_params: Any, extra: Any) -> dict[str, Any]:
    params = dict(tool_params) if isinstance(tool_params, dict) else {}
    extra = extra if isinstance(extra, dict) else {}
    if "additional_tools" not in params and isinstance(extra.get("tools"), list):
        params["additional_tools"] = [_openai_tool(t) for t in extra["tools"]]
    for key in ("tool_choice", "parallel_tool_calls"):
        if key not in params and key in extra:
            params[key] = extra[key]
    return {key: params.get(key) for key in TOOL_FIELDS}


NO_TOOL_PARAMS = view_tool_params(None, None)


def _parsed(raw: str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def _is_null(raw: str | None) -> bool:
    """SQL NULL or a stored JSON null."""
    return raw is None or raw == "null"


def _as_is(raw: str | None) -> Any:
    """Stored JSON text, passed into the response without parsing and re-encoding it."""
    return None if _is_null(raw) else orjson.Fragment(cast(str, raw))


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    # isoformat takes half the time of strftime, and a page renders two of these per row
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def tensorzero_view(dp: AnyRow, dataset_name: str) -> dict[str, Any]:
    """The datapoint as TensorZero's client parses it (`DatapointChat` / `DatapointJson`);
    `dp` is a row of `datapoints.VIEW_COLUMNS`, whose JSON columns are read as text: a list
    page renders 100s of rows, and most of their JSON goes out as it is stored."""
    tags = _as_is(dp.tags)
    view: dict[str, Any] = {
        "type": "json" if dp.kind == "json" else "chat",
        "id": dp.id,
        "dataset_name": dataset_name,
        "function_name": dp.function_name or DEFAULT_FUNCTION,
        "name": dp.name,
        "episode_id": dp.episode_id,
        "input": view_input(_parsed(dp.input)),
        "tags": {} if tags is None else tags,
        "auxiliary": "",
        # TensorZero marks deleted and superseded datapoints stale; is_deleted stays false
        "is_deleted": False,
        "is_custom": dp.is_custom,
        "source_inference_id": dp.source_inference_id,
        "staled_at": timestamp(dp.staled_at),
        "updated_at": timestamp(dp.updated_at),
    }
    if view["type"] == "json":
        view["output"] = view_json_output(_parsed(dp.output), dp.is_custom)
        view["output_schema"] = _as_is(dp.output_schema)
    else:
        view["output"] = view_chat_output(_parsed(dp.output))
        if _is_null(dp.tool_params) and _is_null(dp.extra):
            view |= NO_TOOL_PARAMS
        else:
            view |= view_tool_params(_parsed(dp.tool_params), _parsed(dp.extra))
        view["provider_tools"] = []
    return view
