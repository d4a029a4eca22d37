"""A dataset's versions: list (newest first, keyset-paged), read one, cut a snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.services.datasets import version_diff, version_history

router = APIRouter(tags=["native versions"])


@router.get("/datasets/{dataset_id}/versions")
def list_versions(
    dataset_id: str, hub: HubDep, caller: Caller, cursor: str | None = None, limit: int = 20
) -> dict[str, Any]:
    """Pass `next_cursor` back as `cursor` for the next page; `limit` is 1 to 100."""
    found, next_cursor = version_history.list_versions(
        hub, caller.account_id, dataset_id, cursor=cursor, limit=limit
    )
    return {"object": "list", "data": found, "next_cursor": next_cursor}


@router.get("/datasets/{dataset_id}/versions/{version_id}")
def get_version(dataset_id: str, version_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    return version_history.get_version(hub, caller.account_id, dataset_id, version_id)


@router.post("/datasets/{dataset_id}/versions")
def snapshot(dataset_id: str, hub: HubDep, caller: Caller, response: Response) -> dict[str, Any]:
    """A new head version of the live rows (201), or the head when nothing changed (200)."""
    view, made = version_history.snapshot(hub, caller.account_id, dataset_id)
    response.status_code = 201 if made else 200
    return view


@router.get("/datasets/{dataset_id}/versions/{a}/diff/{b}")
def diff(
    dataset_id: str,
    a: str,
    b: str,
    hub: HubDep,
    caller: Caller,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Rows added, removed and changed from version `a` to `b`, with the changed fields;
    paged by datapoint id (`next_cursor`), `limit` 1 to 500."""
    return version_diff.diff_versions(
        hub, caller.account_id, dataset_id, a, b, cursor=cursor, limit=limit
    )
