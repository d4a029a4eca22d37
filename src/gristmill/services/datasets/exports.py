"""Exports: a dataset's head version streamed out as CSV, JSON, JSONL or Parquet records.

The head version is an immutable Parquet snapshot, so an export never sees a half-applied
change, and reading it batch by batch keeps memory flat. Rows are the training records of
`services.records`. Tabular formats need their columns before the first row, so CSV and
Parquet take one extra pass over the snapshot to collect them; nested values are written as
JSON text, plain strings as themselves. Parquet comes as a gzipped tar of Parquet shards,
the shape the Adaption API documents for `fileFormat=parquet`.
"""

from __future__ import annotations

import csv
import io
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.hub import Hub
from gristmill.services.datasets import export_job, versions
from gristmill.services.datasets.datasets import get_dataset
from gristmill.services.datasets.export_writers import json_line, json_text
from gristmill.services.datasets.records import record_of
from gristmill.services.errors import InvalidRequest, ServiceError
from gristmill.store.metadata.models import DatasetVersion

FORMATS = ("csv", "json", "jsonl", "parquet")
BATCH = 2000
SHARD_ROWS = 1_000_000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/jsonl",
    "parquet": "application/gzip",
}


class NotReady(ServiceError):
    """The dataset has no rows to export yet (it is pending, running, or failed)."""

    status = 422
    code = "dataset_not_ready"


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    chunks: Iterator[bytes]


def open_export(hub: Hub, account_id: str, dataset_id: str, file_format: str) -> Export:
    """Check everything that can fail before the first byte; the bytes come lazily."""
    if file_format not in FORMATS:
        raise InvalidRequest(
            f"Unsupported fileFormat {file_format!r}: expected one of "
            f"{', '.join(dict.fromkeys((*FORMATS, *export_job.FORMATS)))}.",
            param="fileFormat",
        )
    ds = get_dataset(hub, account_id, dataset_id)
    version = None
    if ds.head_version_id is not None:
        with hub.db.session() as s:
            version = s.get(DatasetVersion, ds.head_version_id)
    if version is None:
        detail = f": {ds.error}" if ds.status == "failed" and ds.error else ""
        raise NotReady(
            f"Dataset {dataset_id} has no processed rows to download (status {ds.status}){detail}.",
            param="dataset_id",
        )
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ds.name).strip("._") or ds.id  # headers are latin-1
    stem = stem.removesuffix(f".{file_format}")
    suffix = "tar.gz" if file_format == "parquet" else file_format
    writer = WRITERS[file_format]
    return Export(f"{stem}.{suffix}", MEDIA_TYPES[file_format], writer(hub, version.blob_key))


def _records(path: Path) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in versions.iter_snapshot_rows(path, export_job.EXPORTED_COLUMNS):
        batch.append(record_of(row))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _jsonl(hub: Hub, key: str) -> Iterator[bytes]:
    with versions.local_copy(hub, key) as path:
        for batch in export_job.converted(path, "jsonl"):
            yield b"".join(json_line(r) for _, r in batch)


def _json(hub: Hub, key: str) -> Iterator[bytes]:
    with versions.local_copy(hub, key) as path:
        sep = b"[\n"
        for batch in _records(path):
            yield sep + b",\n".join(orjson.dumps(r) for r in batch)
            sep = b",\n"
        yield b"]\n" if sep == b",\n" else b"[]\n"


@dataclass
class _Columns:
    """Every record field in first-seen order, and which hold only booleans (Parquet types)."""

    names: dict[str, bool]

    @classmethod
    def scan(cls, path: Path) -> _Columns:
        # None: no value seen yet; a column is boolean only if it has values and all are bool.
        seen: dict[str, bool | None] = {}
        for batch in _records(path):
            for record in batch:
                for key, value in record.items():
                    if value is None:
                        seen.setdefault(key, None)
                    else:
                        seen[key] = seen.get(key) is not False and isinstance(value, bool)
        return cls({key: bool(flag) for key, flag in seen.items()})


def _csv(hub: Hub, key: str) -> Iterator[bytes]:
    with versions.local_copy(hub, key) as path:
        columns = list(_Columns.scan(path).names)
        buffer = io.StringIO()
        out = csv.writer(buffer)
        out.writerow(columns)
        for batch in _records(path):
            out.writerows([json_text(r.get(c)) for c in columns] for r in batch)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()


def _arrow_value(is_bool: bool) -> Callable[[Any], Any]:
    return (lambda v: v) if is_bool else json_text


def _parquet(hub: Hub, key: str) -> Iterator[bytes]:
    with tempfile.TemporaryDirectory() as tmp, versions.local_copy(hub, key) as path:
        columns = _Columns.scan(path).names
        schema = pa.schema([(c, pa.bool_() if b else pa.string()) for c, b in columns.items()])
        convert = {c: _arrow_value(b) for c, b in columns.items()}
        shards: list[Path] = []
        writer: pq.ParquetWriter | None = None
        rows_in_shard = 0
        for batch in _records(path):
            if writer is None or rows_in_shard >= SHARD_ROWS:
                if writer is not None:
                    writer.close()
                shards.append(Path(tmp) / f"part-{len(shards):05d}.parquet")
                writer, rows_in_shard = pq.ParquetWriter(shards[-1], schema, compression="zstd"), 0
            data = {c: [convert[c](r.get(c)) for r in batch] for c in columns}
            writer.write_table(pa.Table.from_pydict(data, schema=schema))
            rows_in_shard += len(batch)
        if writer is not None:
            writer.close()
        archive = Path(tmp) / "export.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for shard in shards:
                tar.add(shard, arcname=shard.name)
        with open(archive, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                yield chunk


WRITERS: dict[str, Callable[[Hub, str], Iterator[bytes]]] = {
    "csv": _csv,
    "json": _json,
    "jsonl": _jsonl,
    "parquet": _parquet,
}
