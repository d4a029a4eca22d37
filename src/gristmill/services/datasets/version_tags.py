"""Names on versions, and the one place a revision (`main`, a version id or a tag) becomes a
version: the native door, the CLI and the Hub door all read versions through it."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.store.metadata.models import Dataset, DatasetVersion, VersionTag

HEAD = "main"
# git's own rules, narrowed: what a URL path segment and a Hub revision carry unescaped
TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def resolve(s: Session, ds: Dataset, revision: str | None) -> DatasetVersion:
    """The version a revision names: `main` (or None) is the head, else a version id or a
    tag of this dataset (the dataset already scoped to its account)."""
    if revision in (None, "", HEAD):
        if ds.head_version_id is None:
            raise NotFound(f"Dataset {ds.id} has no version yet.", param="revision")
        revision = ds.head_version_id
    v = s.get(DatasetVersion, revision)
    if v is None:
        tag = s.scalar(
            select(VersionTag).where(VersionTag.dataset_id == ds.id, VersionTag.name == revision)
        )
        v = s.get(DatasetVersion, tag.version_id) if tag is not None else None
    if v is None or v.dataset_id != ds.id or v.account_id != ds.account_id:
        raise NotFound(f"Version {revision} not found.", param="version_id")
    return v


def tags_of(s: Session, version_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    q = select(VersionTag).where(VersionTag.version_id.in_(version_ids)).order_by(VersionTag.name)
    for tag in s.scalars(q):
        found.setdefault(tag.version_id, []).append(tag.name)
    return found


def add_tag(hub: Hub, account_id: str, dataset_id: str, version_ref: str, name: str) -> str:
    """Name a version; a name already on another version is a 409 (tags do not move: delete
    it first). Tagging the same version twice is a no-op. The version id."""
    if not TAG_NAME.fullmatch(name) or name == HEAD or name.startswith("ver_"):
        raise InvalidRequest(
            f"Invalid tag {name!r}: 1-100 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit; not {HEAD!r} and not starting with 'ver_'.",
            param="name",
        )
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        version = resolve(s, ds, version_ref)
        held = s.scalar(
            select(VersionTag).where(VersionTag.dataset_id == ds.id, VersionTag.name == name)
        )
        if held is not None and held.version_id == version.id:
            return version.id
        if held is not None:
            raise Conflict(f"Tag {name!r} is already on version {held.version_id}.", param="name")
        version_id = version.id
    try:
        with hub.db.session() as s:
            s.add(
                VersionTag(
                    id=prefixed("tag_"),
                    account_id=account_id,
                    dataset_id=ds.id,
                    version_id=version_id,
                    name=name,
                )
            )
    except IntegrityError:
        raise Conflict(f"Tag {name!r} was just given to another version.", param="name") from None
    return version_id


def delete_tag(hub: Hub, account_id: str, dataset_id: str, name: str) -> None:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        gone = s.execute(
            delete(VersionTag).where(VersionTag.dataset_id == ds.id, VersionTag.name == name)
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"Tag {name!r} not found.", param="name")
