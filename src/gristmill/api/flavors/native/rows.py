"""Datasets and their live rows, whichever door made them."""

from __future__ import annotations

from fastapi import APIRouter

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.api.flavors.native.wire import DatasetList, DatasetObject, RowList, RowObject
from gristmill.services.datasets import datasets as dataset_service

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


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, hub: HubDep, caller: Caller) -> DatasetObject:
    return DatasetObject.of(dataset_service.get_dataset(hub, caller.account_id, dataset_id))
