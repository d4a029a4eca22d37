"""CSV with a header row. Each record is numbered by the physical line it starts on, the
header being line 1, so a quoted field spanning lines does not shift later numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from gristmill.ingest.errors import IngestError
from gristmill.ingest.model import RawRow, reason
from gristmill.ingest.sources import CHUNK_SIZE, ByteStream

# Chat transcripts in one cell easily pass the csv module's 128 KiB default.
_FIELD_LIMIT = 64 * 1024 * 1024
_BAD_BYTE = re.compile("[\udc80-\udcff]")


def _has_bad_bytes(value: str) -> bool:
    return not value.isascii() and _BAD_BYTE.search(value) is not None


class CsvRows:
    def __init__(self, stream: ByteStream, required: Sequence[str] = ()):
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        # surrogateescape keeps a bad byte from ending the whole read; it is caught per record.
        self._text = io.TextIOWrapper(
            io.BufferedReader(stream, CHUNK_SIZE),
            encoding="utf-8-sig",
            errors="surrogateescape",
            newline="",
        )
        self._reader = csv.reader(self._text)
        try:
            header = next(self._reader, [])
        except csv.Error as exc:
            raise IngestError(f"The CSV header row cannot be read: {exc}.") from None
        if any(_has_bad_bytes(name) for name in header):
            raise IngestError("The CSV header row is not valid UTF-8.")
        self.header = [name.strip() for name in header]
        missing = [name for name in required if name not in self.header]
        if missing:
            raise IngestError(
                f"The CSV file has no column {', '.join(repr(m) for m in missing)} named in the "
                f"column mapping; its columns are: {', '.join(self.header) or '(none)'}.",
                param="column_mapping",
            )

    def __iter__(self) -> Iterator[RawRow]:
        reader, header = self._reader, self.header
        width = len(header)
        previous = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, previous = previous + 1, reader.line_num
                yield RawRow(line, None, reason("invalid_csv", f"not a valid CSV record: {exc}"))
                continue
            line, previous = previous + 1, reader.line_num
            if not fields:
                continue
            if len(fields) != width:
                why = f"the record has {len(fields)} fields; the header has {width}"
                yield RawRow(line, None, reason("csv_field_count", why))
            elif any(_has_bad_bytes(value) for value in fields):
                yield RawRow(line, None, reason("invalid_utf8", "not valid UTF-8"))
            else:
                yield RawRow(line, dict(zip(header, fields, strict=True)))
