"""JSON Lines: one value per physical line, numbered from 1; blank lines are skipped."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from gristmill.ingest.model import RawRow, reason
from gristmill.ingest.sources import ByteStream

_BOM = b"\xef\xbb\xbf"


def jsonl_rows(stream: ByteStream) -> Iterator[RawRow]:
    line_no = 0
    carry: list[bytes] = []
    first = True
    while True:
        chunk = stream.read_chunk()
        if not chunk:
            break
        if first:
            first = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if b"\n" not in chunk:
            # A line longer than a chunk: collect its parts rather than re-join each time.
            carry.append(chunk)
            continue
        if carry:
            carry.append(chunk)
            chunk = b"".join(carry)
            carry = []
        lines = chunk.split(b"\n")
        carry.append(lines.pop())
        for line in lines:
            line_no += 1
            if line and not line.isspace():
                yield parse_line(line, line_no)
    tail = b"".join(carry)
    if tail and not tail.isspace():
        yield parse_line(tail, line_no + 1)


def parse_line(line: bytes, line_no: int) -> RawRow:
    try:
        return RawRow(line_no, orjson.loads(line))
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            why = reason("invalid_utf8", f"not valid UTF-8 (invalid byte at offset {bad.start})")
            return RawRow(line_no, None, why)
        return RawRow(line_no, None, reason("invalid_json", f"not valid JSON: {exc.msg}"))
