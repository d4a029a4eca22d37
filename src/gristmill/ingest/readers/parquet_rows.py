"""Parquet, read record batch by record batch; rows are numbered from 1.

Arrow structs cannot leave a field out, only set it to null, so nulls are dropped from
objects here: a null column or struct field means "absent" to the schema checks.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator, Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.ingest.errors import IngestError
from gristmill.ingest.model import RawRow, reason


class _NotUtf8(Exception):
    pass


def _plain(value: Any) -> Any:
    """Arrow's Python values made JSON-like, so every reader yields the same kinds of values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8 from None
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, tuple):
        # Arrow map columns come back as lists of (key, value) pairs.
        return [_plain(v) for v in value]
    return value


_SCALARS = (str, int, float, bool)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, _SCALARS) else _plain(value)
        for key, value in record.items()
        if value is not None
    }


class ParquetRows:
    def __init__(self, file: str | IO[bytes], required: Sequence[str] = (), batch_size: int = 2000):
        try:
            self._file = pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as exc:
            raise IngestError(f"The file is not a valid Parquet file: {exc}.") from None
        self._batch_size = batch_size
        self.columns = list(self._file.schema_arrow.names)
        self.total_rows: int = self._file.metadata.num_rows
        missing = [name for name in required if name not in self.columns]
        if missing:
            raise IngestError(
                f"The Parquet file has no column {', '.join(repr(m) for m in missing)} named in "
                f"the column mapping; its columns are: {', '.join(self.columns) or '(none)'}.",
                param="column_mapping",
            )

    def __iter__(self) -> Iterator[RawRow]:
        line = 0
        batches = self._file.iter_batches(batch_size=self._batch_size)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise IngestError(f"The Parquet file is corrupt: {exc}.") from None
            if batch is None:
                return
            for record in batch.to_pylist():
                line += 1
                try:
                    row = RawRow(line, _clean(record))
                except _NotUtf8:
                    row = RawRow(line, None, reason("invalid_utf8", "a binary value is not UTF-8"))
                yield row
