"""The streaming entry point: source → format → rows → schema → validated batches."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any

from gristmill.ingest import compression as comp
from gristmill.ingest import formats as fmt
from gristmill.ingest.errors import IngestError
from gristmill.ingest.mapping import ColumnMapping
from gristmill.ingest.model import Batch, Datapoint, RawRow, RowError
from gristmill.ingest.normalize import normalize
from gristmill.ingest.readers.csv_rows import CsvRows
from gristmill.ingest.readers.json_array import JsonArrayRows
from gristmill.ingest.readers.jsonl_rows import jsonl_rows
from gristmill.ingest.readers.parquet_rows import ParquetRows
from gristmill.ingest.schema import SchemaVote, parse_schema_type
from gristmill.ingest.sources import ByteStream, OpenedSource, Source, open_source

DEFAULT_BATCH_SIZE = 2000


class IngestReader:
    """Opens a source and yields `Batch`es of validated rows.

    Everything that can be known from the start is settled in the constructor, which raises
    `IngestError` for an unsupported format, a compression mismatch, missing mapped columns
    or an unknown schema type. `format`, `compression` and `total_rows` (Parquet only) are
    then set; `schema_type` is set before the first batch when it was left to detection.
    `rows_valid` and `rows_rejected` count rows as they are yielded. Iterate once; close it
    (or use `with`) to release files it opened.
    """

    def __init__(
        self,
        source: Source,
        *,
        filename: str | None = None,
        format: str | None = None,
        compression: str | None = None,
        schema_type: str | None = None,
        column_mapping: Mapping[str, Any] | ColumnMapping | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        if batch_size < 1:
            raise IngestError("batch_size must be at least 1.", param="batch_size")
        self.batch_size = batch_size
        self.schema_type = parse_schema_type(schema_type)
        self.mapping = ColumnMapping.parse(column_mapping)
        if self.mapping is not None:
            if self.schema_type not in (None, self.mapping.kind):
                raise IngestError(
                    f"The column mapping produces {self.mapping.kind} rows, but schema_type is "
                    f"'{self.schema_type}'.",
                    param="column_mapping",
                )
            self.schema_type = self.mapping.kind
        explicit_format = fmt.parse_format(format)
        declared = comp.parse_compression(compression)
        self.total_rows: int | None = None
        self.rows_valid = 0
        self.rows_rejected = 0
        self._opened = open_source(source, filename)
        try:
            self.filename = self._opened.name
            name_format, name_compression, ext = fmt.split_filename(self.filename)
            self.compression = comp.sniff_compression(self._opened.stream.peek(8))
            if declared is not None:
                comp.check_declared(declared, self.compression, "the compression parameter")
            elif name_compression is not None:
                comp.check_declared(name_compression, self.compression, f"from '{self.filename}'")
            data = comp.decompress(self._opened.stream, self.compression)
            sniffed = None
            if explicit_format is None and name_format is None:
                sniffed = fmt.sniff_format(data.peek(fmt.SNIFF_BYTES))
                if sniffed is None:
                    raise IngestError(fmt.describe_unrecognised(self.filename, ext), param="file")
            self.format: str = explicit_format or name_format or sniffed or fmt.JSONL
            self._rows = self._open_rows(data)
        except BaseException:
            self.close()
            raise
        self._started = False

    def _open_rows(self, data: ByteStream) -> Iterable[RawRow]:
        required = self.mapping.columns if self.mapping else []
        if self.format == fmt.CSV:
            return CsvRows(data, required)
        if self.format == fmt.PARQUET:
            rows = ParquetRows(self._random_access(data), required, self.batch_size)
            self.total_rows = rows.total_rows
            return rows
        if self.format == fmt.JSON:
            return JsonArrayRows(data)
        return jsonl_rows(data)

    def _random_access(self, data: ByteStream) -> str | IO[bytes]:
        """Parquet keeps its index at the end of the file, so it needs to seek. A compressed
        or unseekable source is spooled to a temporary file (disk, not memory) first."""
        opened: OpenedSource = self._opened
        if self.compression == comp.NONE:
            if opened.path is not None:
                return opened.path
            if opened.seekable is not None:
                opened.seekable.seek(0)
                return opened.seekable
        spool = opened.exits.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        while chunk := data.read_chunk():
            spool.write(chunk)
        spool.seek(0)
        return spool

    @property
    def bytes_read(self) -> int:
        """Bytes consumed from the source as given (compressed), for progress reporting.
        Parquet is read by Arrow itself: measure its progress in rows against `total_rows`."""
        return self._opened.stream.bytes_read

    def close(self) -> None:
        self._opened.exits.close()

    def __enter__(self) -> IngestReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Batch]:
        if self._started:
            raise RuntimeError("an IngestReader can be iterated only once")
        self._started = True
        return self._batches()

    def _batches(self) -> Iterator[Batch]:
        tabular = self.format in (fmt.CSV, fmt.PARQUET)
        vote = SchemaVote() if self.schema_type is None else None
        # Rows held back until the schema type is known, so batches keep file order.
        pending: list[tuple[int, Any, Any]] = []
        batch = Batch()
        for item in self._mapped(tabular):
            if vote is not None:
                pending.append(item)
                vote.add(item[1])
                if not vote.settled:
                    continue
                self.schema_type = vote.decide()
                if self.schema_type is not None:
                    vote = None
                held, pending = pending, []
            else:
                held = [item]
            for line, value, raw in held:
                self._add(batch, line, value, raw, tabular)
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = Batch()
        if vote is not None:
            self.schema_type = vote.decide()
        for line, value, raw in pending:
            self._add(batch, line, value, raw, tabular)
            if len(batch) >= self.batch_size:
                yield batch
                batch = Batch()
        if len(batch):
            yield batch

    def _mapped(self, tabular: bool) -> Iterator[tuple[int, Any, Any]]:
        """(line, value, raw) per row; a reader or mapping failure comes as a RowError value."""
        mapping = self.mapping
        for row in self._rows:
            if row.error is not None:
                yield row.line, RowError(row.line, [row.error]), None
            elif mapping is None:
                yield row.line, row.value, row.value
            else:
                value, problem = mapping.apply(row.value, tabular=tabular)
                failed = RowError(row.line, [problem]) if problem else None
                yield row.line, failed or value, row.value

    def _add(self, batch: Batch, line: int, value: Any, raw: Any, tabular: bool) -> None:
        if isinstance(value, RowError):
            result: Datapoint | list[Any] = value.reasons
        else:
            # Without a known type only non-objects arrive here, and they fail alike.
            kind = self.schema_type or "chat"
            result = normalize(kind, value, line=line, raw=raw, tabular=tabular)
        if isinstance(result, Datapoint):
            batch.rows.append(result)
            self.rows_valid += 1
        else:
            batch.errors.append(RowError(line, result))
            self.rows_rejected += 1


def iter_batches(
    source: Source,
    *,
    filename: str | None = None,
    format: str | None = None,
    compression: str | None = None,
    schema_type: str | None = None,
    column_mapping: Mapping[str, Any] | ColumnMapping | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[Batch]:
    """Batches from `source`, closing what was opened. Being a generator, it raises
    `IngestError` on the first `next()`; use `IngestReader` to fail at open time and to read
    the detected format and schema type."""
    with IngestReader(
        source,
        filename=filename,
        format=format,
        compression=compression,
        schema_type=schema_type,
        column_mapping=column_mapping,
        batch_size=batch_size,
    ) as reader:
        yield from reader
