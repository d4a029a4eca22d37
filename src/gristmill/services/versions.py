"""Dataset versions: immutable Parquet snapshots of a dataset's live rows in the blob store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, select

from gristmill.hub import Hub
from gristmill.store.blobs.local import LocalBlobStore
from gristmill.store.metadata.models import Datapoint

BATCH = 5000
JSON_FIELDS = ("input", "output", "output_schema", "tool_params", "tags", "extra")
_FIELDS: list[tuple[str, pa.DataType]] = [
    ("id", pa.string()),
    ("kind", pa.string()),
    ("function_name", pa.string()),
    ("name", pa.string()),
    *[(f, pa.string()) for f in JSON_FIELDS],  # JSON text: rows differ in shape
    ("source_line", pa.int64()),
    ("is_custom", pa.bool_()),
    ("created_at", pa.timestamp("us", tz="UTC")),
]
SCHEMA = pa.schema(_FIELDS)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _columns(rows: list[Datapoint]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        "id": [r.id for r in rows],
        "kind": [r.kind for r in rows],
        "function_name": [r.function_name for r in rows],
        "name": [r.name for r in rows],
        "source_line": [r.source_line for r in rows],
        "is_custom": [r.is_custom for r in rows],
        "created_at": [r.created_at for r in rows],
    }
    for f in JSON_FIELDS:
        cols[f] = [_json(getattr(r, f)) for r in rows]
    return cols


def iter_datapoints(hub: Hub, where: ColumnElement[bool]) -> Iterator[list[Datapoint]]:
    """Keyset-paged reads by id (UUIDv7, so in the order rows were written)."""
    last = ""
    while True:
        with hub.db.session() as s:
            rows = list(
                s.scalars(
                    select(Datapoint)
                    .where(where, Datapoint.id > last)
                    .order_by(Datapoint.id)
                    .limit(BATCH)
                )
            )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def write_snapshot(hub: Hub, key: str, where: ColumnElement[bool]) -> tuple[int, int]:
    """Stream the matching rows into a Parquet blob; returns (rows, bytes)."""
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.parquet"
        with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
            for rows in iter_datapoints(hub, where):
                writer.write_table(pa.Table.from_pydict(_columns(rows), schema=SCHEMA))
                count += len(rows)
        size = hub.blobs.put(key, _file_chunks(path))
    return count, size


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            yield chunk


@contextmanager
def local_copy(hub: Hub, key: str) -> Iterator[Path]:
    """A seekable local path for a blob: the file itself on disk, else a streamed temp copy."""
    if isinstance(hub.blobs, LocalBlobStore):
        yield hub.blobs.local_path(key)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob"
        with open(path, "wb") as fh:
            for chunk in hub.blobs.read(key):
                fh.write(chunk)
        yield path


def iter_snapshot_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a snapshot with JSON fields decoded, batch by batch."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
        for row in batch.to_pylist():
            for f in JSON_FIELDS:
                if row[f] is not None:
                    row[f] = orjson.loads(row[f])
            yield row
