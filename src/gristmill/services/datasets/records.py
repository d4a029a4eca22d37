"""A stored datapoint turned back into the training record of its kind.

Ingestion splits a row into `input` / `output` / `extra` (see `gristmill.ingest`); this is the
inverse, so an export of an ingested file holds the rows that were uploaded. Every door that
hands rows back (downloads, contents listings, exports) should build them here.

=====================  ==================================================================
kind                   record
=====================  ==================================================================
chat                   {"messages": input.messages + output, **extra}  (tools, ...)
generation             {"prompt": input.prompt, "completion": output, **extra}
preference             {"input": input, "preferred_output": ..., "non_preferred_output": ...}
reranking_questions    {"question": ..., "chunk": ..., "positive": output.positive}
json                   {"input": input, "output": output, "output_schema"?: ...}
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gristmill.store.metadata.models import Datapoint

# The fields each kind's record always has, in the order a table should show them.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "chat": ("messages",),
    "generation": ("prompt", "completion"),
    "preference": ("input", "preferred_output", "non_preferred_output"),
    "reranking_questions": ("question", "chunk", "positive"),
    "json": ("input", "output"),
}

# Stored beside `extra` rather than inside it; in the record they are ordinary fields again.
SIDE_FIELDS = ("output_schema", "tool_params")


def _core(kind: str, given: Any, output: Any) -> dict[str, Any]:
    given = given if isinstance(given, dict) else {}
    if kind == "chat":
        tail = output if isinstance(output, list) else [] if output is None else [output]
        return {"messages": [*given.get("messages", []), *tail]}
    if kind == "generation":
        return {"prompt": given.get("prompt"), "completion": output}
    if kind == "preference":
        out = output if isinstance(output, dict) else {}
        return {
            "input": given,
            "preferred_output": out.get("preferred_output"),
            "non_preferred_output": out.get("non_preferred_output"),
        }
    if kind == "reranking_questions":
        positive = output.get("positive") if isinstance(output, dict) else output
        return {
            "question": given.get("question"),
            "chunk": given.get("chunk"),
            "positive": positive,
        }
    return {"input": given, "output": output}


def training_record(
    kind: str,
    given: Any,
    output: Any,
    *,
    extra: Mapping[str, Any] | None = None,
    output_schema: Any = None,
    tool_params: Any = None,
) -> dict[str, Any]:
    """The record for one row; fields in `extra` never override the kind's own fields."""
    record = _core(kind, given, output)
    for key, value in (extra or {}).items():
        record.setdefault(key, value)
    for key, value in (("output_schema", output_schema), ("tool_params", tool_params)):
        if value is not None:
            record.setdefault(key, value)
    return record


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """From a mapping with Datapoint's field names (e.g. a decoded snapshot row)."""
    return training_record(
        row["kind"],
        row.get("input"),
        row.get("output"),
        extra=row.get("extra"),
        output_schema=row.get("output_schema"),
        tool_params=row.get("tool_params"),
    )


def record_of_datapoint(dp: Datapoint) -> dict[str, Any]:
    return training_record(
        dp.kind,
        dp.input,
        dp.output,
        extra=dp.extra,
        output_schema=dp.output_schema,
        tool_params=dp.tool_params,
    )
