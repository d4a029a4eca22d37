"""An OpenAI `fine-tune` file is a dataset too: stored once, visible through every door.

The dataset and its ingest job are added in the transaction that records the file, so a
crash leaves either both or neither. The two share the file's blob: deleting one keeps what
the other still needs (see `blob_still_needed`)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.services.accounts import Principal
from gristmill.store.metadata.models import Dataset, File

ORIGIN = "openai"
DATASET_PURPOSES = ("fine-tune",)


def add_dataset_for_file(hub: Hub, s: Session, caller: Principal, file: File) -> Dataset | None:
    """Queue the ingest of a newly stored file as a dataset named after it, in `s`."""
    if file.purpose not in DATASET_PURPOSES:
        return None
    ds = Dataset(
        id=prefixed("ds_"),
        account_id=file.account_id,
        name=file.filename,
        origin=ORIGIN,
        data_source="LocalFile",
        status="pending",
        source_file_id=file.id,
        source_blob_key=file.blob_key,
        source_filename=file.filename,
        created_by_identity_id=caller.identity_id,
        created_by_identity_type=caller.identity_kind,
    )
    job = queue.new_job(
        hub, account_id=file.account_id, kind="ingest", params={"dataset_id": ds.id}
    )
    job.idempotency_key = f"ingest:{ds.id}"
    ds.job_id = job.id
    s.add_all([ds, job])
    return ds


def blob_still_needed(
    s: Session, blob_key: str, *, file_id: str | None, dataset_id: str | None
) -> bool:
    """Whether a file or dataset other than the one being deleted still reads `blob_key`."""
    by_file = select(File.id).where(File.blob_key == blob_key)
    by_dataset = select(Dataset.id).where(Dataset.source_blob_key == blob_key)
    if file_id is not None:
        by_file = by_file.where(File.id != file_id)
    if dataset_id is not None:
        by_dataset = by_dataset.where(Dataset.id != dataset_id)
    return bool(s.scalar(select(exists(by_file) | exists(by_dataset))))
