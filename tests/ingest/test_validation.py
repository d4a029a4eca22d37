"""Bad rows become per-row errors with exact line numbers; good rows carry on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gristmill.ingest import IngestReader, RowError
from tests.ingest.samples import (
    CHAT,
    PERSON_SCHEMA,
    SAMPLES,
    csv_bytes,
    ingest,
    jsonl_bytes,
    write,
)


def codes(errors: list[RowError]) -> dict[int, list[str]]:
    return {e.line: [r["code"] for r in e.reasons] for e in errors}


def chat_row(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are a support agent for a bike shop."},
            {"role": "user", "content": f"Order #{1000 + i}: when will my helmet ship?"},
            {"role": "assistant", "content": f"Order #{1000 + i} ships within 2 business days."},
        ]
    }


BAD_LINES = {
    7: b'{"messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assi',
    23: json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "bot", "content": "Hello! How can I help?"},
                {"role": "assistant", "content": "Hello!"},
            ]
        }
    ).encode(),
    41: json.dumps(
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "Yes?"}]}
    ).encode(),
    68: json.dumps(
        {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]}
    ).encode(),
    90: b'{"messages": [{"role": "user", "content": "caf\xe9?"}, '
    b'{"role": "assistant", "content": "Yes, the caf\xe9 is open."}]}',
}
EXPECTED = {
    7: [{"code": "invalid_json", "message": "not valid JSON: unexpected end of data"}],
    23: [{"code": "unrecognized_role", "message": "message 2 has unrecognized role 'bot'"}],
    41: [{"code": "missing_content", "message": "message 1 has empty content"}],
    68: [
        {
            "code": "example_missing_assistant_message",
            "message": "messages have no assistant message",
        }
    ],
    90: [{"code": "invalid_utf8", "message": "not valid UTF-8 (invalid byte at offset 46)"}],
}


def test_five_percent_malformed_jsonl_reports_exactly_those_lines(tmp_path: Path) -> None:
    lines = [BAD_LINES.get(n) or json.dumps(chat_row(n)).encode() for n in range(1, 101)]
    path = write(tmp_path, "support.jsonl", b"\n".join(lines) + b"\n")
    reader = IngestReader(path, batch_size=16)
    rows, errors = ingest(reader)
    assert reader.schema_type == "chat"
    assert [(e.line, e.reasons) for e in errors] == sorted(EXPECTED.items())
    assert [d.line for d in rows] == [n for n in range(1, 101) if n not in BAD_LINES]
    assert (reader.rows_valid, reader.rows_rejected) == (95, 5)
    assert rows[0].output[0]["content"] == "Order #1001 ships within 2 business days."


def test_five_percent_malformed_json_array_reports_element_indexes(tmp_path: Path) -> None:
    elements = [BAD_LINES.get(n) or json.dumps(chat_row(n)).encode() for n in range(1, 101)]
    elements[6] = b'{"messages": [{"role": "user", "content": "Where is my order?"}, {"role": }]}'
    path = write(tmp_path, "support.json", b"[\n  " + b",\n  ".join(elements) + b"\n]\n")
    rows, errors = ingest(IngestReader(path, batch_size=16))
    assert codes(errors) == {
        7: ["invalid_json"],
        23: ["unrecognized_role"],
        41: ["missing_content"],
        68: ["example_missing_assistant_message"],
        90: ["invalid_utf8"],
    }
    assert len(rows) == 95


def test_json_array_recovers_from_a_missing_comma_and_non_objects() -> None:
    data = b'[{"prompt": "a", "completion": "b"} {"prompt": "c"}, 42, "text", null,'
    data += b' {"prompt": "d", "completion": "e"}]'
    rows, errors = ingest(IngestReader(data))
    assert [d.line for d in rows] == [1, 6]
    assert codes(errors) == {
        2: ["invalid_json"],
        3: ["data_type"],
        4: ["data_type"],
        5: ["data_type"],
    }


def test_csv_bad_records() -> None:
    data = (
        b"question,chunk,positive\n"
        b"Where is the invoice?,Invoices are under Billing.,true\n"
        b"Where is the invoice?,extra,field,false\n"
        b"Where is the invoice?,Our logo is blue.,maybe\n"
        b",Our logo is blue.,false\n"
    ) + b"Where is the invoice?,Caf\xe9 hours are 9-5.,false\n"
    rows, errors = ingest(IngestReader(data, format="csv", schema_type="RERANKING_QUESTIONS"))
    assert [d.line for d in rows] == [2]
    assert codes(errors) == {
        3: ["csv_field_count"],
        4: ["invalid_positive"],
        5: ["missing_question"],
        6: ["invalid_utf8"],
    }


GOOD_CHAT: dict[str, Any] = CHAT[0]
ASSISTANT: dict[str, Any] = {"role": "assistant", "content": "Sure."}
USER: dict[str, Any] = {"role": "user", "content": "Hello"}

CASES: list[tuple[str, Any, list[str]]] = [
    ("chat", ["not", "an", "object"], ["data_type"]),
    ("chat", {"conversation": []}, ["missing_messages_list"]),
    ("chat", {"messages": []}, ["missing_messages_list"]),
    ("chat", {"messages": "hi"}, ["missing_messages_list"]),
    ("chat", {"messages": [{"content": "Hi"}, ASSISTANT]}, ["message_missing_key"]),
    ("chat", {"messages": [{"role": "user"}, ASSISTANT]}, ["message_missing_key"]),
    (
        "chat",
        {"messages": [{"role": "user", "content": "Hi", "mood": "happy"}, ASSISTANT]},
        ["message_unrecognized_key"],
    ),
    ("chat", {"messages": [{"role": "robot", "content": "Hi"}, ASSISTANT]}, ["unrecognized_role"]),
    ("chat", {"messages": [USER, {"role": "assistant", "content": 7}]}, ["missing_content"]),
    ("chat", {"messages": [USER, {"role": "assistant", "content": None}]}, ["missing_content"]),
    ("chat", {"messages": [USER, USER]}, ["example_missing_assistant_message"]),
    ("chat", {"messages": [USER, "hello", ASSISTANT]}, ["data_type"]),
    ("chat", {**GOOD_CHAT, "tools": {"name": "x"}}, ["invalid_tools"]),
    ("chat", {**GOOD_CHAT, "parallel_tool_calls": "yes"}, ["invalid_parallel_tool_calls"]),
    (
        "chat",
        {"messages": [{"role": "bot", "content": "", "extra": 1}]},
        [
            "unrecognized_role",
            "message_unrecognized_key",
            "missing_content",
            "example_missing_assistant_message",
        ],
    ),
    ("generation", {"prompt": "Hi"}, ["missing_completion"]),
    ("generation", {"prompt": "  ", "completion": 3}, ["missing_prompt", "missing_completion"]),
    (
        "preference",
        {"input": "hi", "preferred_output": [ASSISTANT], "non_preferred_output": [ASSISTANT]},
        ["missing_input"],
    ),
    (
        "preference",
        {
            "input": {"messages": [{"role": "human", "content": "Hi"}]},
            "preferred_output": [ASSISTANT],
            "non_preferred_output": [ASSISTANT],
        },
        ["unrecognized_role"],
    ),
    (
        "preference",
        {"input": {"messages": [USER]}, "preferred_output": [], "non_preferred_output": [USER]},
        ["invalid_preferred_output", "invalid_non_preferred_output"],
    ),
    (
        "preference",
        {
            "input": {"messages": [USER]},
            "preferred_output": [{"role": "assistant", "content": ""}],
            "non_preferred_output": [ASSISTANT],
        },
        ["missing_content"],
    ),
    ("reranking_questions", {"question": "Q?", "chunk": "", "positive": True}, ["missing_chunk"]),
    (
        "reranking_questions",
        {"question": "Q?", "chunk": "c", "positive": "yes"},
        ["invalid_positive"],
    ),
    ("json", {"output": {"name": "Ada", "age": 36}}, ["missing_input"]),
    ("json", {"input": {"messages": [USER]}, "output_schema": PERSON_SCHEMA}, ["missing_output"]),
    (
        "json",
        {"input": {}, "output": {"name": "Ada", "age": -1}, "output_schema": PERSON_SCHEMA},
        ["output_schema_mismatch"],
    ),
    (
        "json",
        {"input": {}, "output": {"name": "Ada"}, "output_schema": {"type": "objekt"}},
        ["invalid_output_schema"],
    ),
]


@pytest.mark.parametrize(("kind", "row", "want"), CASES)
def test_row_checks(kind: str, row: Any, want: list[str]) -> None:
    rows, errors = ingest(IngestReader(jsonl_bytes([row]), format="jsonl", schema_type=kind))
    assert rows == []
    assert codes(errors) == {1: want}


def test_reason_messages_name_the_problem() -> None:
    row: dict[str, Any] = {
        "input": {},
        "output": {"name": "Ada", "age": -1},
        "output_schema": PERSON_SCHEMA,
    }
    _, errors = ingest(IngestReader(jsonl_bytes([row]), schema_type="json"))
    assert errors[0].reasons[0]["message"] == (
        "output does not match output_schema at $.age: -1 is less than the minimum of 0"
    )
    row = {"messages": [USER, {"role": "bot", "content": "Hi"}, ASSISTANT]}
    _, errors = ingest(IngestReader(jsonl_bytes([row])))
    assert errors[0].reasons == [
        {"code": "unrecognized_role", "message": "message 2 has unrecognized role 'bot'"}
    ]


def test_valid_edge_cases_pass() -> None:
    rows = [
        # An assistant turn that only calls a function may have null content.
        {
            "messages": [
                USER,
                {"role": "assistant", "content": None, "function_call": {"name": "f"}},
            ]
        },
        {"messages": [USER, {"role": "assistant", "refusal": "I can't help with that."}]},
        {"messages": [{"role": "function", "name": "f", "content": "{}"}, ASSISTANT]},
    ]
    got, errors = ingest(IngestReader(jsonl_bytes(rows), schema_type="chat"))
    assert errors == [] and len(got) == 3
    tensorzero: dict[str, Any] = {
        "input": {"messages": [USER]},
        "output": {"raw": '{"name": "Ada", "age": 36}', "parsed": {"name": "Ada", "age": 36}},
        "output_schema": PERSON_SCHEMA,
    }
    got, errors = ingest(IngestReader(jsonl_bytes([tensorzero]), schema_type="json"))
    assert errors == [] and got[0].output == tensorzero["output"]


def test_column_mapping_on_csv_generation_with_context() -> None:
    data = csv_bytes(
        [
            {"question": "What is 2+2?", "answer": "4", "source": "arithmetic", "notes": "easy"},
            {"question": "Capital of Japan?", "answer": "Tokyo", "source": "geo", "notes": ""},
            {"question": "Largest planet?", "answer": "", "source": "astro", "notes": ""},
        ]
    )
    mapping = {"prompt": "question", "completion": "answer", "context": ["source"]}
    reader = IngestReader(data, filename="qa.csv", column_mapping=mapping)
    rows, errors = ingest(reader)
    assert reader.schema_type == "generation"
    assert [(d.input, d.output, d.extra) for d in rows] == [
        ({"prompt": "What is 2+2?"}, "4", {"context": {"source": "arithmetic"}}),
        ({"prompt": "Capital of Japan?"}, "Tokyo", {"context": {"source": "geo"}}),
    ]
    assert rows[0].raw == {
        "question": "What is 2+2?",
        "answer": "4",
        "source": "arithmetic",
        "notes": "easy",
    }
    assert codes(errors) == {4: ["missing_completion"]}


def test_column_mapping_chat_column_json_encoded_or_structured(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    conversations = [SAMPLES["chat"][0]["messages"], SAMPLES["chat"][4]["messages"]]
    data = csv_bytes([{"id": str(i), "conversation": c} for i, c in enumerate(conversations)])
    rows, errors = ingest(IngestReader(data, format="csv", column_mapping={"chat": "conversation"}))
    assert errors == []
    assert [d.input["messages"] + d.output for d in rows] == conversations

    path = tmp_path / "convs.parquet"
    pq.write_table(pa.Table.from_pylist([{"conv": c} for c in conversations]), path)
    rows, errors = ingest(IngestReader(path, column_mapping={"chat": "conv"}))
    assert errors == [] and [d.kind for d in rows] == ["chat", "chat"]

    bad = jsonl_bytes([{"conv": "[{not json"}, {"other": 1}, {"conv": conversations[1]}])
    rows, errors = ingest(IngestReader(bad, column_mapping={"chat": "conv"}))
    assert codes(errors) == {1: ["invalid_chat_column"], 2: ["missing_column"]}
    assert [d.line for d in rows] == [3]
