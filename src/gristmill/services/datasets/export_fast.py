"""The common case of an export, done on whole Arrow columns: a plain chat row (messages with
string content, no tools or extras) is already its JSON line in the snapshot, split in two.

Snapshot JSON is compact orjson text, and the training record of such a row is
`{"messages": input.messages + output}`, so its line is the input's text up to `]}`, a comma,
and the output's text after `[`, closed with `}`: byte for byte what `orjson.dumps(record)`
gives, without decoding a row. For `openai-chat` a row takes this path only if RE2 finds every
message of the plain shape OpenAI's checks accept as they are (a known role, non-empty string
content, nothing else); every other row goes the per-row way. Parquet takes the same plain
rows, whose Arrow type is then known without parsing them (`PLAIN_TYPE`); a batch of chat
rows only goes further (`plain_messages`): Arrow parses its joined lines straight into the
Parquet column, and refuses a batch that is not of that type."""

from __future__ import annotations

from typing import IO, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as arrow_compute
import pyarrow.json as pa_json

# Arrow takes scalars beside arrays in these kernels; pyarrow-stubs' overloads do not
pc: Any = arrow_compute

TEXT = r'"(?:[^"\\]|\\.)+"'
MESSAGE = r'\{"role":"(?:system|developer|user|assistant)","content":' + TEXT + r"\}"
PLAIN_INPUT = r'^\{"messages":\[' + MESSAGE + r"(?:," + MESSAGE + r")*\]\}$"
PLAIN_OUTPUT = r'^\[\{"role":"assistant","content":' + TEXT + r"\}\]$"
FORMATS = ("jsonl", "json", "openai-chat", "parquet")  # Parquet: Arrow parses the lines
PLAIN_FORMATS = ("openai-chat", "parquet")
# what Arrow's JSON reader makes of a plain line's `messages` (fields in the order written)
PLAIN_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
PLAIN_SCHEMA = pa.schema([("messages", PLAIN_TYPE)])
# the snapshot columns `plain_messages` reads
PLAIN_COLUMNS = ["kind", "input", "output", "extra", "tool_params", "output_schema"]
PARSE_BLOCK = 1 << 20  # bytes per Arrow JSON parse task: a batch parses on several threads


def fast_lines(batch: pa.RecordBatch, file_format: str) -> tuple[np.ndarray, list[bytes | None]]:
    """(which rows took the fast path, their JSON text, None for the others)."""
    chosen = _plain_rows(batch, strict=file_format in PLAIN_FORMATS)
    if not chosen.any():
        return chosen, [None] * len(batch)
    texts = _joined_lines(batch).to_pylist()  # bytes at once: no str to encode per row
    if chosen.all():
        return chosen, texts
    return chosen, [t if ok else None for t, ok in zip(texts, chosen, strict=True)]


def plain_messages(batch: pa.RecordBatch) -> pa.Table | None:
    """A batch that is all plain chat rows as its Parquet table (one `messages` column of
    `PLAIN_TYPE`), parsed from the rows' joined JSON lines by Arrow on all cores; None unless
    every row is a chat row whose messages hold `role` and string `content` and nothing else
    (Arrow's reader refuses the rest: another field, a number, a list of parts). The column is
    always `PLAIN_TYPE`, even where the per-row way would infer a narrower struct from the
    whole version (messages that never have a role, or that list `content` before `role`)."""
    if not len(batch) or not _plain_rows(batch, strict=False).all():
        return None
    lines = _joined_lines(batch)
    lengths = pc.binary_length(lines)
    size: int = pc.sum(lengths).as_py()
    text = lines.buffers()[2]
    if text is None:  # every line is empty: nothing of the plain shape
        return None
    data = text.slice(0, size)  # a fresh array: its text starts at byte 0
    try:
        table = pa_json.read_json(
            cast(IO[bytes], pa.BufferReader(data)),
            read_options=pa_json.ReadOptions(block_size=_block_size(lengths, size)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=PLAIN_SCHEMA, unexpected_field_behavior="error"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == len(batch) else None


def _block_size(lengths: pa.Int32Array, size: int) -> int:
    """Bytes per parse task for lines of these lengths (`size` in all): a batch in several,
    yet a line within two blocks (Arrow's reader refuses a longer one, which would send a
    whole export the slow way)."""
    longest: int = pc.max(lengths).as_py()
    return max(PARSE_BLOCK, size // 8 + 1, 2 * longest + 1)


def _plain_rows(batch: pa.RecordBatch, *, strict: bool) -> np.ndarray:
    """Which rows are chat rows whose record is `{"messages": input.messages + output}`;
    `strict`: and every message has the plain shape OpenAI's checks accept as it is."""
    given, output = batch.column("input"), batch.column("output")
    conditions = [
        pc.equal(batch.column("kind"), pa.scalar("chat")),
        pc.is_null(batch.column("extra")),
        pc.is_null(batch.column("tool_params")),
        pc.is_null(batch.column("output_schema")),
    ]
    if strict:
        conditions += [
            pc.match_substring_regex(given, PLAIN_INPUT),
            pc.match_substring_regex(output, PLAIN_OUTPUT),
        ]
    else:
        conditions += [
            pc.starts_with(given, '{"messages":['),
            pc.ends_with(given, "]}"),
            pc.invert(pc.ends_with(given, "[]}")),
            pc.starts_with(output, "["),
            pc.invert(pc.equal(output, pa.scalar("[]"))),
        ]
    mask = conditions[0]
    for more in conditions[1:]:
        mask = pc.and_kleene(mask, more)
    chosen: np.ndarray = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return chosen


def _joined_lines(batch: pa.RecordBatch) -> pa.BinaryArray:
    """Every row's `{"messages":[m1,m2` + `,` + `m3]` + `}` and a line end, as bytes."""
    head = pc.utf8_slice_codeunits(batch.column("input"), 0, -2)
    tail = pc.utf8_slice_codeunits(batch.column("output"), 1)
    joined = pc.binary_join_element_wise(
        head, pa.scalar(","), tail, pa.scalar("}\n"), pa.scalar("")
    )
    as_bytes: pa.BinaryArray = joined.cast(pa.binary())
    return as_bytes
