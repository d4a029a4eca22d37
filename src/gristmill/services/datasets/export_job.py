"""Exports: any version of a dataset written in a training format, optionally split into
train and validation files, by an `export` job (or inline, for a direct download).

The version is read batch by batch from its Parquet snapshot; each row is turned into its
training record (`records`) and then into the format (`export_formats`); a row the format
cannot hold is counted and reported with its line, never bent to fit. The split is
deterministic: a seeded permutation picks exactly the validation rows asked for (a fraction
of the version's rows, or a count), the same ones every time for the same seed. Files are
written to temp files, published to the blob store, and recorded in one final transaction.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.jobs.worker import JobContext, register
from gristmill.services import signed_urls
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import export_fast, version_history, versions
from gristmill.services.datasets.export_formats import CONVERTERS, Inexpressible
from gristmill.services.datasets.export_writers import (
    CsvWriter,
    FileWriter,
    JsonlWriter,
    JsonWriter,
    Layout,
    ParquetWriter,
)
from gristmill.services.datasets.records import record_of
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.store.metadata.models import Dataset, DatasetVersion, Export, Job, utcnow

TABULAR = ("csv", "parquet")
FORMATS = (*CONVERTERS, "jsonl", "json", *TABULAR)
EXTENSIONS = {"json": "json", "csv": "csv", "parquet": "parquet"}  # the rest: jsonl
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
BATCH = 10_000
# what the formats read of a snapshot row (not its timestamps)
EXPORTED_COLUMNS = [c for c in versions.SCHEMA.names if c != "created_at"]
KEPT_SKIPS = 1000
DIGEST_CHUNK = 4 << 20
PROGRESS_SECONDS = 0.5
T = TypeVar("T")


@dataclass(frozen=True)
class Split:
    validation_fraction: float | None
    validation_rows: int | None
    seed: int

    def to_json(self) -> dict[str, Any]:
        share = (
            self.validation_rows if self.validation_rows is not None else self.validation_fraction
        )
        return {"validation": share, "seed": self.seed}

    def mask(self, rows: int) -> np.ndarray:
        """True for each row (by position in the version) that goes to validation."""
        if self.validation_rows is not None:
            wanted = min(self.validation_rows, rows)
        else:
            wanted = round(rows * (self.validation_fraction or 0.0))
        chosen = np.zeros(rows, dtype=bool)
        chosen[np.random.default_rng(self.seed).permutation(rows)[:wanted]] = True
        return chosen


def parse_split(raw: Any) -> Split | None:
    """`{"validation": 0.1}` (a fraction in (0, 1)) or `{"validation": 500}` (rows), with an
    optional integer `seed` (default 0)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or "validation" not in raw:
        raise InvalidRequest(
            'split must be an object like {"validation": 0.1, "seed": 0}.', param="split"
        )
    share, seed = raw["validation"], raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidRequest("split.seed must be a whole number ≥ 0.", param="split.seed")
    if isinstance(share, int) and not isinstance(share, bool) and share >= 1:
        return Split(None, share, seed)
    if isinstance(share, float) and 0 < share < 1:
        return Split(share, None, seed)
    raise InvalidRequest(
        f"split.validation must be a fraction between 0 and 1 or a row count ≥ 1, not {share!r}.",
        param="split.validation",
    )


def check_format(file_format: Any, param: str = "format") -> str:
    if file_format not in FORMATS:
        raise InvalidRequest(
            f"Unsupported {param} {file_format!r}: expected one of {', '.join(FORMATS)}.",
            param=param,
        )
    return str(file_format)


def stem_of(ds: Dataset) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ds.name).strip("._") or ds.id  # headers are latin-1
    return re.sub(r"\.(jsonl|json|csv|parquet|gz|zst)$", "", stem)


def filename(stem: str, file_format: str, split: str | None) -> str:
    suffix = f"-{split}" if split else ""
    return f"{stem}{suffix}.{EXTENSIONS.get(file_format, 'jsonl')}"


def media_type(file_format: str) -> str:
    return MEDIA_TYPES.get(file_format, "application/jsonl")


def new_export(
    hub: Hub, account_id: str, dataset_id: str, body: dict[str, Any]
) -> tuple[Dataset, Export]:
    """Validate a request and pick its version; a request without `version` exports the live
    rows, cutting (and evaluating) a version first if they changed since the head."""
    file_format = check_format(body.get("format"))
    split = parse_split(body.get("split"))
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    version_id = version_history.version_to_ship(hub, ds, body.get("version"))
    export = Export(
        id=prefixed("exp_"),
        account_id=account_id,
        dataset_id=ds.id,
        version_id=version_id,
        format=file_format,
        split=split.to_json() if split else None,
        status="pending",
        progress_done=0,
        rows_written=0,
        rows_skipped=0,
    )
    with hub.db.session() as s:
        export.progress_total = s.get_one(DatasetVersion, version_id).row_count
    return ds, export


