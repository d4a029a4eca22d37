"""Datasets and their live rows, whichever door made them."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep, body_chunks
from gristmill.api.flavors.native.auth import Caller
from gristmill.api.flavors.native.wire import DatasetList, DatasetObject, RowList, RowObject
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.files import presigned
from gristmill.services.quality import reports

router = APIRouter(tags=["native datasets"])


@router.get("/datasets/{dataset_id}/rows")
def list_rows(
    dataset_id: str, hub: HubDep, caller: Caller, offset: int = 0, limit: int = 100
) -> RowList:
    rows, total = dataset_service.list_datapoints(
        hub, caller.account_id, dataset_id, offset=offset, limit=limit
    )
    return RowList(data=[RowObject.of(r) for r in rows], total=total, offset=offset, limit=limit)


@router.get("/datasets")
def list_datasets(
    hub: HubDep,
    caller: Caller,
    cursor: str | None = None,
    limit: int = 100,
    q: str | None = None,
    status: str | None = None,
) -> DatasetList:
    """Newest first, keyset-paged: pass `next_cursor` back as `cursor`."""
    dataset_service.check_limit(limit)
    rows, next_cursor = dataset_service.list_datasets_cursor(
        hub,
        caller.account_id,
        dataset_service.DatasetFilter(q=q, status=status),
        cursor=cursor,
        limit=limit,
        sort="-created_at",
    )
    return DatasetList(data=[DatasetObject.of(d) for d in rows], next_cursor=next_cursor)


@router.post("/datasets", status_code=201)
async def upload_dataset(
    request: Request,
    hub: HubDep,
    caller: Caller,
    name: str,
    filename: str | None = None,
    schema_type: str | None = None,
) -> DatasetObject:
    """The request body is the file (JSONL, JSON, CSV or Parquet, also gzip/zstd), streamed
    to the blob store; `filename` (default `name`) tells its format. The ingest is queued:
    poll the dataset until it is `succeeded` or `failed`."""
    ds = await run_in_threadpool(
        partial(
            dataset_service.create_from_upload,
            hub,
            caller,
            name=name,
            schema_type=schema_type,
            origin="native",
            chunks=body_chunks(request),
            filename=filename or name,
        )
    )
    return DatasetObject.of(ds)


@router.delete("/datasets/{dataset_id}")
def delete_dataset(dataset_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    """The dataset, its rows, versions, evaluations, runs and exports."""
    presigned.delete_dataset(hub, caller.account_id, dataset_id)
    return {"id": dataset_id, "object": "dataset.deleted", "deleted": True}


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, hub: HubDep, caller: Caller) -> DatasetObject:
    return DatasetObject.of(dataset_service.get_dataset(hub, caller.account_id, dataset_id))


@router.get("/datasets/{dataset_id}/evaluation")
def get_evaluation(dataset_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    """The head version's quality report: score, grade, and every check with its reason."""
    return reports.dataset_report(hub, caller.account_id, dataset_id)


@router.post("/datasets/{dataset_id}/evaluation", status_code=202)
def request_evaluation(dataset_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    """Evaluate the head (a snapshot of the live rows is cut first if it has no version)."""
    return reports.request_evaluation(hub, caller, dataset_id)


@router.get("/datasets/{dataset_id}/flags")
def list_flags(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    check: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    flags, next_cursor = reports.list_flags(
        hub, caller.account_id, dataset_id, check=check, cursor=cursor, limit=limit
    )
    return {"flags": flags, "next_cursor": next_cursor}
