"""Validation of hand-written datapoints (TensorZero's chat and json functions).

Every check raises `InvalidRequest` naming the offending field (`datapoints[3].output`), so
a client sending 10,000 datapoints learns which one is wrong. Values come back normalised:
string message content becomes a text block, tool calls carry both `name` and `raw_name`.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

import jsonschema
import orjson

from gristmill.services.errors import InvalidRequest

KINDS = ("chat", "json")
INPUT_BLOCKS = frozenset(
    {"text", "template", "tool_call", "tool_result", "raw_text", "thought", "file", "unknown"}
)
OUTPUT_BLOCKS = frozenset({"text", "tool_call", "thought", "unknown"})
TOOL_CHOICES = ("none", "auto", "required")
MAX_NAME = 300


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


def check_kind(value: Any, param: str) -> str:
    if value not in KINDS:
        raise InvalidRequest(
            f"Unknown function type {value!r} for {param}: expected 'chat' or 'json'.",
            param=param,
        )
    return str(value)


def check_text(value: Any, param: str, *, limit: int = MAX_NAME, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{param} must be a non-empty string.", param=param)
    if len(value) > limit:
        raise InvalidRequest(f"{param} is longer than {limit} characters.", param=param)
    return value


def check_uuid(value: Any, param: str) -> str:
    """Datapoint and inference ids are UUIDs; compare them in one canonical spelling."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidRequest(f"{param} is not a UUID: {value!r}.", param=param) from None


def check_tags(value: Any, param: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{param} must be a map of string to string.", param=param)
    for key, tag in value.items():
        if not isinstance(tag, str):
            raise InvalidRequest(
                f"{param}.{key} must be a string, not {type_name(tag)}: tags map strings "
                "to strings.",
                param=f"{param}.{key}",
            )
    return value


# fields a block must carry for the client to parse it back (text may be legacy `arguments`)
_A: dict[type, str] = {str: "a string", dict: "an object"}
_REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "template": (("name", str), ("arguments", dict)),
    "tool_result": (("id", str), ("name", str), ("result", str)),
    "raw_text": (("value", str),),
}


def _blocks(content: Any, allowed: frozenset[str], param: str, *, output: bool) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{param} must be a list of content blocks.", param=param)
    out: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        where = f"{param}[{i}]"
        if isinstance(block, str):
            block = {"type": "text", "text": block}
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in allowed:
            raise InvalidRequest(
                f"{where} has unknown content block type {kind!r}: expected one of "
                f"{', '.join(sorted(allowed))}.",
                param=where,
            )
        if kind == "text" and not isinstance(block.get("text"), str) and "arguments" not in block:
            raise InvalidRequest(f"{where}.text must be a string.", param=f"{where}.text")
        if kind == "unknown" and "data" not in block:
            raise InvalidRequest(f"{where}: an unknown block needs data.", param=where)
        for key, kind_of in _REQUIRED.get(str(kind), ()):
            if not isinstance(block.get(key), kind_of):
                raise InvalidRequest(
                    f"{where}.{key} must be {_A[kind_of]}.", param=f"{where}.{key}"
                )
        if kind == "tool_call":
            block = _tool_call(block, where) if output else _input_tool_call(block, where)
        out.append(block)
    return out


def _input_tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A tool call in an input message: `arguments` is the JSON text the model produced."""
    if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
        raise InvalidRequest(f"{where}: a tool_call needs a string id and name.", param=where)
    arguments = block.get("arguments")
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments if arguments is not None else {}).decode()
    return {**block, "arguments": arguments}


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A tool call in an output is read back by clients that need `raw_name` and
    `raw_arguments` as well as the parsed `name` and `arguments`; fill in the missing half."""
    name = block.get("name") or block.get("raw_name")
    if not isinstance(block.get("id"), str) or not isinstance(name, str):
        raise InvalidRequest(f"{where}: a tool_call needs a string id and name.", param=where)
    arguments, raw = block.get("arguments"), block.get("raw_arguments")
    if not isinstance(raw, str):
        raw = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
    if arguments is None or isinstance(arguments, str):
        try:
            arguments = orjson.loads(raw)
        except orjson.JSONDecodeError:
            arguments = None  # the model's text was not JSON: kept raw, as TensorZero does
    return {
        **block,
        "name": block.get("name") or name,
        "raw_name": block.get("raw_name") or name,
        "arguments": arguments,
        "raw_arguments": raw,
    }


