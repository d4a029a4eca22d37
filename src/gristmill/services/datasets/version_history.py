"""A dataset's versions as its owner reads them: listed newest first, one by one, and cut on
request (an explicit snapshot of the live rows, evaluated like any version)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.services.quality.evaluation import queue_evaluation, summary
from gristmill.store.metadata.models import Datapoint, Dataset, DatasetVersion, Evaluation

MAX_VERSIONS_PAGE = 100


def live_rows_changed(hub: Hub, ds: Dataset) -> bool:
    """Whether the live rows changed after the head version was cut (a TensorZero or
    Cloudflare door edit, say), or there is no head version at all."""
    with hub.db.session() as s:
        head = select(DatasetVersion.created_at).where(DatasetVersion.id == ds.head_version_id)
        cut = s.scalar(head)
        if cut is None:
            return True
        changed = select(Datapoint.id).where(
            Datapoint.dataset_id == ds.id,
            (Datapoint.updated_at > cut) | (Datapoint.staled_at > cut),
        )
        return s.scalar(select(changed.exists())) or False


def version_view(v: DatasetVersion, head: str | None, ev: Evaluation | None) -> dict[str, Any]:
    return {
        "id": v.id,
        "object": "dataset.version",
        "dataset_id": v.dataset_id,
        "number": v.number,
        "reason": v.reason,
        "row_count": v.row_count,
        "bytes": v.bytes,
        "stats": v.stats,
        "is_head": v.id == head,
        "evaluation": summary(ev) if ev is not None else None,
        "created_at": v.created_at.isoformat(),
    }


def _views(s: Any, ds: Dataset, found: list[DatasetVersion]) -> list[dict[str, Any]]:
    ids = [v.id for v in found]
    evals = {
        e.version_id: e for e in s.scalars(select(Evaluation).where(Evaluation.version_id.in_(ids)))
    }
    return [version_view(v, ds.head_version_id, evals.get(v.id)) for v in found]


def list_versions(
    hub: Hub, account_id: str, dataset_id: str, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; `cursor` is the previous page's `next_cursor` (a version number)."""
    dataset_service.check_limit(limit, MAX_VERSIONS_PAGE)
    before = None
    if cursor:
        if not cursor.isdigit():
            raise InvalidRequest(f"Invalid cursor {cursor!r}.", param="cursor")
        before = int(cursor)
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        q = select(DatasetVersion).where(
            DatasetVersion.dataset_id == ds.id, DatasetVersion.account_id == account_id
        )
        if before is not None:
            q = q.where(DatasetVersion.number < before)
        found = list(s.scalars(q.order_by(DatasetVersion.number.desc()).limit(limit + 1)))
        page = found[:limit]
        next_cursor = str(page[-1].number) if len(found) > limit else None
        return _views(s, ds, page), next_cursor


def version_of(s: Session, ds: Dataset, version_id: str) -> DatasetVersion:
    """One of this dataset's versions (the dataset already scoped to its account)."""
    v = s.get(DatasetVersion, version_id)
    if v is None or v.dataset_id != ds.id or v.account_id != ds.account_id:
        raise NotFound(f"Version {version_id} not found.", param="version_id")
    return v


def get_version(hub: Hub, account_id: str, dataset_id: str, version_id: str) -> dict[str, Any]:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        return _views(s, ds, [version_of(s, ds, version_id)])[0]


def snapshot(hub: Hub, account_id: str, dataset_id: str) -> tuple[dict[str, Any], bool]:
    """Cut the live rows as a new head version and queue its evaluation; when they have not
    changed since the head was cut, the head itself. (view, made now)."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    if ds.status != "succeeded":
        raise Conflict(
            f"Dataset {dataset_id} is {ds.status}: it can be snapshotted once it has succeeded.",
            param="dataset_id",
        )
    if ds.head_version_id is not None and not live_rows_changed(hub, ds):
        return get_version(hub, account_id, dataset_id, ds.head_version_id), False
    version_id = versions.cut_version(hub, ds, reason="snapshot")
    try:
        with hub.db.session() as s:
            fresh = s.get(Dataset, ds.id)
            if fresh is None:
                raise NotFound(f"Dataset {dataset_id} not found.", param="dataset_id")
            queue_evaluation(hub, s, fresh, version_id)
    except IntegrityError:  # queued meanwhile by another request
        pass
    return get_version(hub, account_id, dataset_id, version_id), True
