"""Realistic rows for each schema type, and writers that put them into real files."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from gristmill.ingest import Datapoint, IngestReader, RowError

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

CHAT: list[dict[str, Any]] = [
    {
        "messages": [
            {"role": "system", "content": "You are Acme Bank's support assistant. Be concise."},
            {"role": "user", "content": "How do I reset my online banking password?"},
            {
                "role": "assistant",
                "content": "Open the login page, choose 'Forgot password', and follow the link "
                "we email you. The link expires after 30 minutes.",
            },
        ]
    },
    {
        "messages": [
            {"role": "system", "content": "You are a terse SQL tutor."},
            {"role": "user", "content": "What does LEFT JOIN do?"},
            {
                "role": "assistant",
                "content": "It keeps every row of the left table, with NULLs where the right "
                "table has no match.",
                "weight": 0,
            },
            {"role": "user", "content": "And a FULL OUTER JOIN?"},
            {
                "role": "assistant",
                "content": "It keeps unmatched rows from both sides.",
                "weight": 1,
            },
        ]
    },
    {
        "messages": [
            {"role": "system", "content": "You help travellers. Use tools when useful."},
            {"role": "user", "content": "Do I need an umbrella in Lisbon today?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_8f2a",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"city": "Lisbon", "unit": "celsius"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_8f2a", "content": '{"temp": 19, "rain": 0.8}'},
            {"role": "assistant", "content": "Yes: rain is very likely in Lisbon today (80%)."},
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    },
    {
        "messages": [
            {"role": "developer", "content": "Answer in French."},
            {
                "role": "user",
                "name": "marie",
                "content": [{"type": "text", "text": "Quelle est la capitale du Canada ?"}],
            },
            {"role": "assistant", "content": "La capitale du Canada est Ottawa."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Summarise: 'The meeting moved from 3pm to 4pm.'"},
            {"role": "assistant", "content": "The meeting is now at 4pm. ✅"},
        ]
    },
]

GENERATION: list[dict[str, Any]] = [
    {
        "prompt": "Write a one-line product description for a stainless steel water bottle.",
        "completion": "Keeps drinks cold for 24 hours and hot for 12, in brushed steel.",
    },
    {
        "prompt": "Translate to German: 'Where is the train station?'",
        "completion": "Wo ist der Bahnhof?",
    },
    {
        "prompt": "Classify the sentiment: 'The checkout flow kept crashing, so frustrating.'",
        "completion": "negative",
    },
    {
        "prompt": "Q: What is the boiling point of water at sea level in Fahrenheit?\nA:",
        "completion": " 212°F",
    },
]

PREFERENCE: list[dict[str, Any]] = [
    {
        "input": {
            "messages": [
                {"role": "system", "content": "You are a helpful writing assistant."},
                {"role": "user", "content": "Suggest a title for a blog post about sourdough."},
            ]
        },
        "preferred_output": [
            {"role": "assistant", "content": "Slow Rise: What Sourdough Taught Me About Patience"}
        ],
        "non_preferred_output": [{"role": "assistant", "content": "Bread Post"}],
    },
    {
        "input": {
            "messages": [
                {"role": "user", "content": "Explain recursion to a ten-year-old."},
                {"role": "assistant", "content": "Sure! Do you know Russian dolls?"},
                {"role": "user", "content": "Yes, go on."},
            ]
        },
        "preferred_output": [
            {
                "role": "assistant",
                "content": "Each doll holds a smaller one, until the tiniest, which holds none. "
                "Recursion solves a problem by solving a smaller copy of it, down to the tiniest.",
            }
        ],
        "non_preferred_output": [
            {"role": "assistant", "content": "Recursion is when a function calls itself."}
        ],
    },
    {
        "input": {
            "messages": [{"role": "user", "content": "Is 2027 a leap year?"}],
        },
        "preferred_output": [{"role": "assistant", "content": "No. 2027 is not divisible by 4."}],
        "non_preferred_output": [{"role": "assistant", "content": "Yes, it is."}],
    },
]

RERANKING: list[dict[str, Any]] = [
    {
        "question": "What is the refund window for annual plans?",
        "chunk": "Annual subscriptions can be refunded in full within 30 days of purchase.",
        "positive": True,
    },
    {
        "question": "What is the refund window for annual plans?",
        "chunk": "Our offices are closed on public holidays in the UK.",
        "positive": False,
    },
    {
        "question": "How do I rotate an API key?",
        "chunk": "To rotate a key, create a new key, deploy it, then revoke the old key.",
        "positive": True,
    },
    {
        "question": "How do I rotate an API key?",
        "chunk": "Invoices are emailed on the first business day of each month.",
        "positive": False,
    },
]

PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}

JSON: list[dict[str, Any]] = [
    {
        "function_name": "extract_person",
        "input": {
            "system": "Extract the person mentioned.",
            "messages": [{"role": "user", "content": "Ada Lovelace died aged 36."}],
        },
        "output": {"name": "Ada Lovelace", "age": 36},
        "output_schema": PERSON_SCHEMA,
    },
    {
        "function_name": "extract_person",
        "input": {
            "system": "Extract the person mentioned.",
            "messages": [{"role": "user", "content": "Grace Hopper lived to be 85."}],
        },
        "output": {"name": "Grace Hopper", "age": 85},
        "output_schema": PERSON_SCHEMA,
    },
    {
        "function_name": "extract_person",
        "input": {
            "system": "Extract the person mentioned.",
            "messages": [{"role": "user", "content": "Alan Turing was 41."}],
        },
        "output": {"name": "Alan Turing", "age": 41},
        "output_schema": PERSON_SCHEMA,
    },
]

SAMPLES: dict[str, list[dict[str, Any]]] = {
    "chat": CHAT,
    "generation": GENERATION,
    "preference": PREFERENCE,
    "reranking_questions": RERANKING,
    "json": JSON,
}


def jsonl_bytes(rows: list[Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def json_bytes(rows: list[Any]) -> bytes:
    return json.dumps(rows, indent=2, ensure_ascii=False).encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Nested columns stay nested where Arrow can type them; others are stored as JSON text,
    as tools that export chat data to Parquet commonly do."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    arrays = {}
    for name in columns:
        values = [row.get(name) for row in rows]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if v is None else json.dumps(v) for v in values])
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink)
    return sink.getvalue()


WRITERS = {"jsonl": jsonl_bytes, "json": json_bytes, "csv": csv_bytes, "parquet": parquet_bytes}


def compress(data: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def ingest(reader: IngestReader) -> tuple[list[Datapoint], list[RowError]]:
    """Read everything: all good rows and all per-row errors, in order."""
    rows: list[Datapoint] = []
    errors: list[RowError] = []
    with reader:
        for batch in reader:
            rows.extend(batch.rows)
            errors.extend(batch.errors)
    return rows, errors
