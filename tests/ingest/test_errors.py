"""Sources that cannot be ingested at all raise one IngestError naming the problem."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from gristmill.ingest import IngestError, IngestReader, iter_batches
from gristmill.services.errors import InvalidRequest
from tests.ingest.samples import (
    SAMPLES,
    compress,
    csv_bytes,
    jsonl_bytes,
    parquet_bytes,
    write,
)

CHAT_JSONL = jsonl_bytes(SAMPLES["chat"])


def drain(reader: IngestReader) -> int:
    with reader:
        return sum(len(batch) for batch in reader)


def test_ingest_error_is_an_invalid_request() -> None:
    error = IngestError("bad file")
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.param, error.message) == (400, "file", "bad file")


def test_declared_compression_must_match_the_bytes(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        IngestReader(gzip.compress(CHAT_JSONL), compression="zstd")
    assert caught.value.message == (
        "The declared compression 'zstd' (the compression parameter) does not match the data: "
        "it is gzip-compressed."
    )
    assert caught.value.param == "compression"

    with pytest.raises(IngestError, match=r"'gzip'.*it is not compressed"):
        IngestReader(write(tmp_path, "chats.jsonl.gz", CHAT_JSONL))
    with pytest.raises(IngestError, match=r"'zstd' \(from 'chats\.csv\.zst'\).*gzip-compressed"):
        IngestReader(gzip.compress(csv_bytes(SAMPLES["chat"])), filename="chats.csv.zst")
    with pytest.raises(IngestError, match=r"'none'.*zstd-compressed"):
        IngestReader(compress(CHAT_JSONL, "zstd"), compression="none")
    with pytest.raises(IngestError, match="Unsupported compression 'brotli'"):
        IngestReader(CHAT_JSONL, compression="brotli")


def test_corrupt_compressed_streams(tmp_path: Path) -> None:
    big = jsonl_bytes(SAMPLES["chat"] * 200)
    truncated_gzip = gzip.compress(big)[:-200]
    with pytest.raises(IngestError, match="gzip stream is corrupt or truncated"):
        drain(IngestReader(write(tmp_path, "a.jsonl.gz", truncated_gzip)))
    truncated_zstd = compress(big, "zstd")[:-50]
    with pytest.raises(IngestError, match="zstd stream is truncated"):
        drain(IngestReader(truncated_zstd, filename="a.jsonl.zst"))
    garbled = bytearray(compress(big, "zstd"))
    garbled[20:60] = b"\x00" * 40
    with pytest.raises(IngestError, match="zstd stream is corrupt"):
        drain(IngestReader(bytes(garbled), format="jsonl"))


def test_unsupported_formats(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        IngestReader(CHAT_JSONL, format="xlsx")
    assert caught.value.message == (
        "Unsupported format 'xlsx': expected one of jsonl, json, csv, parquet."
    )
    assert caught.value.param == "format"

    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(IngestError, match="it is a zip archive"):
        IngestReader(write(tmp_path, "budget.xlsx", workbook.getvalue()))

    with pytest.raises(IngestError, match=r"Unsupported file type '\.bin'"):
        IngestReader(write(tmp_path, "weights.bin", bytes(range(256)) * 4))
    with pytest.raises(IngestError, match="Could not recognise the file format"):
        IngestReader(iter([b"just some prose without structure\n"]))
    with pytest.raises(IngestError, match="not a valid Parquet file"):
        IngestReader(b"PAR1 but not really", filename="broken.parquet")


def test_csv_without_the_mapped_columns() -> None:
    data = csv_bytes([{"question": "What is 2+2?", "answer": "4"}])
    mapping = {"prompt": "prompt_text", "completion": "answer", "context": ["doc", "source"]}
    with pytest.raises(IngestError) as caught:
        IngestReader(data, filename="qa.csv", column_mapping=mapping)
    assert caught.value.message == (
        "The CSV file has no column 'prompt_text', 'doc', 'source' named in the column mapping; "
        "its columns are: question, answer."
    )
    assert caught.value.param == "column_mapping"
    with pytest.raises(IngestError, match="Parquet file has no column 'conversation'"):
        IngestReader(parquet_bytes(SAMPLES["generation"]), column_mapping={"chat": "conversation"})


def test_invalid_column_mappings() -> None:
    with pytest.raises(IngestError, match="unknown key\\(s\\) 'answer'"):
        IngestReader(CHAT_JSONL, column_mapping={"answer": "a"})
    with pytest.raises(IngestError, match="'context' must be a list"):
        IngestReader(CHAT_JSONL, column_mapping={"prompt": "q", "context": "doc"})


def test_unknown_schema_type() -> None:
    with pytest.raises(IngestError) as caught:
        IngestReader(CHAT_JSONL, schema_type="CLASSIFICATION")
    assert caught.value.message == (
        "Unknown schema type 'CLASSIFICATION': expected one of chat, generation, preference, "
        "reranking_questions, json."
    )
    assert caught.value.param == "schema_type"


def test_schema_type_names_are_case_insensitive() -> None:
    for name in ("GENERATION", "Generation", "generation"):
        assert IngestReader(jsonl_bytes(SAMPLES["generation"]), schema_type=name).schema_type == (
            "generation"
        )
    reader = IngestReader(
        jsonl_bytes(SAMPLES["reranking_questions"]), schema_type="RERANKING_QUESTIONS"
    )
    assert reader.schema_type == "reranking_questions"
    assert drain(reader) == len(SAMPLES["reranking_questions"])


def test_undetectable_schema_type() -> None:
    rows = [{"text": "hello", "label": "greeting"}] * 5
    with pytest.raises(IngestError, match="Could not detect the schema type") as caught:
        drain(IngestReader(jsonl_bytes(rows)))
    assert caught.value.param == "schema_type"


def test_json_top_level_must_be_an_array() -> None:
    with pytest.raises(IngestError, match="top level is an object, not an array"):
        IngestReader(b'{"messages": []}', filename="one.json")
    with pytest.raises(IngestError, match="JSON file is empty"):
        IngestReader(b"  \n", format="json")
    with pytest.raises(IngestError, match="not closed"):
        drain(IngestReader(b'[{"prompt": "a", "completion": "b"}, {"prompt": ', format="json"))
    with pytest.raises(IngestError, match="after the closing"):
        drain(IngestReader(b'[{"prompt": "a", "completion": "b"}] []', format="json"))


def test_iter_batches_raises_on_first_next() -> None:
    batches = iter_batches(CHAT_JSONL, format="yaml")
    with pytest.raises(IngestError, match="Unsupported format 'yaml'"):
        next(batches)


def test_column_mapping_that_contradicts_the_schema_type() -> None:
    data = csv_bytes([{"question": "What is 2+2?", "answer": "4"}])
    with pytest.raises(IngestError, match="produces generation rows, but schema_type is 'chat'"):
        IngestReader(data, schema_type="chat", column_mapping={"prompt": "question"})
