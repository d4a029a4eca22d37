"""Writes through the Hub door: `create_repo` makes an empty dataset, and a commit of data
files (Parquet, JSONL, JSON or CSV, also gzip- or zstd-compressed) becomes the dataset's
rows, ingested and graded like any upload. The commit answers once the ingest has finished,
with the new version as its commit, so a `load_dataset` right after it sees the new rows. A
later commit replaces the rows (a new version); the old rows stay live until the new ones are
whole. `README.md` is kept as the dataset's own card text; `.gitattributes` is ignored.

Commit bodies are NDJSON with each file base64-encoded inside one JSON line, which may be
far larger than memory: the body is spooled to disk and each file's content is decoded from
it in chunks (`ndjson_files`)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gristmill.hub import Hub
from gristmill.ids import uuid7
from gristmill.services.accounts import Principal
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import Conflict, Forbidden, InvalidRequest, ServiceError
from gristmill.services.hub_door.repos import Repo, account_name, commit_sha, find_repo, resolve
from gristmill.store.metadata.models import Dataset, Job

DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
COMPRESSIONS = ("", ".gz", ".zst")
IGNORED = (".gitattributes", ".gitignore")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
COMMIT_WAIT_SECONDS = 900
CHUNK = 1 << 20


class RepoExists(Conflict):
    """409 with the repo's URL: `create_repo(exist_ok=True)` reads it from the body."""

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


def create_repo(hub: Hub, caller: Principal, body: dict[str, Any], base_url: str) -> dict[str, Any]:
    if body.get("type") not in ("dataset", None):
        raise InvalidRequest("Gristmill hosts dataset repos only.", param="type")
    name, namespace = body.get("name"), body.get("organization")
    mine = account_name(hub, caller.account_id)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidRequest(f"Invalid repo name {name!r}.", param="name")
    if namespace not in (None, mine):
        raise Forbidden(f"You cannot create repos in {namespace!r}: your namespace is {mine!r}.")
    url = f"{base_url}/datasets/{mine}/{name}"
    if dataset_service.find_by_name(hub, caller.account_id, name) is not None:
        raise RepoExists(f"You already created this dataset repo: {mine}/{name}", url)
    ds = dataset_service.create_dataset(
        hub, caller, name=name, origin="huggingface", data_source="HuggingFace", status="succeeded"
    )
    return {"url": url, "name": f"{mine}/{name}", "id": ds.id}


def delete_repo(hub: Hub, caller: Principal, body: dict[str, Any]) -> None:
    """`HfApi().delete_repo`: the dataset, its rows, versions and files."""
    namespace = body.get("organization") or account_name(hub, caller.account_id)
    repo = find_repo(hub, caller, str(namespace), str(body.get("name")))
    dataset_service.delete_dataset(hub, caller.account_id, repo.dataset.id)


