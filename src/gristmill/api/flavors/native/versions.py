"""A dataset's versions: list (newest first, keyset-paged), read one, cut a snapshot, restore
one, name one with a tag. Wherever a version id goes, a tag or `main` (the head) goes too."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.services.datasets import version_diff, version_history, version_tags

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


@router.post("/datasets/{dataset_id}/versions/{version_id}/restore", status_code=201)
def restore(dataset_id: str, version_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    """A new head version equal to `version_id`; its rows become the live rows again."""
    return version_history.restore(hub, caller.account_id, dataset_id, version_id)


@router.post("/datasets/{dataset_id}/versions/{version_id}/tags")
def add_tag(
    dataset_id: str,
    version_id: str,
    hub: HubDep,
    caller: Caller,
    name: Annotated[str, Body(embed=True)],
) -> dict[str, Any]:
    """`{"name": "v1.0"}`: a name for the version, unique in the dataset (409 if another
    version holds it); the version, with its tags."""
    tagged = version_tags.add_tag(hub, caller.account_id, dataset_id, version_id, name)
    return version_history.get_version(hub, caller.account_id, dataset_id, tagged)


@router.delete("/datasets/{dataset_id}/tags/{name}")
def delete_tag(dataset_id: str, name: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    version_tags.delete_tag(hub, caller.account_id, dataset_id, name)
    return {"object": "dataset.tag", "name": name, "deleted": True}
