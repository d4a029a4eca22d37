"""Dataset versions: immutable Parquet snapshots of a dataset's live rows in the blob store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.errors import Conflict
from gristmill.store.blobs.local import LocalBlobStore
from gristmill.store.metadata.models import Datapoint, Dataset, DatasetVersion, utcnow

BATCH = 5000
INSERT_BATCH = 2000
DATAPOINTS = cast(Table, Datapoint.__table__)
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


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        "id": [r["id"] for r in rows],
        "kind": [r["kind"] for r in rows],
        "function_name": [r.get("function_name") for r in rows],
        "name": [r.get("name") for r in rows],
        "source_line": [r.get("source_line") for r in rows],
        "is_custom": [bool(r.get("is_custom")) for r in rows],
        "created_at": [r["created_at"] for r in rows],
    }
    for f in JSON_FIELDS:
        cols[f] = [_json(r.get(f)) for r in rows]
    return cols


def as_row(dp: Datapoint) -> dict[str, Any]:
    """A datapoint as a snapshot row (JSON fields still decoded)."""
    return {
        c: getattr(dp, c)
        for c in (
            "id",
            "kind",
            "function_name",
            "name",
            "source_line",
            "is_custom",
            "created_at",
            *JSON_FIELDS,
        )
    }


class SnapshotFile:
    """A Parquet snapshot built batch by batch in a temp file, then published as a blob.

    Ingest feeds it the same rows it inserts, so a snapshot never re-reads the database."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.path = Path(self._tmp.name) / "snapshot.parquet"
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self.path, SCHEMA, compression="zstd"
        )
        self.rows = 0

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        assert self._writer is not None
        if rows:
            self._writer.write_table(pa.Table.from_pydict(_columns(rows), schema=SCHEMA))
            self.rows += len(rows)

    def publish(self, hub: Hub, key: str) -> tuple[int, int]:
        """Close the file and store it at `key`; returns (rows, bytes)."""
        self._close_writer()
        return self.rows, hub.blobs.put_file(key, self.path)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        self._close_writer()
        self._tmp.cleanup()

    def __enter__(self) -> SnapshotFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_datapoints(
    hub: Hub, where: ColumnElement[bool], page_size: int = BATCH
) -> Iterator[list[Datapoint]]:
    """Keyset-paged reads by id (UUIDv7, so in the order rows were written): each page is
    an index range scan however deep it goes, in its own short session."""
    last = ""
    while True:
        with hub.db.session() as s:
            rows = list(
                s.scalars(
                    select(Datapoint)
                    .where(where, Datapoint.id > last)
                    .order_by(Datapoint.id)
                    .limit(page_size)
                )
            )
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        last = rows[-1].id


def write_snapshot(hub: Hub, key: str, where: ColumnElement[bool]) -> tuple[int, int]:
    """Stream the matching rows out of the database into a Parquet blob; (rows, bytes)."""
    with SnapshotFile() as snap:
        for rows in iter_datapoints(hub, where):
            snap.add([as_row(dp) for dp in rows])
        return snap.publish(hub, key)


def add_version(
    s: Session,
    *,
    version_id: str,
    account_id: str,
    dataset_id: str,
    reason: str,
    key: str,
    rows: int,
    size: int,
    stats: dict[str, Any],
) -> None:
    """Record a published snapshot as the dataset's next version, in the caller's
    transaction (the unique number makes a concurrent cut fail instead of doubling)."""
    number = s.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset_id)
    )
    s.add(
        DatasetVersion(
            id=version_id,
            account_id=account_id,
            dataset_id=dataset_id,
            number=(number or 0) + 1,
            reason=reason,
            blob_key=key,
            row_count=rows,
            bytes=size,
            stats=stats,
        )
    )


def cut_version(hub: Hub, ds: Dataset, *, reason: str) -> str:
    """Snapshot the dataset's live rows as its next version, now its head; the version id."""
    version_id = prefixed("ver_")
    key = f"versions/{ds.account_id}/{ds.id}/{version_id}.parquet"
    live = (Datapoint.dataset_id == ds.id) & Datapoint.staled_at.is_(None)
    rows, size = write_snapshot(hub, key, live)
    try:
        with hub.db.session() as s:
            add_version(
                s,
                version_id=version_id,
                account_id=ds.account_id,
                dataset_id=ds.id,
                reason=reason,
                key=key,
                rows=rows,
                size=size,
                stats={"rows": rows},
            )
            s.execute(update(Dataset).where(Dataset.id == ds.id).values(head_version_id=version_id))
    except IntegrityError:
        hub.blobs.delete(key)
        raise Conflict(
            f"Dataset {ds.id} got a new version meanwhile; ask again.", param="dataset_id"
        ) from None
    except BaseException:
        hub.blobs.delete(key)
        raise
    return version_id


def replace_live_rows(s: Session, path: Path, account_id: str, dataset_id: str, token: str) -> None:
    """Make a snapshot's rows the dataset's live rows, in the caller's transaction (so the
    swap is seen whole or not at all); `token` tags the rows with what wrote them."""
    s.execute(
        delete(Datapoint).where(Datapoint.dataset_id == dataset_id, Datapoint.staled_at.is_(None))
    )
    now = utcnow()
    extra = {"account_id": account_id, "dataset_id": dataset_id, "job_id": token}
    batch: list[dict[str, Any]] = []

    def insert() -> None:
        # a restored row may have been soft-deleted since: its stale copy holds the id
        ids = [r["id"] for r in batch]
        s.execute(
            delete(Datapoint).where(Datapoint.dataset_id == dataset_id, Datapoint.id.in_(ids))
        )
        s.execute(DATAPOINTS.insert(), batch)
        batch.clear()

    for row in iter_snapshot_rows(path):
        batch.append({**row, **extra, "updated_at": now})
        if len(batch) >= INSERT_BATCH:
            insert()
    if batch:
        insert()


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


def decoded_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """A snapshot batch's rows with their JSON fields decoded."""
    decoded = [f for f in JSON_FIELDS if f in batch.schema.names]
    rows = batch.to_pylist()
    for row in rows:
        for f in decoded:
            if row[f] is not None:
                row[f] = orjson.loads(row[f])
    return rows


def iter_snapshot_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a snapshot with JSON fields decoded, batch by batch; only `columns` if given
    (a reader that needs no timestamps saves their conversion)."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=columns):
        yield from decoded_rows(batch)
