"""Per-row validation by schema type, producing a `Datapoint` or the reasons it is rejected.

Each row is checked fully, so a rejected row lists every problem found, not just the first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeAlias

import jsonschema
import orjson

from gristmill.ingest.model import Datapoint, Reason, reason
from gristmill.ingest.openai_checks import (
    ROLES,
    check_message,
    check_messages,
    check_tools,
    type_name,
)
from gristmill.ingest.schema import CHAT, GENERATION, JSON, PREFERENCE, RERANKING

Shaped: TypeAlias = tuple[dict[str, Any], Any, dict[str, Any]]

# Cells that hold structure; in CSV (and often Parquet) they arrive JSON-encoded.
_STRUCTURED = frozenset(
    {"messages", "tools", "input", "preferred_output", "non_preferred_output", "output_schema"}
)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_BOOLEAN_FIELDS = frozenset({"positive", "parallel_tool_calls"})


def _decoded(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def coerce_tabular(row: dict[str, Any], kind: str) -> dict[str, Any]:
    """Undo what a table does to a row: text for structure and booleans, and "" for absent."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, str):
            if not value:
                continue
            if (key in _STRUCTURED and not (kind == GENERATION and key == "input")) or (
                key == "output" and kind == JSON
            ):
                value = _decoded(value)
            elif key in _BOOLEAN_FIELDS:
                value = _BOOLEANS.get(value.strip().lower(), value)
        out[key] = value
    return out


def _rest(row: dict[str, Any], *used: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in used}


def _text(row: dict[str, Any], key: str) -> Reason | None:
    value = row.get(key)
    if isinstance(value, str) and value.strip():
        return None
    if value is None:
        why = f"{key} is missing"
    elif isinstance(value, str):
        why = f"{key} is empty"
    else:
        why = f"{key} is {type_name(value)}, not a string"
    return reason(f"missing_{key}", why)


def _chat(row: dict[str, Any]) -> Shaped | list[Reason]:
    problems = check_messages(row.get("messages")) + check_tools(row)
    if problems:
        return problems
    messages: list[dict[str, Any]] = row["messages"]
    last = len(messages) - 1
    while messages[last].get("role") != "assistant":
        last -= 1
    return {"messages": messages[:last]}, messages[last:], _rest(row, "messages")


def _generation(row: dict[str, Any]) -> Shaped | list[Reason]:
    if "prompt" not in row and "completion" not in row and "input" in row and "output" in row:
        # Scale GP's own item shape, as `contents.list` returns it: input is the prompt
        row = {"prompt": row["input"], "completion": row["output"], **_rest(row, "input", "output")}
    problems = [p for p in (_text(row, "prompt"), _text(row, "completion")) if p]
    if problems:
        return problems
    return {"prompt": row["prompt"]}, row["completion"], _rest(row, "prompt", "completion")


def _assistant_turns(value: Any, key: str) -> list[Reason]:
    code = f"invalid_{key}"
    if not isinstance(value, list) or not value:
        found = "missing" if value is None else type_name(value)
        return [reason(code, f"{key} must be a non-empty list of assistant messages ({found})")]
    problems: list[Reason] = []
    for i, message in enumerate(value, 1):
        label = f"{key} message {i}"
        problems.extend(check_message(message, label))
        role = message.get("role") if isinstance(message, dict) else None
        if role in ROLES and role != "assistant":
            problems.append(reason(code, f"{label} has role {role!r}; expected 'assistant'"))
    return problems


def _preference(row: dict[str, Any]) -> Shaped | list[Reason]:
    problems: list[Reason] = []
    given = row.get("input")
    if not isinstance(given, dict):
        problems.append(reason("missing_input", f"input is {type_name(given)}, not an object"))
    else:
        problems += check_messages(given.get("messages"), where="input.", require_assistant=False)
        problems += check_tools(given, where="input.")
    for key in ("preferred_output", "non_preferred_output"):
        problems += _assistant_turns(row.get(key), key)
    if problems or not isinstance(given, dict):
        return problems
    output = {key: row[key] for key in ("preferred_output", "non_preferred_output")}
    return given, output, _rest(row, "input", "preferred_output", "non_preferred_output")


def _reranking(row: dict[str, Any]) -> Shaped | list[Reason]:
    problems = [p for p in (_text(row, "question"), _text(row, "chunk")) if p]
    positive = row.get("positive")
    if not isinstance(positive, bool):
        found = "missing" if positive is None else f"{type_name(positive)}, not a boolean"
        problems.append(reason("invalid_positive", f"positive is {found}"))
    if problems:
        return problems
    given = {"question": row["question"], "chunk": row["chunk"]}
    return given, {"positive": positive}, _rest(row, "question", "chunk", "positive")


@lru_cache(maxsize=64)
def _compiled(schema_json: bytes) -> jsonschema.protocols.Validator | str:
    """A validator for one output schema, or why the schema is invalid. Files usually repeat
    one schema on every row, so it is checked and compiled once."""
    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"output_schema is not a valid JSON Schema: {exc.message}"
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _schema_problem(schema: Any, output: Any) -> Reason | None:
    if not isinstance(schema, dict | bool):
        return reason(
            "invalid_output_schema", f"output_schema is {type_name(schema)}, not an object"
        )
    compiled = _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if isinstance(compiled, str):
        return reason("invalid_output_schema", compiled)
    # TensorZero exports json outputs as {"raw": ..., "parsed": ...}; the parsed value counts.
    if isinstance(output, dict) and "parsed" in output and set(output) <= {"raw", "parsed"}:
        output = output["parsed"]
    error = jsonschema.exceptions.best_match(compiled.iter_errors(output))
    if error is None:
        return None
    return reason(
        "output_schema_mismatch",
        f"output does not match output_schema at {error.json_path}: {error.message}",
    )


def _json(row: dict[str, Any]) -> Shaped | list[Reason]:
    problems: list[Reason] = []
    given = row.get("input")
    if not isinstance(given, dict):
        problems.append(reason("missing_input", f"input is {type_name(given)}, not an object"))
    output = row.get("output")
    if output is None:
        problems.append(reason("missing_output", "output is missing"))
    elif "output_schema" in row:
        problem = _schema_problem(row["output_schema"], output)
        if problem:
            problems.append(problem)
    if problems or not isinstance(given, dict):
        return problems
    return given, output, _rest(row, "input", "output")


_SHAPERS: dict[str, Callable[[dict[str, Any]], Shaped | list[Reason]]] = {
    CHAT: _chat,
    GENERATION: _generation,
    PREFERENCE: _preference,
    RERANKING: _reranking,
    JSON: _json,
}


def normalize(
    kind: str, row: Any, *, line: int, raw: Any, tabular: bool = False
) -> Datapoint | list[Reason]:
    if not isinstance(row, dict):
        return [reason("data_type", f"the row is {type_name(row)}, not an object")]
    if tabular:
        row = coerce_tabular(row, kind)
    shaped = _SHAPERS[kind](row)
    if isinstance(shaped, list):
        return shaped
    given, output, extra = shaped
    return Datapoint(line=line, kind=kind, input=given, output=output, extra=extra, raw=raw)
