"""Every format with every schema type, every compression, every kind of source."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.ingest import Batch, Datapoint, IngestReader, RowError, iter_batches
from tests.ingest.samples import SAMPLES, WRITERS, compress, ingest, jsonl_bytes, write

FORMATS = ["jsonl", "json", "csv", "parquet"]
KINDS = list(SAMPLES)
EXT = {"gzip": ".gz", "zstd": ".zst"}


def expected(kind: str) -> list[Datapoint]:
    """The JSONL reading of the samples, which other formats must reproduce."""
    rows, errors = ingest(IngestReader(jsonl_bytes(SAMPLES[kind]), format="jsonl"))
    assert errors == []
    return rows


def same_content(got: list[Datapoint], want: list[Datapoint]) -> None:
    """Same rows; line numbers too, except that CSV counts the header and physical lines."""
    assert [(d.kind, d.input, d.output) for d in got] == [(d.kind, d.input, d.output) for d in want]
    lines = [d.line for d in got]
    if lines != [d.line for d in want]:
        assert lines[0] == 2 and lines == sorted(set(lines))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("format", FORMATS)
def test_each_format_and_schema_type(tmp_path: Path, format: str, kind: str) -> None:
    path = write(tmp_path, f"train.{format}", WRITERS[format](SAMPLES[kind]))
    reader = IngestReader(path)
    assert reader.format == format
    assert reader.compression == "none"
    rows, errors = ingest(reader)
    assert errors == []
    assert reader.schema_type == kind
    assert len(rows) == len(SAMPLES[kind])
    same_content(rows, expected(kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_each_compression_on_each_format(
    tmp_path: Path, compression: str, format: str, kind: str
) -> None:
    data = compress(WRITERS[format](SAMPLES[kind]), compression)
    path = write(tmp_path, f"train.{format}{EXT[compression]}", data)
    reader = IngestReader(path)
    assert (reader.format, reader.compression) == (format, compression)
    rows, errors = ingest(reader)
    assert errors == []
    same_content(rows, expected(kind))
    assert reader.bytes_read == len(data)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_format_and_compression_are_sniffed_without_a_filename(
    format: str, compression: str
) -> None:
    data = compress(WRITERS[format](SAMPLES["chat"]), compression)
    reader = IngestReader(io.BytesIO(data))
    assert (reader.format, reader.compression) == (format, compression)
    rows, errors = ingest(reader)
    assert errors == [] and len(rows) == len(SAMPLES["chat"])


def tiny_chunks(data: bytes, size: int = 3) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_chunk_iterators_split_anywhere(format: str, compression: str) -> None:
    data = compress(WRITERS[format](SAMPLES["preference"]), compression)
    reader = IngestReader(tiny_chunks(data), filename=f"prefs.{format}")
    rows, errors = ingest(reader)
    assert errors == []
    same_content(rows, expected("preference"))


def test_unseekable_file_object_and_explicit_options(tmp_path: Path) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes):
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = compress(WRITERS["parquet"](SAMPLES["generation"]), "zstd")
    reader = IngestReader(
        Pipe(data), format="PARQUET", compression="zstd", schema_type="GENERATION"
    )
    assert reader.total_rows == len(SAMPLES["generation"])
    rows, errors = ingest(reader)
    assert errors == [] and [d.output for d in rows] == [
        r["completion"] for r in SAMPLES["generation"]
    ]


def test_datapoint_shapes() -> None:
    chat = expected("chat")
    tool_row = chat[2]
    assert tool_row.kind == "chat"
    assert tool_row.input["messages"] == SAMPLES["chat"][2]["messages"][:4]
    assert tool_row.output == [SAMPLES["chat"][2]["messages"][4]]
    assert tool_row.extra == {"tools": SAMPLES["chat"][2]["tools"], "parallel_tool_calls": False}
    assert tool_row.raw == SAMPLES["chat"][2]
    assert tool_row.tags == {}
    for datapoint, row in zip(chat, SAMPLES["chat"], strict=True):
        assert datapoint.input["messages"] + datapoint.output == row["messages"]

    generation = expected("generation")[1]
    assert (generation.input, generation.output) == (
        {"prompt": "Translate to German: 'Where is the train station?'"},
        "Wo ist der Bahnhof?",
    )
    preference = expected("preference")[0]
    assert preference.input == SAMPLES["preference"][0]["input"]
    assert preference.output == {
        "preferred_output": SAMPLES["preference"][0]["preferred_output"],
        "non_preferred_output": SAMPLES["preference"][0]["non_preferred_output"],
    }
    rerank = expected("reranking_questions")[1]
    assert rerank.input == {
        "question": "What is the refund window for annual plans?",
        "chunk": "Our offices are closed on public holidays in the UK.",
    }
    assert rerank.output == {"positive": False}
    extracted = expected("json")[0]
    assert extracted.output == {"name": "Ada Lovelace", "age": 36}
    assert extracted.extra["function_name"] == "extract_person"
    assert extracted.extra["output_schema"]["required"] == ["name", "age"]


def test_native_nested_parquet_keeps_tool_calls(tmp_path: Path) -> None:
    # from_pylist takes its columns from the first row, so the tool row goes first.
    rows = [SAMPLES["chat"][2], SAMPLES["chat"][0], SAMPLES["chat"][4]]
    table = pa.Table.from_pylist(rows)
    assert pa.types.is_list(table.schema.field("messages").type)
    path = tmp_path / "chats.parquet"
    pq.write_table(table, path)
    got, errors = ingest(IngestReader(path))
    assert errors == []
    assert [d.raw["messages"] for d in got] == [r["messages"] for r in rows]
    assert got[0].extra == {"tools": SAMPLES["chat"][2]["tools"], "parallel_tool_calls": False}
    assert got[0].output == [SAMPLES["chat"][2]["messages"][-1]]


def test_csv_lines_count_physical_lines_with_header_as_line_1() -> None:
    data = (
        b"prompt,completion\n"
        b'"Write a haiku about rain.","Soft rain on tin roofs\nthe gutters hum their one note\n'
        b'puddles hold the sky"\n'
        b"\n"
        b"Capital of Peru?,\n"
        b"Capital of Chile?,Santiago\n"
    )
    rows, errors = ingest(IngestReader(data, filename="haiku.csv"))
    assert [d.line for d in rows] == [2, 7]
    assert errors == [
        RowError(6, [{"code": "missing_completion", "message": "completion is missing"}])
    ]


def test_batches_respect_batch_size_and_stream_order() -> None:
    rows = SAMPLES["reranking_questions"] * 25
    batches: list[Batch] = list(iter_batches(jsonl_bytes(rows), batch_size=7))
    assert [len(b) for b in batches] == [7] * 14 + [2]
    assert [d.line for b in batches for d in b.rows] == list(range(1, 101))


def test_blank_lines_and_bom_in_jsonl() -> None:
    data = b"\xef\xbb\xbf" + jsonl_bytes(SAMPLES["generation"][:1]) + b"\n  \r\n"
    data += jsonl_bytes(SAMPLES["generation"][1:2]).rstrip(b"\n")
    rows, errors = ingest(IngestReader(data))
    assert errors == [] and [d.line for d in rows] == [1, 4]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_json_array_elements_split_anywhere(size: int) -> None:
    data = b'[12345, 1.5e3, -0.25, true, NaN, {"prompt": "caf\xc3\xa9", "completion": "ok"}, nul]'
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    reader = IngestReader(iter(chunks), format="json")
    rows, errors = ingest(reader)
    assert [(e.line, e.reasons[0]["code"]) for e in errors] == [
        (1, "data_type"),
        (2, "data_type"),
        (3, "data_type"),
        (4, "data_type"),
        (5, "invalid_json"),
        (7, "invalid_json"),
    ]
    assert [(d.line, d.input) for d in rows] == [(6, {"prompt": "café"})]
