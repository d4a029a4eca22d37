"""Streaming ingestion of dataset files into validated, normalized rows.

Pure library: no database, no web framework. Memory stays flat whatever the file size;
rows are read and validated in batches.

Sources: a path, bytes, a binary file object, or an iterable of byte chunks.
Formats: JSONL, JSON (one top-level array), CSV (header row), Parquet; each optionally
gzip- or zstd-compressed. The format comes from `format=`, else the filename's extension
(`.jsonl`, `.json`, `.csv`, `.parquet`, plus `.gz`/`.zst`/`.zstd`), else the content.
Compression comes from the magic bytes; a declared one (`compression=`, or a `.gz`/`.zst`
suffix) must match them.

Line numbers (`Datapoint.line`, `RowError.line`), 1-based: JSONL, the physical line; CSV,
the physical line the record starts on, the header being line 1; JSON, the element's index
in the array; Parquet, the row index.

Schema types (`schema_type=`, any case; detected from the first rows when omitted) and the
shape of the resulting `Datapoint` (`raw` always holds the record as read; `extra` holds the
row's other top-level fields, e.g. chat `tools` and `parallel_tool_calls`, json
`output_schema`, mapped `context`):

=====================  ====================================  ===============================
kind                   input                                 output
=====================  ====================================  ===============================
chat                   {"messages": messages before the      [final assistant message, and
                       final assistant message}              any messages after it]
generation             {"prompt": str}                       completion (str)
preference             the row's `input` object              {"preferred_output": [...],
                       ({"messages": [...], "tools"?...})     "non_preferred_output": [...]}
reranking_questions    {"question": str, "chunk": str}       {"positive": bool}
json                   the row's `input` object              the row's `output`
=====================  ====================================  ===============================

For chat, `input["messages"] + output` is the original message list. For json, an output
in TensorZero's exported form `{"raw": ..., "parsed": ...}` is checked by its `parsed` value.
In CSV (and Parquet text columns) structured fields such as `messages`, `tools`, `input` or
`output_schema` may be JSON-encoded text, booleans may be `true`/`false` text, and an empty
cell counts as absent. Reranking rows follow
Scale's reranking dataset item (`question`, `chunk`, `positive`): the `scale-gp` SDK only
names the RERANKING_QUESTIONS type, not its row fields.

Rows that fail become `RowError(line, reasons)`; each reason is
`{"code": ..., "message": ...}`. Reader codes: `invalid_json`, `invalid_utf8`, `invalid_csv`,
`csv_field_count`, `missing_column`, `invalid_chat_column`, `data_type`. OpenAI's fine-tuning
codes (chat, and the messages inside preference rows): `data_type`, `missing_messages_list`,
`message_missing_key`, `message_unrecognized_key`, `unrecognized_role`, `missing_content`,
`example_missing_assistant_message`; plus `invalid_tools`, `invalid_parallel_tool_calls`.
Generation: `missing_prompt`, `missing_completion`. Preference: `missing_input`,
`invalid_preferred_output`, `invalid_non_preferred_output`. Reranking: `missing_question`,
`missing_chunk`, `invalid_positive`. Json: `missing_input`, `missing_output`,
`invalid_output_schema`, `output_schema_mismatch`.

A source that cannot be ingested at all raises `IngestError` (an `InvalidRequest`).
"""

from gristmill.ingest.errors import IngestError
from gristmill.ingest.formats import FORMATS
from gristmill.ingest.mapping import ColumnMapping
from gristmill.ingest.model import Batch, Datapoint, Reason, RowError
from gristmill.ingest.reader import DEFAULT_BATCH_SIZE, IngestReader, iter_batches
from gristmill.ingest.schema import SCHEMA_TYPES, parse_schema_type
from gristmill.ingest.sources import Source

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FORMATS",
    "SCHEMA_TYPES",
    "Batch",
    "ColumnMapping",
    "Datapoint",
    "IngestError",
    "IngestReader",
    "Reason",
    "RowError",
    "Source",
    "iter_batches",
    "parse_schema_type",
]
