"""A JSON document whose top level is an array, streamed element by element.

Elements are decoded with `json.JSONDecoder.raw_decode` over a sliding text buffer, so only
the current element (plus one read chunk) is in memory. Bytes are decoded with
`surrogateescape`: invalid UTF-8 then shows up as lone surrogates in the element's text and
is reported for that element alone. A malformed element is skipped by scanning to the next
comma or bracket at nesting depth zero. Rows are numbered by element index from 1.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

from gristmill.ingest.errors import IngestError
from gristmill.ingest.model import RawRow, Reason, reason
from gristmill.ingest.sources import ByteStream


def _reject_constant(name: str) -> Any:
    # The stdlib accepts NaN and Infinity; JSON (and the JSONL reader) does not.
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRUCTURAL = re.compile(r'["\\\[\]{},]')
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_NUMBER_CHARS = re.compile(r"[0-9.eE+\-]*")
_NOT_CLOSED = "The JSON array is not closed: the file ends before its closing ']'."


class JsonArrayRows:
    def __init__(self, stream: ByteStream):
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._skip_whitespace()
        if self._pos < len(self._buf) and self._buf[self._pos] == "\ufeff":
            self._pos += 1
            self._skip_whitespace()
        if self._pos >= len(self._buf):
            raise IngestError("The JSON file is empty: expected a top-level array of objects.")
        first = self._buf[self._pos]
        if first != "[":
            found = "an object" if first == "{" else f"'{first}'"
            raise IngestError(
                f"The JSON file's top level is {found}, not an array. A JSON file must hold "
                "one array of rows; for one object per line use the JSONL format (.jsonl)."
            )
        self._pos += 1

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read_chunk()
        if self._pos:
            self._buf = self._buf[self._pos :]
            self._pos = 0
        if not chunk:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        self._buf += self._decoder.decode(chunk)
        return True

    def _skip_whitespace(self) -> None:
        while True:
            match = _WHITESPACE.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf) or not self._fill():
                return

    def __iter__(self) -> Iterator[RawRow]:
        index = 0
        need_value = True
        while True:
            self._skip_whitespace()
            if self._pos >= len(self._buf):
                raise IngestError(_NOT_CLOSED)
            char = self._buf[self._pos]
            if char == "]":
                self._pos += 1
                self._check_trailing()
                return
            if not need_value and char == ",":
                self._pos += 1
                need_value = True
                continue
            index += 1
            if need_value:
                yield self._element(index)
            else:
                if self._skip_element() is None:
                    raise IngestError(_NOT_CLOSED)
                yield RawRow(index, None, reason("invalid_json", "expected ',' before element"))
            need_value = False

    def _element(self, index: int) -> RawRow:
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except ValueError as exc:
                # Malformed only if the element is complete; otherwise it is just cut off.
                if self._scan(self._pos) is None:
                    if self._fill():
                        continue
                    raise IngestError(_NOT_CLOSED) from None
                text = self._skip_element()
                bad = self._bad_bytes(text or "")
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                return RawRow(index, None, bad or reason("invalid_json", f"not valid JSON: {why}"))
            # A number running to the end of the buffer ("1." of "1.5e3") may go on in the
            # next chunk; the decoder would stop at the longest valid prefix.
            if isinstance(value, int | float) and not isinstance(value, bool):
                tail = _NUMBER_CHARS.match(self._buf, end)
                if tail is not None and tail.end() >= len(self._buf) and self._fill():
                    continue
            text = self._buf[self._pos : end]
            self._pos = end
            bad = self._bad_bytes(text)
            return RawRow(index, None, bad) if bad else RawRow(index, value)

    @staticmethod
    def _bad_bytes(text: str) -> Reason | None:
        if text.isascii():
            return None
        match = _BAD_BYTE.search(text)
        if match is None:
            return None
        return reason("invalid_utf8", f"not valid UTF-8 (invalid byte at offset {match.start()})")

    def _skip_element(self) -> str | None:
        """Move past one element, well-formed or not, to the next ',' or ']' at depth zero,
        and return its text; None when the file ends first."""
        while True:
            # _fill trims the buffer to start at _pos, so _pos stays the element's start.
            end = self._scan(self._pos)
            if end is not None:
                text = self._buf[self._pos : end]
                self._pos = end
                return text
            if not self._fill():
                return None

    def _scan(self, start: int) -> int | None:
        buf, depth, in_string, i = self._buf, 0, False, start
        while True:
            match = _STRUCTURAL.search(buf, i)
            if match is None:
                return None
            j = match.start()
            char = buf[j]
            i = j + 1
            if in_string:
                if char == "\\":
                    i = j + 2
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}":
                if depth == 0 and char == "]":
                    return j
                depth = max(depth - 1, 0)
            elif char == "," and depth == 0:
                return j

    def _check_trailing(self) -> None:
        self._skip_whitespace()
        if self._pos < len(self._buf):
            raise IngestError("Unexpected content after the closing ']' of the JSON array.")
