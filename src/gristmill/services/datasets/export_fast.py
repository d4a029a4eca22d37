"""The common case of an export, done on whole Arrow columns: a plain chat row (messages with
string content, no tools or extras) is already its JSON line in the snapshot, split in two.

Snapshot JSON is compact orjson text, and the training record of such a row is
`{"messages": input.messages + output}`, so its line is the input's text up to `]}`, a comma,
and the output's text after `[`, closed with `}`: byte for byte what `orjson.dumps(record)`
gives, without decoding a row. For `openai-chat` a row takes this path only if RE2 finds every
message of the plain shape OpenAI's checks accept as they are (a known role, non-empty string
content, nothing else); every other row goes the per-row way. Parquet takes the same plain
rows, whose Arrow type is then known without parsing them (`PLAIN_TYPE`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as arrow_compute

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


def fast_lines(batch: pa.RecordBatch, file_format: str) -> tuple[np.ndarray, list[bytes | None]]:
    """(which rows took the fast path, their JSON text, None for the others)."""
    given, output = batch.column("input"), batch.column("output")
    conditions = [
        pc.equal(batch.column("kind"), pa.scalar("chat")),
        pc.is_null(batch.column("extra")),
        pc.is_null(batch.column("tool_params")),
        pc.is_null(batch.column("output_schema")),
    ]
    if file_format in PLAIN_FORMATS:
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
    chosen = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    if not chosen.any():
        return chosen, [None] * len(batch)
    head = pc.utf8_slice_codeunits(given, 0, -2)  # `{"messages":[m1,m2`
    tail = pc.utf8_slice_codeunits(output, 1)  # `m3]`
    comma, close = pa.scalar(","), pa.scalar("}\n")
    lines = pc.binary_join_element_wise(head, comma, tail, close, pa.scalar(""))
    texts = lines.cast(pa.binary()).to_pylist()  # bytes at once: no str to encode per row
    if chosen.all():
        return chosen, texts
    return chosen, [t if ok else None for t, ok in zip(texts, chosen, strict=True)]
