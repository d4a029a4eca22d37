"""A dataset as a Hub dataset repo: `<account name>/<dataset name>` (or the dataset id), its
versions as revisions (`main` is the head; a version id, a tag or a commit sha name one), and
the files of a revision: `README.md` (the dataset card) and `data/train-00000-of-00001.parquet`
(the version's rows as typed Parquet, exported once per version and kept).

A commit sha is the SHA-1 of the version id, so it is stable and 40 hex characters, as the
clients expect; a repo created empty has one commit of its own until its first version."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.services.accounts import Principal
from gristmill.services.datasets import card, export_job, version_tags
from gristmill.services.errors import NotFound
from gristmill.store.metadata.models import Account, Dataset, DatasetVersion, Export

DATA_FILE = "data/train-00000-of-00001.parquet"


class RepoNotFound(NotFound):
    code = "RepoNotFound"


class RevisionNotFound(NotFound):
    code = "RevisionNotFound"


class EntryNotFound(NotFound):
    code = "EntryNotFound"


def commit_sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    namespace: str
    dataset: Dataset

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.dataset.name}"


@dataclass
class RepoFile:
    path: str
    size: int
    oid: str  # the git blob sha1: the clients' ETag and cache key
    read: Callable[[int, int], Iterator[bytes]]  # (start, end inclusive)


@dataclass
class Revision:
    repo: Repo
    sha: str
    version: DatasetVersion | None  # None: a repo created empty, before its first version


def account_name(hub: Hub, account_id: str) -> str:
    with hub.db.session() as s:
        return s.get_one(Account, account_id).name


def find_repo(hub: Hub, caller: Principal, namespace: str, name: str) -> Repo:
    """The caller's dataset by name (the newest of that name) or id; anything else, another
    account's dataset included, is RepoNotFound."""
    if namespace != account_name(hub, caller.account_id):
        raise RepoNotFound("Repository not found")
    with hub.db.session() as s:
        ds = s.scalar(
            select(Dataset)
            .where(Dataset.account_id == caller.account_id, Dataset.name == name)
            .order_by(Dataset.created_at.desc())
            .limit(1)
        )
        if ds is None:
            ds = s.get(Dataset, name)
            if ds is not None and ds.account_id != caller.account_id:
                ds = None
    if ds is None or (ds.gateway_id is not None and ds.head_version_id is None):
        raise RepoNotFound("Repository not found")
    return Repo(namespace, ds)


def resolve(hub: Hub, repo: Repo, revision: str) -> Revision:
    ds = repo.dataset
    if ds.head_version_id is None:
        if revision in (version_tags.HEAD, commit_sha(ds.id)):
            return Revision(repo, commit_sha(ds.id), None)
        raise RevisionNotFound(f"Invalid rev id: {revision}")
    with hub.db.session() as s:
        if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
            ids = s.scalars(select(DatasetVersion.id).where(DatasetVersion.dataset_id == ds.id))
            match = next((v for v in ids if commit_sha(v) == revision), None)
            if match is not None:
                revision = match
        try:
            version = version_tags.resolve(s, ds, revision)
        except NotFound:
            raise RevisionNotFound(f"Invalid rev id: {revision}") from None
        s.expunge(version)
    return Revision(repo, commit_sha(version.id), version)


def _parquet_export(hub: Hub, revision: Revision) -> Export:
    """The version as typed Parquet: exported on first use, then kept."""
    assert revision.version is not None
    ds = revision.repo.dataset
    with hub.db.session() as s:
        done = s.scalars(
            select(Export)
            .where(
                Export.version_id == revision.version.id,
                Export.format == "parquet",
                Export.status == "succeeded",
            )
            .order_by(Export.created_at)
        )
        # `split` is JSON: "no split" may be stored as JSON null, which IS NULL does not match
        found = next((e for e in done if not e.split), None)
        if found is not None:
            s.expunge(found)
            return found
    body = {"format": "parquet", "version": revision.version.id}
    return export_job.export_now(hub, ds.account_id, ds.id, body)


def files_of(hub: Hub, revision: Revision) -> list[RepoFile]:
    files: list[RepoFile] = []
    export = None
    if revision.version is not None:
        export = _parquet_export(hub, revision)
        stored = export.files[0]
        key = stored["blob_key"]
        files.append(
            RepoFile(
                DATA_FILE,
                stored["bytes"],
                stored["git_sha1"],
                lambda start, end: hub.blobs.read_range(key, start, end),
            )
        )
    features = export.files[0].get("columns") if export is not None else None
    splits = [("train", f.path) for f in files]
    text = card.render(hub, revision.repo.dataset, revision.version, splits, features)
    files.insert(
        0,
        RepoFile(
            "README.md",
            len(text),
            git_blob_sha1(text),
            lambda start, end: iter([text[start : end + 1]]),
        ),
    )
    return files


@dataclass
class RepoDir:
    path: str
    oid: str


def listing(hub: Hub, revision: Revision, path: str, recursive: bool) -> list[RepoFile | RepoDir]:
    """What the Hub's tree lists at `path`: a file itself, or a folder's entries (every level
    below it when `recursive`, directories included); a missing path is EntryNotFound."""
    files = files_of(hub, revision)
    for f in files:
        if f.path == path:
            return [f]
    dirs = sorted({f.path.rsplit("/", 1)[0] for f in files if "/" in f.path})
    if path and path not in dirs:
        raise EntryNotFound(f"{path} does not exist at {revision.sha}")
    inside = f"{path}/" if path else ""

    def shown(entry: str) -> bool:
        return entry.startswith(inside) and (recursive or "/" not in entry[len(inside) :])

    found: list[RepoFile | RepoDir] = [
        RepoDir(d, commit_sha(f"{revision.sha}:{d}")) for d in dirs if shown(d)
    ]
    return found + [f for f in files if shown(f.path)]


def file_at(hub: Hub, revision: Revision, path: str) -> RepoFile:
    for f in files_of(hub, revision):
        if f.path == path:
            return f
    raise EntryNotFound(f"{path} does not exist at {revision.sha}")


def commits(hub: Hub, repo: Repo) -> list[dict[str, object]]:
    """The repo's versions newest first, as the Hub lists commits (titles of commits made
    through this door are kept)."""
    ds = repo.dataset
    titles = (ds.extra or {}).get("commit_titles") or {}
    with hub.db.session() as s:
        found = list(
            s.scalars(
                select(DatasetVersion)
                .where(DatasetVersion.dataset_id == ds.id)
                .order_by(DatasetVersion.number.desc())
            )
        )
    out: list[dict[str, object]] = [
        {
            "id": commit_sha(v.id),
            "title": titles.get(v.id) or f"Version {v.number} ({v.reason})",
            "message": "",
            "authors": [{"user": repo.namespace}],
            "date": v.created_at,
        }
        for v in found
    ]
    out.append(
        {
            "id": commit_sha(ds.id),
            "title": "initial commit",
            "message": "",
            "authors": [{"user": repo.namespace}],
            "date": ds.created_at,
        }
    )
    return out