def start_export(hub: Hub, account_id: str, dataset_id: str, body: dict[str, Any]) -> Export:
    _ds, export = new_export(hub, account_id, dataset_id, body)
    job = queue.new_job(hub, account_id=account_id, kind="export", params={"id": export.id})
    export.job_id = job.id
    with hub.db.session() as s:
        s.add_all([export, job])
    return export


def get_export(hub: Hub, account_id: str, dataset_id: str, export_id: str) -> Export:
    return dataset_service.dataset_part(
        hub, account_id, dataset_id, Export, export_id, what="Export", param="export_id"
    )


@dataclass
class Written:
    files: list[dict[str, Any]]
    rows_written: int
    rows_skipped: int
    skipped: list[dict[str, Any]]


def _writer(file_format: str, path: Path, layout: Layout | None) -> FileWriter:
    if file_format == "csv":
        assert layout is not None
        return CsvWriter(path, layout)
    if file_format == "parquet":
        assert layout is not None
        return ParquetWriter(path, layout)
    return JsonWriter(path) if file_format == "json" else JsonlWriter(path)


def converted(
    path: Path,
    file_format: str,
    on_skip: Callable[[dict[str, Any], str], None] = lambda _row, _why: None,
) -> Iterator[list[tuple[int, Any]]]:
    """(position in the version, record in the format) batches; skipped rows reported. A
    plain chat row in a JSON format comes as its finished JSON line (bytes, see
    `export_fast`); every other row as a record."""
    convert = CONVERTERS.get(file_format)
    position = 0
    for arrow in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=EXPORTED_COLUMNS):
        if file_format in export_fast.FORMATS:
            fast, lines = export_fast.fast_lines(arrow, file_format)
            if len(arrow) and fast.all():  # every row took the fast path: none to look at
                yield list(zip(range(position, position + len(arrow)), lines, strict=True))
                position += len(arrow)
                continue
            slow_rows = iter(versions.decoded_rows(arrow.filter(pa.array(~fast))))
        else:
            fast, lines = np.zeros(len(arrow), dtype=bool), []
            slow_rows = iter(versions.decoded_rows(arrow))
        batch: list[tuple[int, Any]] = []
        for i in range(len(arrow)):
            if fast[i]:
                batch.append((position + i, lines[i]))
                continue
            row = next(slow_rows)
            record = record_of(row)
            if convert is not None:
                try:
                    record = convert(record, row["kind"], row)
                except Inexpressible as why:
                    on_skip(row, str(why))
                    continue
            batch.append((position + i, record))
        position += len(arrow)
        if batch:
            yield batch


class NotPlain(Exception):
    """A snapshot batch holds a row that is not a plain chat row."""


def plain_tables(path: Path) -> Iterator[tuple[int, pa.Table]]:
    """The version as Parquet tables of plain chat rows (`export_fast.plain_messages`), each
    with the position of its first row; raises NotPlain at the first batch that is not."""
    position = 0
    for arrow in pq.ParquetFile(path).iter_batches(
        batch_size=BATCH, columns=export_fast.PLAIN_COLUMNS
    ):
        table = export_fast.plain_messages(arrow)
        if table is None:
            raise NotPlain
        yield position, table
        position += len(arrow)


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator, the next one made on another thread while the caller works
    on this one: Arrow lets go of the GIL, so parsing and writing use both cores."""
    with ThreadPoolExecutor(1) as other:
        coming = other.submit(next, items, None)
        while (item := coming.result()) is not None:
            coming = other.submit(next, items, None)
            yield item


def write_export(
    hub: Hub, export: Export, stem: str, out_dir: Path, progress: Callable[[int], None]
) -> tuple[Written, dict[str, Path]]:
    """Write the export's files into `out_dir`; (what was written, name → local path)."""
    with hub.db.session() as s:
        version = s.get_one(DatasetVersion, export.version_id)
        key, total = version.blob_key, version.row_count
    split = parse_split(export.split)
    to_validation = split.mask(total) if split else None
    names = ["train", "validation"] if split else [None]
    files = {n: out_dir / filename(stem, export.format, n) for n in names}
    reported = [0]

    def forward(done: int) -> None:  # a fallback starts over: progress never goes back
        if done > reported[0]:
            reported[0] = done
            progress(done)

    with versions.local_copy(hub, key) as path:
        written = None
        if export.format == "parquet" and total:
            written = _write_plain(path, files, to_validation, forward)
        if written is None:
            written = _write_records(path, export.format, files, to_validation, forward)
    return written, {p.name: p for p in files.values()}


