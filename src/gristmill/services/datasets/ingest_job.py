"""The `ingest` job: stream a dataset's source file into datapoints, then snapshot version 1.

Rows are written batch by batch, tagged with the attempt that wrote them; the dataset turns
`succeeded` in one final transaction that also drops any rows a crashed attempt left behind,
so a retry never duplicates rows and nothing is visible before the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, insert, update

from gristmill.hub import Hub
from gristmill.ids import prefixed, uuid7
from gristmill.ingest import IngestReader
from gristmill.ingest.model import Batch
from gristmill.ingest.model import Datapoint as IngestedRow
from gristmill.jobs.worker import JobContext, register
from gristmill.services.datasets import versions
from gristmill.services.errors import InvalidRequest
from gristmill.services.quality.evaluation import queue_evaluation
from gristmill.store.metadata.models import (
    Datapoint,
    Dataset,
    DatasetRowError,
    Job,
    utcnow,
)

log = logging.getLogger("gristmill.ingest")
BATCH_SIZE = 5000
DATAPOINTS = cast(Table, Datapoint.__table__)
STAGED = datetime(1970, 1, 1, tzinfo=UTC)  # staled_at of rows a replacing ingest writes
PROGRESS_EVERY = 0.5  # seconds between progress writes to the dataset row
MAX_SHOWN_ERRORS = 3


def _count_lines(chunks: Iterator[bytes]) -> int:
    count, last = 0, b"\n"
    for chunk in chunks:
        count += chunk.count(b"\n")
        last = chunk[-1:] or last
    return count + (0 if last == b"\n" else 1)


def estimate_total(reader: IngestReader, path: Path) -> int | None:
    """Rows to expect, when a cheap pass can tell: Parquet metadata, or the newline count of
    an uncompressed JSONL file (a CSV record may span lines, so it is not counted)."""
    if reader.total_rows is not None:
        return reader.total_rows
    if reader.format == "jsonl" and reader.compression == "none":
        with open(path, "rb") as fh:
            return _count_lines(iter(lambda: fh.read(1 << 20), b""))
    return None


def stored_fields(row: IngestedRow) -> dict[str, Any]:
    """The datapoint columns a normalized row fills (its side fields out of `extra`)."""
    return {
        "kind": row.kind,
        "input": row.input,
        "output": row.output,
        "output_schema": row.extra.get("output_schema"),
        "tool_params": row.extra.get("tool_params"),
        "tags": row.tags or None,
        "extra": {k: v for k, v in row.extra.items() if k not in ("output_schema", "tool_params")}
        or None,
        "function_name": row.extra.get("function_name"),
    }


def _datapoint_rows(
    ds: Dataset, batch: Batch, token: str, staged: datetime | None
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": str(uuid7()),
            "account_id": ds.account_id,
            "dataset_id": ds.id,
            **stored_fields(row),
            "source_line": row.line,
            "job_id": token,
            "is_custom": False,
            "staled_at": staged,
            "created_at": now,
            "updated_at": now,
        }
        for row in batch.rows
    ]


def run_ingest(ctx: JobContext) -> dict[str, Any]:
    hub, token = ctx.hub, ctx.attempt_token
    dataset_id = ctx.job.params["dataset_id"]
    # a replacing ingest keeps its rows out of sight (stale) until the final transaction
    staged = STAGED if ctx.job.params.get("replace") else None
    with hub.db.session() as s:
        ds = s.get(Dataset, dataset_id)
        if ds is None or ds.account_id != ctx.job.account_id:
            raise InvalidRequest(f"Dataset {dataset_id} no longer exists.")
        if ds.source_blob_key is None:
            raise InvalidRequest(f"Dataset {dataset_id} has no source file.")
        ds.status, ds.progress_done, ds.error = "running", 0, None
    with ExitStack() as stack:
        path = stack.enter_context(versions.local_copy(hub, ds.source_blob_key))
        reader = stack.enter_context(
            IngestReader(
                path,
                filename=ds.source_filename,
                schema_type=ds.schema_type,
                column_mapping=ds.column_mapping,
                batch_size=BATCH_SIZE,
            )
        )
        total = estimate_total(reader, path)
        ctx.progress(0, total)
        _set_progress(hub, ds.id, 0, total)
        snapshot = stack.enter_context(versions.SnapshotFile())
        good = bad = 0
        first_errors: list[str] = []
        last_report = 0.0
        for batch in reader:
            rows = _datapoint_rows(ds, batch, token, staged)
            snapshot.add(rows)
            with hub.db.session() as s:
                if rows:
                    # Core executemany: the ORM's bulk path costs more than SQLite itself here
                    s.execute(DATAPOINTS.insert(), rows)
                if batch.errors:
                    s.execute(
                        insert(DatasetRowError),
                        [
                            {
                                "account_id": ds.account_id,
                                "dataset_id": ds.id,
                                "job_id": token,
                                "line": e.line,
                                "reasons": list(e.reasons),
                            }
                            for e in batch.errors
                        ],
                    )
            good += len(batch.rows)
            bad += len(batch.errors)
            for e in batch.errors[: MAX_SHOWN_ERRORS - len(first_errors)]:
                first_errors.append(f"line {e.line}: {e.reasons[0]['message']}")
            ctx.progress(good + bad, total)
            if time.monotonic() - last_report >= PROGRESS_EVERY:
                _set_progress(hub, ds.id, good + bad, total)
                last_report = time.monotonic()
        schema_type = reader.schema_type or ds.schema_type
        source_format = reader.format
        if good == 0:
            detail = "; ".join(first_errors) if first_errors else "the file holds no rows"
            raise InvalidRequest(f"No valid rows to ingest: {detail}.")
        return _finalize(ctx, ds, good, bad, schema_type, source_format, snapshot)


def _set_progress(hub: Hub, dataset_id: str, done: int, total: int | None) -> None:
    with hub.db.session() as s:
        s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(progress_done=done, progress_total=total, updated_at=utcnow())
        )


def _finalize(
    ctx: JobContext,
    ds: Dataset,
    good: int,
    bad: int,
    schema_type: str | None,
    source_format: str | None,
    snapshot: versions.SnapshotFile,
) -> dict[str, Any]:
    hub, token = ctx.hub, ctx.attempt_token
    version_id = prefixed("ver_")
    key = f"versions/{ds.account_id}/{ds.id}/{version_id}.parquet"
    rows, size = snapshot.publish(hub, key)
    try:
        with hub.db.session() as s:
            ctx.hold_lease(s)
            deleted_meanwhile = s.get(Dataset, ds.id) is None
            for model in (Datapoint, DatasetRowError):
                doomed = model.dataset_id == ds.id
                if not deleted_meanwhile:
                    doomed = doomed & (model.job_id != token)
                s.execute(delete(model).where(doomed))
            s.execute(
                update(Datapoint)
                .where(Datapoint.dataset_id == ds.id, Datapoint.job_id == token)
                .values(staled_at=None)
            )
            if deleted_meanwhile:  # the dataset was deleted while we ingested: leave nothing
                hub.blobs.delete(key)
                return {"rows": 0, "invalid_rows": 0, "dataset_deleted": True}
            versions.add_version(
                s,
                version_id=version_id,
                account_id=ds.account_id,
                dataset_id=ds.id,
                reason="ingest",
                key=key,
                rows=rows,
                size=size,
                stats={"valid_rows": good, "invalid_rows": bad},
            )
            s.execute(
                update(Dataset)
                .where(Dataset.id == ds.id)
                .values(
                    status="succeeded",
                    row_count=good,
                    invalid_row_count=bad,
                    progress_done=good + bad,
                    progress_total=good + bad,
                    schema_type=schema_type,
                    source_format=source_format,
                    head_version_id=version_id,
                    error=None,
                    updated_at=utcnow(),
                )
            )
            queue_evaluation(hub, s, ds, version_id)
    except BaseException:
        hub.blobs.delete(key)
        raise
    return {"rows": good, "invalid_rows": bad, "version_id": version_id}


def give_up_ingest(hub: Hub, job: Job, message: str) -> None:
    """A failed ingest leaves no rows: drop everything it wrote and record why. A failed
    replacing ingest drops only what it staged: the dataset keeps the rows it had."""
    dataset_id = job.params.get("dataset_id")
    last_attempt = f"{job.id}.{job.attempts}"
    if job.params.get("replace"):
        with hub.db.session() as s:
            for model in (Datapoint, DatasetRowError):
                mine = model.job_id.startswith(f"{job.id}.")
                s.execute(delete(model).where(model.dataset_id == dataset_id, mine))
            s.execute(update(Dataset).where(Dataset.id == dataset_id).values(status="succeeded"))
        return
    with hub.db.session() as s:
        s.execute(delete(Datapoint).where(Datapoint.dataset_id == dataset_id))
        # keep the last attempt's row errors: they explain the failure
        s.execute(
            delete(DatasetRowError).where(
                DatasetRowError.dataset_id == dataset_id, DatasetRowError.job_id != last_attempt
            )
        )
        s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(status="failed", error=message, row_count=0, updated_at=utcnow())
        )


def register_ingest() -> None:
    register("ingest", run_ingest, give_up_ingest)