def check_input(value: Any, param: str) -> dict[str, Any]:
    """A TensorZero input: `{"system"?: str | object, "messages": [{role, content}]}`."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"{param} must be an object with messages.", param=param)
    system = value.get("system")
    if system is not None and not isinstance(system, str | dict):
        raise InvalidRequest(f"{param}.system must be a string or an object.", param=param)
    messages = value.get("messages") or []
    if not isinstance(messages, list):
        raise InvalidRequest(f"{param}.messages must be a list.", param=f"{param}.messages")
    checked = []
    for i, message in enumerate(messages):
        where = f"{param}.messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f"{where}.role must be 'user' or 'assistant', not {role!r}.", param=where
            )
        content = _blocks(message.get("content"), INPUT_BLOCKS, f"{where}.content", output=False)
        checked.append({**message, "content": content})
    out: dict[str, Any] = {"messages": checked}
    if system is not None:
        out["system"] = system
    return out


def check_chat_output(value: Any, param: str) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    return _blocks(value, OUTPUT_BLOCKS, param, output=True)


@lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> jsonschema.protocols.Validator | str:
    """A compiled validator, or why the schema is invalid. A bulk request usually repeats one
    schema on every datapoint, so it is checked and compiled once."""
    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return exc.message
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def check_output_schema(schema: Any, param: str) -> jsonschema.protocols.Validator | None:
    if schema is None:
        return None
    if not isinstance(schema, dict | bool):
        raise InvalidRequest(f"{param} must be a JSON Schema object.", param=param)
    compiled = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if isinstance(compiled, str):
        raise InvalidRequest(f"{param} is not a valid JSON Schema: {compiled}", param=param)
    return compiled


def check_json_output(output: Any, schema: Any, param: str, schema_param: str) -> None:
    validator = check_output_schema(schema, schema_param)
    if validator is None or output is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(output))
    if error is not None:
        raise InvalidRequest(
            f"{param} does not match {schema_param} at {error.json_path}: {error.message}",
            param=param,
        )


def parse_raw_output(raw: Any, param: str) -> Any:
    """TensorZero sends a json datapoint's output as `{"raw": "<JSON text>"}`."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidRequest(f"{param}.raw must be a string of JSON.", param=f"{param}.raw")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{param}.raw is not valid JSON: {exc}", param=f"{param}.raw"
        ) from None


TOOL_FIELDS = ("allowed_tools", "additional_tools", "tool_choice", "parallel_tool_calls")


def _tool(tool: Any, where: str) -> dict[str, Any]:
    """A dynamic tool as the client parses it back: a function tool with all its fields."""
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise InvalidRequest(f"{where} must be a tool object with a name.", param=where)
    if tool.get("type", "function") != "function":
        return tool  # other tool kinds (e.g. openai_custom) need only a name
    return {
        "type": "function",
        "description": "",
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
        **tool,
    }


def _valid_tool_value(key: str, value: Any) -> bool:
    if key == "allowed_tools":
        return isinstance(value, list) and all(isinstance(t, str) for t in value)
    if key == "tool_choice":
        specific = isinstance(value, dict) and isinstance(value.get("specific"), str)
        return value in TOOL_CHOICES or specific
    return isinstance(value, bool)  # parallel_tool_calls


def check_tool_field(key: str, value: Any, param: str) -> Any:
    """One dynamic tool parameter of a chat datapoint; None clears it."""
    where = f"{param}.{key}" if param else key
    if value is None:
        return None
    if key == "additional_tools":
        if not isinstance(value, list):
            raise InvalidRequest(f"{where} must be a list of tools.", param=where)
        return [_tool(t, f"{where}[{i}]") for i, t in enumerate(value)]
    if not _valid_tool_value(key, value):
        raise InvalidRequest(f"{where} has an invalid value: {value!r}.", param=where)
    return value