def _write_plain(
    path: Path,
    files: dict[str | None, Path],
    to_validation: np.ndarray | None,
    progress: Callable[[int], None],
) -> Written | None:
    """A Parquet export in one pass when every row is a plain chat row, whose layout is then
    known without a scan; None at the first batch that is not (its files are rewritten)."""
    layout = Layout({"messages": export_fast.PLAIN_TYPE})
    writers = {n: ParquetWriter(p, layout) for n, p in files.items()}
    try:
        for start, table in _read_ahead(plain_tables(path)):
            if to_validation is None:
                writers[None].write_table(table)
            else:
                picked = to_validation[start : start + table.num_rows]
                writers["validation"].write_table(table.filter(pa.array(picked)))
                writers["train"].write_table(table.filter(pa.array(~picked)))
            progress(start + table.num_rows)
    except NotPlain:
        return None
    finally:
        for w in writers.values():
            w.close()
    return _written(files, writers, layout, 0, [])


def _write_records(
    path: Path,
    file_format: str,
    files: dict[str | None, Path],
    to_validation: np.ndarray | None,
    progress: Callable[[int], None],
) -> Written:
    """Any export, record batch by record batch; CSV and Parquet scan the version first."""
    skipped: list[dict[str, Any]] = []
    count = {"skipped": 0}

    def on_skip(row: dict[str, Any], why: str) -> None:
        count["skipped"] += 1
        if len(skipped) < KEPT_SKIPS:
            skipped.append(
                {"line": row.get("source_line"), "datapoint_id": row["id"], "reason": why}
            )

    layout = None
    if file_format in TABULAR:
        layout = Layout.scan([r for _, r in b] for b in converted(path, file_format))
    writers = {n: _writer(file_format, p, layout) for n, p in files.items()}
    try:
        for batch in converted(path, file_format, on_skip):
            if to_validation is None:
                writers[None].write([r for _, r in batch])
            else:
                writers["validation"].write([r for i, r in batch if to_validation[i]])
                writers["train"].write([r for i, r in batch if not to_validation[i]])
            progress(batch[-1][0] + 1)
    finally:
        for w in writers.values():
            w.close()
    return _written(files, writers, layout, count["skipped"], skipped)


def _written(
    files: dict[str | None, Path],
    writers: Mapping[str | None, FileWriter],
    layout: Layout | None,
    skips: int,
    skipped: list[dict[str, Any]],
) -> Written:
    columns = (
        {k: str(t or "string (JSON text)") for k, t in layout.types.items()} if layout else None
    )
    described = [
        {"name": p.name, "split": n or "train", "rows": writers[n].rows, "bytes": p.stat().st_size}
        | ({"columns": columns} if columns else {})
        for n, p in files.items()
    ]
    return Written(described, sum(w.rows for w in writers.values()), skips, skipped)


def _digests(path: Path) -> tuple[str, str]:
    """(git blob SHA-1, SHA-256) of a file: what the Hub door and checksums need."""
    git = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    sha = hashlib.sha256()
    # hashlib lets go of the GIL on large chunks: the two digests run on two cores
    with ThreadPoolExecutor(1) as other, open(path, "rb") as fh:
        while chunk := fh.read(DIGEST_CHUNK):
            pending = other.submit(git.update, chunk)
            sha.update(chunk)
            pending.result()
    return git.hexdigest(), sha.hexdigest()


def _publish(
    hub: Hub,
    export_id: str,
    written: Written,
    paths: dict[str, Path],
    prefix: str,
    hold_lease: Callable[[Any], None],
) -> None:
    keys = []
    try:
        for f in written.files:
            f["git_sha1"], f["sha256"] = _digests(paths[f["name"]])
            f["blob_key"] = f"{prefix}/{f['name']}"
            keys.append(f["blob_key"])
            hub.blobs.put_file(f["blob_key"], paths[f["name"]])
        with hub.db.session() as s:
            hold_lease(s)
            done = s.get_one(Export, export_id)
            done.status, done.files, done.finished_at = "succeeded", written.files, utcnow()
            done.rows_written, done.rows_skipped = written.rows_written, written.rows_skipped
            done.skipped, done.progress_done = written.skipped, done.progress_total or 0
    except BaseException:
        for key in keys:
            hub.blobs.delete(key)
        raise


