"""Datasets and their live rows, whichever door made them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.api.flavors.native.wire import DatasetList, DatasetObject, RowList, RowObject
from gristmill.services.datasets import datasets as dataset_service
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
