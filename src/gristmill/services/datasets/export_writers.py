"""Files an export writes, one per split, record batch by record batch (memory flat).

JSONL and JSON take records as they come. CSV and Parquet need their columns before the first
row, so their writers are given a `Layout` found by one pass over the records first: CSV
cells hold plain strings as themselves and anything else as JSON text; Parquet keeps nested
values typed (a `messages` column loads as a list of structs in `datasets`), unless a column's
values have no common Arrow type (content that is a string in one row and a list of parts in
another), which is then stored as JSON text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from gristmill.services.datasets import export_fast
from gristmill.services.errors import ServiceError

Records = list[Any]  # dicts, or finished JSON lines (bytes)
ARROW_INFERENCE_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    OverflowError,
)


class ExportFailed(ServiceError):
    """The rows cannot be written in this format; retrying would fail the same way."""

    status = 422
    code = "export_failed"


@dataclass
class Layout:
    """Every column in first-seen order, with its Arrow type (None: stored as JSON text)."""

    types: dict[str, pa.DataType | None] = field(default_factory=dict)

    @classmethod
    def scan(cls, batches: Iterable[Records]) -> Layout:
        found: dict[str, pa.DataType | None] = {}
        for batch in batches:
            # a finished line is a plain chat row (`export_fast`): its type is known unparsed
            records = [r for r in batch if not isinstance(r, bytes)]
            for record in batch:
                for key in record if isinstance(record, dict) else ("messages",):
                    found.setdefault(key, pa.null())
            for key, known in found.items():
                if known is None:
                    continue
                try:
                    if key == "messages" and len(records) < len(batch):
                        known = found[key] = _unified(known, export_fast.PLAIN_TYPE)
                    if records:
                        found[key] = _unified(known, pa.array([r.get(key) for r in records]).type)
                except ARROW_INFERENCE_ERRORS:
                    found[key] = None  # no common type (a string here, parts there): JSON text
        return cls({k: _storable(t) for k, t in found.items()})

    def schema(self) -> pa.Schema:
        return pa.schema([(k, t or pa.string()) for k, t in self.types.items()])


def _parsed_lines(records: Records, schema: pa.Schema | None = None) -> pa.Table | None:
    """A batch that is all finished JSON lines, parsed by Arrow's JSON reader (typed like
    `pa.array` types the same values); None when any record is a dict or will not parse."""
    if not records or not all(isinstance(r, bytes) for r in records):
        return None
    data = b"".join(records)
    try:
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(block_size=len(data) + 1),
            parse_options=pa_json.ParseOptions(explicit_schema=schema) if schema else None,
        )
    except ARROW_INFERENCE_ERRORS:
        return None


def _storable(kind: pa.DataType | None) -> pa.DataType | None:
    """Parquet cannot hold a struct without fields (`"parameters": {}` in a tool schema):
    such a column is kept as JSON text; a column of nulls only is a string column."""
    if kind is None or kind == pa.null():
        return None if kind is None else pa.string()
    return None if _has_empty_struct(kind) else kind


def _has_empty_struct(kind: pa.DataType) -> bool:
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        return not fields or any(_has_empty_struct(f.type) for f in fields)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_empty_struct(kind.value_type)
    return False


def _unified(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if a == b or b == pa.null():
        return a
    if a == pa.null():
        return b
    merged = pa.unify_schemas(
        [pa.schema([("v", a)]), pa.schema([("v", b)])], promote_options="permissive"
    )
    unified: pa.DataType = merged.field("v").type
    return unified


def json_line(record: Any) -> bytes:
    """A record's JSON line; a record that comes as bytes is its line already."""
    return record if isinstance(record, bytes) else orjson.dumps(record) + b"\n"


def json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class FileWriter(Protocol):
    rows: int

    def write(self, records: Records) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed by close())
        self.rows = 0

    def write(self, records: Records) -> None:
        self._fh.write(b"".join(json_line(r) for r in records))
        self.rows += len(records)

    def close(self) -> None:
        self._fh.close()


class JsonWriter(JsonlWriter):
    def write(self, records: Records) -> None:
        if records:
            sep = b",\n" if self.rows else b"[\n"
            self._fh.write(sep + b",\n".join(json_line(r)[:-1] for r in records))
            self.rows += len(records)

    def close(self) -> None:
        self._fh.write(b"\n]\n" if self.rows else b"[]\n")
        self._fh.close()


class CsvWriter:
    def __init__(self, path: Path, layout: Layout) -> None:
        self._fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._columns = list(layout.types)
        self._out = csv.writer(self._fh)
        self._out.writerow(self._columns)
        self.rows = 0

    def write(self, records: Records) -> None:
        self._out.writerows([json_text(r.get(c)) for c in self._columns] for r in records)
        self.rows += len(records)

    def close(self) -> None:
        self._fh.close()


class ParquetWriter:
    def __init__(self, path: Path, layout: Layout) -> None:
        self._layout = layout
        self._schema = layout.schema()
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd")
        self.rows = 0

    def write(self, records: Records) -> None:
        if not records:
            return
        if None not in self._layout.types.values():
            parsed = _parsed_lines(records, self._schema)
            if parsed is not None:
                self._writer.write_table(parsed.select(self._schema.names))
                self.rows += len(records)
                return
        records = [orjson.loads(r) if isinstance(r, bytes) else r for r in records]
        arrays: list[pa.Array[Any]] = []
        for name, kind in self._layout.types.items():
            values = [r.get(name) for r in records]
            if kind is None:
                arrays.append(pa.array([json_text(v) for v in values], type=pa.string()))
            else:
                try:
                    arrays.append(pa.array(values, type=kind))
                except ARROW_INFERENCE_ERRORS as exc:
                    raise ExportFailed(
                        f"Column {name!r} does not fit its Parquet type: {exc}"
                    ) from None
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self.rows += len(records)

    def write_table(self, table: pa.Table) -> None:
        """Rows already in the layout's schema."""
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