def run_export(ctx: JobContext) -> dict[str, Any]:
    hub = ctx.hub
    export_id = ctx.job.params["id"]
    with hub.db.session() as s:
        export = s.get_one(Export, export_id)
        ds = s.get(Dataset, export.dataset_id)
        if ds is None:
            return {"export_id": export_id, "status": "gone"}
        export.status = "running"
        s.flush()
        s.expunge(export)
        stem = stem_of(ds)
    last = [time.monotonic()]

    def progress(done: int) -> None:
        ctx.progress(done)
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            with hub.db.session() as s:
                s.get_one(Export, export_id).progress_done = done

    with tempfile.TemporaryDirectory() as tmp:
        written, paths = write_export(hub, export, stem, Path(tmp), progress)
        # the attempt in the key: an attempt that lost its lease deletes only its own files
        prefix = f"exports/{export.account_id}/{export.dataset_id}/{export_id}.{ctx.job.attempts}"
        _publish(hub, export_id, written, paths, prefix, ctx.hold_lease)
    return {"export_id": export_id, "rows_written": written.rows_written}


def export_now(hub: Hub, account_id: str, dataset_id: str, body: dict[str, Any]) -> Export:
    """The same export written inline, for a direct download: the caller gets a finished
    export (its report and files) or an error, never a half-written one."""
    ds, export = new_export(hub, account_id, dataset_id, body)
    export.status = "running"
    with hub.db.session() as s:
        s.add(export)
        s.flush()
        s.expunge(export)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            written, paths = write_export(hub, export, stem_of(ds), Path(tmp), lambda _done: None)
            prefix = f"exports/{account_id}/{ds.id}/{export.id}"
            _publish(hub, export.id, written, paths, prefix, lambda _s: None)
    except BaseException as exc:
        with hub.db.session() as s:
            failed = s.get_one(Export, export.id)
            failed.status, failed.error, failed.finished_at = "failed", str(exc), utcnow()
        raise
    return get_export(hub, account_id, dataset_id, export.id)


def latest_export(hub: Hub, account_id: str, dataset_id: str) -> Export | None:
    """The newest finished export of the dataset's head version, if any."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        found = s.scalar(
            select(Export)
            .where(
                Export.dataset_id == ds.id,
                Export.account_id == account_id,
                Export.version_id == ds.head_version_id,
                Export.status == "succeeded",
            )
            .order_by(Export.finished_at.desc())
            .limit(1)
        )
        if found is not None:
            s.expunge(found)
        return found


def export_view(hub: Hub, e: Export, base_url: str) -> dict[str, Any]:
    """What the native door answers; finished files carry a signed, expiring link."""
    files = []
    for f in e.files or []:
        path = f"exports/{e.id}/{f['name']}"
        url = signed_urls.signed_url(hub, base_url, f["blob_key"], path, f["name"])
        files.append({k: v for k, v in f.items() if k != "blob_key"} | {"url": url})
    return {
        "id": e.id,
        "object": "dataset.export",
        "dataset_id": e.dataset_id,
        "version_id": e.version_id,
        "format": e.format,
        "split": e.split,
        "status": e.status,
        "progress": {"done": e.progress_done, "total": e.progress_total},
        "rows_written": e.rows_written,
        "rows_skipped": e.rows_skipped,
        "skipped": e.skipped or [],
        "files": files,
        "error": e.error,
        "created_at": e.created_at.isoformat(),
        "finished_at": e.finished_at.isoformat() if e.finished_at else None,
    }


def signed_file(
    hub: Hub, path: str, expires: str | None, signature: str | None
) -> tuple[str, str, str]:
    """The blob behind a signed export link: (blob key, file name, media type)."""
    signed_urls.check(hub, path, expires, signature)
    _, export_id, name = path.split("/", 2)
    with hub.db.session() as s:
        e = s.get(Export, export_id)
        found = [f for f in (e.files or []) if f["name"] == name] if e is not None else []
    if e is None or not found:
        raise NotFound("This export is gone.", code="export_not_found")
    return found[0]["blob_key"], name, media_type(e.format)


def give_up_export(hub: Hub, job: Job, message: str) -> None:
    with hub.db.session() as s:
        export = s.get(Export, job.params.get("id"))
        if export is not None and export.status != "succeeded":
            export.status, export.error, export.finished_at = "failed", message, utcnow()


def register_export() -> None:
    register("export", run_export, give_up_export)
