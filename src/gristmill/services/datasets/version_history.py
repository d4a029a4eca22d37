"""A dataset's versions as its owner reads them: listed newest first, one by one, and cut on
request (an explicit snapshot of the live rows, evaluated like any version)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import version_tags, versions
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.services.quality.evaluation import by_version, queue_evaluation, summary
from gristmill.store.metadata.models import (
    Datapoint,
    Dataset,
    DatasetVersion,
    Evaluation,
    utcnow,
)

MAX_VERSIONS_PAGE = 100


def live_rows_changed(hub: Hub, ds: Dataset) -> bool:
    """Whether the live rows changed after the head version was cut (a TensorZero or
    Cloudflare door edit, say), or there is no head version at all."""
    with hub.db.session() as s:
        head = select(DatasetVersion.created_at).where(DatasetVersion.id == ds.head_version_id)
        cut = s.scalar(head)
        if cut is None:
            return True
        # one EXISTS per index ((dataset, updated_at), (dataset, staled_at)): an OR of the two
        # would read every row of the dataset
        for later in (Datapoint.updated_at > cut, Datapoint.staled_at > cut):
            changed = select(Datapoint.id).where(Datapoint.dataset_id == ds.id, later)
            if s.scalar(select(changed.exists())):
                return True
        return False


def _public(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """A version's stats without where its stored diff lies (a blob key is internal)."""
    if not stats or "changes" not in stats:
        return stats
    changes = {k: v for k, v in stats["changes"].items() if k != "key"}
    return {**stats, "changes": changes}


def version_view(
    v: DatasetVersion, head: str | None, ev: Evaluation | None, tags: list[str]
) -> dict[str, Any]:
    return {
        "id": v.id,
        "object": "dataset.version",
        "dataset_id": v.dataset_id,
        "number": v.number,
        "reason": v.reason,
        "row_count": v.row_count,
        "bytes": v.bytes,
        "stats": _public(v.stats),
        "is_head": v.id == head,
        "tags": tags,
        "evaluation": summary(ev) if ev is not None else None,
        "created_at": v.created_at.isoformat(),
    }


def _views(s: Any, ds: Dataset, found: list[DatasetVersion]) -> list[dict[str, Any]]:
    ids = [v.id for v in found]
    evals = by_version(s, ds.account_id, ids)
    tags = version_tags.tags_of(s, ids)
    return [version_view(v, ds.head_version_id, evals.get(v.id), tags.get(v.id, [])) for v in found]


def list_versions(
    hub: Hub, account_id: str, dataset_id: str, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; `cursor` is the previous page's `next_cursor` (a version number)."""
    dataset_service.check_limit(limit, MAX_VERSIONS_PAGE)
    before = None
    if cursor:
        before = decimal(cursor)
        if before is None:
            raise InvalidRequest(f"Invalid cursor {cursor!r}.", param="cursor")
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


def get_version(hub: Hub, account_id: str, dataset_id: str, version_id: str) -> dict[str, Any]:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        return _views(s, ds, [version_tags.resolve(s, ds, version_id)])[0]


def _ready(ds: Dataset, doing: str) -> None:
    if ds.status != "succeeded":
        raise Conflict(
            f"Dataset {ds.id} is {ds.status}: it can be {doing} once it has succeeded.",
            param="dataset_id",
        )


def snapshot(hub: Hub, account_id: str, dataset_id: str) -> tuple[dict[str, Any], bool]:
    """Cut the live rows as a new head version and queue its evaluation; when they have not
    changed since the head was cut, the head itself. (view, made now)."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    _ready(ds, "snapshotted")
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


def restore(hub: Hub, account_id: str, dataset_id: str, version_ref: str) -> dict[str, Any]:
    """A new head version equal to an earlier one: its rows become the live rows again and it
    is evaluated like any new version. The earlier snapshot is immutable, so the new version
    shares its blob."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    _ready(ds, "restored")
    with hub.db.session() as s:
        source = version_tags.resolve(s, ds, version_ref)
        key, rows, size, source_id = source.blob_key, source.row_count, source.bytes, source.id
    version_id = prefixed("ver_")
    with versions.local_copy(hub, key) as path:
        try:
            with hub.db.session() as s:
                fresh = s.get(Dataset, ds.id)
                if fresh is None:
                    raise NotFound(f"Dataset {dataset_id} not found.", param="dataset_id")
                if fresh.status != "succeeded" or fresh.head_version_id != ds.head_version_id:
                    raise Conflict(
                        f"Dataset {dataset_id} changed meanwhile; ask again.", param="dataset_id"
                    )
                versions.replace_live_rows(s, path, account_id, ds.id, version_id)
                versions.add_version(
                    s,
                    version_id=version_id,
                    account_id=account_id,
                    dataset_id=ds.id,
                    reason="restore",
                    key=key,
                    rows=rows,
                    size=size,
                    stats={"rows": rows, "restored_from": source_id},
                )
                fresh.head_version_id, fresh.row_count, fresh.updated_at = (
                    version_id,
                    rows,
                    utcnow(),
                )
                queue_evaluation(hub, s, fresh, version_id)
        except IntegrityError:
            raise Conflict(
                f"Dataset {dataset_id} got a new version meanwhile; ask again.", param="dataset_id"
            ) from None
    return get_version(hub, account_id, dataset_id, version_id)


def version_to_ship(hub: Hub, ds: Dataset, revision: Any) -> str:
    """The version an export or a publication writes: the live rows (cut as a version first
    if they changed since the head) for no revision or `main`, else the one it names."""
    if revision is not None and not isinstance(revision, str):
        raise InvalidRequest("version must be a version id, a tag or 'main'.", param="version")
    if revision in (None, version_tags.HEAD):
        return str(snapshot(hub, ds.account_id, ds.id)[0]["id"])
    with hub.db.session() as s:
        return version_tags.resolve(s, ds, revision).id