def preupload(files: Any) -> dict[str, Any]:
    """Every file goes inline in the commit (`regular`): no LFS, so no Xet either."""
    if not isinstance(files, list):
        raise InvalidRequest("files must be a list.", param="files")
    return {
        "files": [
            {"path": f.get("path"), "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in files
            if isinstance(f, dict)
        ]
    }


@dataclass
class CommitFile:
    path: str
    local: Path


def _line_spans(fh: BinaryIO) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of each line of a spooled body, found chunk by chunk."""
    fh.seek(0)
    start = pos = 0
    while chunk := fh.read(CHUNK):
        at = 0
        while (nl := chunk.find(b"\n", at)) >= 0:
            yield start, pos + nl
            start, at = pos + nl + 1, nl + 1
        pos += len(chunk)
    if pos > start:
        yield start, pos


def _decode_content(fh: BinaryIO, start: int, out: Path) -> int:
    """The base64 string that starts at `start`, decoded into a file 1 MiB at a time as it
    is read; the offset of its closing quote (base64 has none inside)."""
    fh.seek(start)
    pos, carry = start, b""
    with open(out, "wb") as dest:
        while True:
            piece = fh.read(CHUNK)
            quote = piece.find(b'"')
            last = quote >= 0 or not piece
            text = carry + (piece[:quote] if quote >= 0 else piece)
            usable = len(text) if last else len(text) - len(text) % 4
            try:
                dest.write(base64.b64decode(text[:usable], validate=True))
            except ValueError:
                raise InvalidRequest("A file's content is not valid base64.") from None
            if last:
                return pos + (quote if quote >= 0 else len(piece))
            carry, pos = text[usable:], pos + len(piece)


CONTENT = re.compile(rb'"content"\s*:\s*"')


def ndjson_files(fh: BinaryIO, workdir: Path) -> tuple[dict[str, Any], list[CommitFile], list[str]]:
    """The commit's header, its files (decoded to disk) and the paths it deletes."""
    header: dict[str, Any] | None = None
    files: list[CommitFile] = []
    deleted: list[str] = []
    spans = list(_line_spans(fh))  # before any seek: the scan reads the file in order
    for number, (start, end) in enumerate(spans, 1):
        fh.seek(start)
        head = fh.read(min(end - start, 4096))
        found = CONTENT.search(head)
        if found is not None:  # a file line: the content is decoded without loading the line
            content_at = found.start()
            local = workdir / f"file-{number}"
            stop = _decode_content(fh, start + found.end(), local)
            fh.seek(stop + 1)
            rest = head[:content_at] + b'"content":null' + fh.read(end - stop - 1)
        else:
            fh.seek(start)
            rest, local = fh.read(end - start), None
        try:
            line = orjson.loads(rest)
        except orjson.JSONDecodeError:
            raise InvalidRequest(f"Commit line {number} is not JSON.", param="body") from None
        key, value = line.get("key"), line.get("value") or {}
        if key == "header":
            header = value
        elif key == "file" and local is not None and isinstance(value.get("path"), str):
            files.append(CommitFile(value["path"], local))
        elif key in ("deletedFile", "deletedFolder"):
            deleted.append(str(value.get("path")))
        elif key == "lfsFile":
            raise InvalidRequest(
                f"{value.get('path')}: LFS uploads are not accepted; this hub answers "
                "uploadMode 'regular' to preupload.",
                param="body",
            )
        elif key != "header" and line:
            raise InvalidRequest(f"Commit line {number} has an unknown key {key!r}.", param="body")
    if header is None:
        raise InvalidRequest("The commit has no header line.", param="body")
    return header, files, deleted


def _data_kind(path: str) -> str | None:
    lower = path.lower()
    for suffix in DATA_SUFFIXES:
        if any(lower.endswith(suffix + c) for c in COMPRESSIONS):
            return suffix
    return None


def _one_source(files: list[CommitFile], workdir: Path) -> tuple[Path, str]:
    """The commit's data files as one source file for the ingest, and its name."""
    kinds = {_data_kind(f.path) for f in files}
    if len(kinds) > 1:
        raise InvalidRequest("A commit's data files must all be of one format.", param="body")
    if len(files) == 1:
        return files[0].local, Path(files[0].path).name
    kind = kinds.pop()
    merged = workdir / f"merged{kind}"
    if kind == ".jsonl" and all(f.path.endswith(".jsonl") for f in files):
        with open(merged, "wb") as out:
            for f in files:
                with open(f.local, "rb") as fh:
                    last = b"\n"
                    while chunk := fh.read(CHUNK):
                        out.write(chunk)
                        last = chunk[-1:]
                    if last != b"\n":
                        out.write(b"\n")
        return merged, merged.name
    if kind == ".parquet":
        schemas = [pq.read_schema(f.local) for f in files]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        with pq.ParquetWriter(merged, schema) as writer:
            for f in files:
                for batch in pq.ParquetFile(f.local).iter_batches(batch_size=10_000):
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        return merged, merged.name
    raise InvalidRequest(
        f"Several {kind} files in one commit cannot be combined: send one, or JSONL / Parquet.",
        param="body",
    )


def _wait_for_ingest(hub: Hub, job_id: str) -> None:
    deadline = time.monotonic() + COMMIT_WAIT_SECONDS
    while time.monotonic() < deadline:
        with hub.db.session() as s:
            job = s.get_one(Job, job_id)
            status, error = job.status, job.error
        if status == "succeeded":
            return
        if status == "failed":
            raise InvalidRequest(f"The data files could not be ingested: {error}", param="body")
        time.sleep(0.2)
    raise ServiceError("The ingest is still running; the rows appear as main when it ends.")


def commit(
    hub: Hub,
    caller: Principal,
    repo: Repo,
    revision: str,
    body: BinaryIO,
    workdir: Path,
    base_url: str,
) -> dict[str, Any]:
    resolve(hub, repo, revision)  # RevisionNotFound first, as the Hub answers
    if revision not in ("main", commit_sha(repo.dataset.head_version_id or repo.dataset.id)):
        raise InvalidRequest("Commits go to main.", param="revision")
    header, files, deleted = ndjson_files(body, workdir)
    if deleted:
        raise InvalidRequest(
            f"Deleting files is not supported ({deleted[0]}): commit the data you want instead.",
            param="body",
        )
    data = [f for f in files if _data_kind(f.path)]
    unknown = [
        f.path for f in files if not _data_kind(f.path) and f.path not in ("README.md", *IGNORED)
    ]
    if unknown:
        raise InvalidRequest(
            f"{unknown[0]}: Gristmill datasets hold data files (Parquet, JSONL, JSON, CSV) and "
            "README.md only.",
            param="body",
        )
    ds = repo.dataset
    readme = next((f for f in files if f.path == "README.md"), None)
    if readme is not None:
        text = readme.local.read_text(errors="replace")
        with hub.db.session() as s:
            row = s.get_one(Dataset, ds.id)
            row.extra = {**(row.extra or {}), "card": text}
    if data:
        if ds.status in ("pending", "running"):
            raise Conflict(f"{repo.repo_id} is busy ({ds.status}); commit again when it is done.")
        source, filename = _one_source(data, workdir)
        key = f"datasets/{caller.account_id}/incoming/{uuid7()}/source"
        hub.blobs.put_file(key, source)
        try:
            job = dataset_service.start_ingest(
                hub,
                caller.account_id,
                ds.id,
                blob_key=key,
                filename=filename,
                # a key per commit: a failed commit never blocks the next one
                replace_as=str(uuid7()),
            )
        except BaseException:
            hub.blobs.delete(key)
            raise
        _wait_for_ingest(hub, job.id)
    fresh = dataset_service.get_dataset(hub, caller.account_id, ds.id)
    sha = resolve(hub, Repo(repo.namespace, fresh), "main").sha
    summary = str(header.get("summary") or "")
    if data and fresh.head_version_id is not None:  # the commit's title, for list_repo_commits
        with hub.db.session() as s:
            row = s.get_one(Dataset, ds.id)
            titles = dict((row.extra or {}).get("commit_titles") or {})
            titles[fresh.head_version_id] = summary[:300]
            row.extra = {**(row.extra or {}), "commit_titles": dict(list(titles.items())[-200:])}
    return {
        "success": True,
        "commitOid": sha,
        "commitUrl": f"{base_url}/datasets/{repo.repo_id}/commit/{sha}",
        "commitMessage": summary,
        "pullRequestUrl": None,
    }


__all__ = ["RepoExists", "commit", "commit_sha", "create_repo", "preupload"]
