"""A dataset's live rows, whichever door made the dataset."""

from __future__ import annotations

from fastapi import APIRouter

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.api.flavors.native.wire import RowList, RowObject
from gristmill.services import datasets as dataset_service

router = APIRouter(tags=["native datasets"])


@router.get("/datasets/{dataset_id}/rows")
def list_rows(
    dataset_id: str, hub: HubDep, caller: Caller, offset: int = 0, limit: int = 100
) -> RowList:
    rows, total = dataset_service.list_datapoints(
        hub, caller.account_id, dataset_id, offset=offset, limit=limit
    )
    return RowList(data=[RowObject.of(r) for r in rows], total=total, offset=offset, limit=limit)
