"""Presigned single-PUT uploads: a URL that takes one file's bytes without an API key.

With an S3 blob store the URL is S3's own presigned PUT; otherwise Gristmill serves it at
`PUT {base}/uploads/presigned/{token}`, where the token is random, stored only as a hash, and
accepted once before it expires.

S3 cannot be told to refuse a second PUT to a URL it signed, so completing an upload *moves*
the bytes: they are read back (to check size and sha256 against what was actually stored),
copied to a key no URL points to, and the uploaded object is deleted. A later PUT to the old
URL lands on an orphan that nothing reads, and a second complete is refused.

A complete that is refused (wrong size or sha256, a file that cannot be ingested) discards
the bytes and re-arms the upload, so the client can PUT again until the URL expires.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.ingest.compression import SUFFIXES as COMPRESSION_SUFFIXES
from gristmill.ingest.formats import split_filename
from gristmill.services.accounts import Principal
from gristmill.services.datasets import datasets
from gristmill.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from gristmill.services.streams import store_stream
from gristmill.store.metadata.models import Dataset, PresignedUpload, utcnow

URL_PATH = "/uploads/presigned/"


@dataclass(frozen=True)
class IssuedUrl:
    upload: PresignedUpload
    url: str


@dataclass(frozen=True)
class Received:
    """Verified bytes, and the key the ingest should read them from."""

    key: str
    bytes: int
    sha256: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(hub: Hub, account_id: str, dataset_id: str, filename: str, base_url: str) -> IssuedUrl:
    upload_id = prefixed("pu_")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._")[:200] or "file"
    key = f"uploads/{account_id}/{upload_id}/{safe}"
    ttl = hub.settings.presigned_url_expiry_seconds
    url = hub.blobs.presigned_put_url(key, ttl)
    token_hash = None
    if url is None:
        token = secrets.token_urlsafe(32)
        token_hash = _hash(token)
        base = (hub.settings.public_base_url or base_url).rstrip("/")
        url = f"{base}{URL_PATH}{token}"
    row = PresignedUpload(
        id=upload_id,
        account_id=account_id,
        dataset_id=dataset_id,
        blob_key=key,
        token_hash=token_hash,
        filename=filename,
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    with hub.db.session() as s:
        s.add(row)
    return IssuedUrl(row, url)


def _expired(upload: PresignedUpload) -> Forbidden:
    return Forbidden(
        f"This upload URL expired at {upload.expires_at.isoformat()}; create a new dataset "
        "to get a new one.",
        code="presigned_url_expired",
    )


def receive(hub: Hub, token: str, chunks: Iterable[bytes]) -> PresignedUpload:
    """Take the one PUT a self-served URL allows, streamed into the blob store."""
    with hub.db.session() as s:
        row = s.scalar(select(PresignedUpload).where(PresignedUpload.token_hash == _hash(token)))
    if row is None:
        raise NotFound("This upload URL is not valid.", code="presigned_url_unknown")
    now = utcnow()
    if row.expires_at <= now:
        raise _expired(row)
    with hub.db.session() as s:
        claimed = s.execute(
            update(PresignedUpload)
            .where(
                PresignedUpload.id == row.id,
                PresignedUpload.put_at.is_(None),
                PresignedUpload.completed_at.is_(None),
                PresignedUpload.expires_at > now,
            )
            .values(put_at=now)
        ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        raise Conflict(
            "This upload URL has already been used; it accepts one upload.",
            code="presigned_url_used",
        )
    limit = hub.settings.max_upload_bytes
    try:
        stored = store_stream(
            hub.blobs,
            row.blob_key,
            chunks,
            max_bytes=limit,
            too_large=f"The file is larger than the limit of {limit} bytes.",
        )
    except BaseException:
        _rearm(hub, row.id)
        raise
    with hub.db.session() as s:
        s.execute(
            update(PresignedUpload)
            .where(PresignedUpload.id == row.id)
            .values(bytes=stored.bytes, sha256=stored.sha256)
        )
    row.bytes, row.sha256 = stored.bytes, stored.sha256
    return row


def find(
    hub: Hub, account_id: str, *, dataset_id: str | None = None, key: str | None = None
) -> PresignedUpload:
    """The latest upload of a dataset, or the one at a key, within one account."""
    q = select(PresignedUpload).where(PresignedUpload.account_id == account_id)
    if dataset_id is not None:
        q = q.where(PresignedUpload.dataset_id == dataset_id)
    if key is not None:
        q = q.where(PresignedUpload.blob_key == key)
    with hub.db.session() as s:
        row = s.scalar(q.order_by(PresignedUpload.created_at.desc()).limit(1))
    if row is None and dataset_id is not None:  # the caller has checked the dataset is theirs
        raise InvalidRequest(
            f"Dataset {dataset_id} has no file upload to complete: it was not created from "
            "a file source.",
            param="dataset_id",
        )
    if row is None:
        raise NotFound(f"No file upload was started for s3_key {key!r}.", param="s3_key")
    return row


def _rearm(hub: Hub, upload_id: str) -> None:
    with hub.db.session() as s:
        s.execute(
            update(PresignedUpload)
            .where(PresignedUpload.id == upload_id)
            .values(put_at=None, completed_at=None, bytes=None, sha256=None)
        )


def _nothing_uploaded(upload: PresignedUpload) -> InvalidRequest | Forbidden:
    if upload.expires_at <= utcnow():
        return _expired(upload)
    return InvalidRequest(
        "No file has been uploaded yet: PUT the file to the upload URL, then complete.",
        code="upload_missing",
    )


def _moved(hub: Hub, upload: PresignedUpload, dest_key: str) -> Received:
    """Read an S3 upload back once, hashing it on its way to a key no URL points to."""
    limit = hub.settings.max_upload_bytes
    too_large = f"The file is larger than the limit of {limit} bytes."
    if hub.blobs.size(upload.blob_key) > limit:
        raise PayloadTooLarge(too_large)
    stored = store_stream(
        hub.blobs, dest_key, hub.blobs.read(upload.blob_key), max_bytes=limit, too_large=too_large
    )
    return Received(dest_key, stored.bytes, stored.sha256)


def _check(declared_size: int, declared_sha: str | None, got_size: int, got_sha: str) -> None:
    if declared_size != got_size:
        raise InvalidRequest(
            f"file_size_bytes is {declared_size} but {got_size} bytes were uploaded.",
            param="file_size_bytes",
            code="size_mismatch",
        )
    if declared_sha is not None and declared_sha.strip().lower() != got_sha:
        raise InvalidRequest(
            f"sha256 {declared_sha} does not match the uploaded file's sha256 {got_sha}.",
            param="sha256",
            code="sha256_mismatch",
        )


@contextmanager
def taking(
    hub: Hub, upload: PresignedUpload, *, size: int, sha256: str | None, dest_key: str
) -> Iterator[Received]:
    """Complete an upload: claim it, verify the bytes, and hand them over.

    If anything inside the block fails, the bytes are discarded and the upload re-armed;
    on success the upload is used up for good.
    """
    with hub.db.session() as s:
        claimed = s.execute(
            update(PresignedUpload)
            .where(PresignedUpload.id == upload.id, PresignedUpload.completed_at.is_(None))
            .values(completed_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
        current = s.get(PresignedUpload, upload.id)
    if claimed != 1 or current is None:
        raise Conflict("This upload has already been completed.", code="upload_completed")
    self_served = current.token_hash is not None
    missing = current.bytes is None if self_served else not hub.blobs.exists(current.blob_key)
    if missing:
        # Leave put_at alone: a PUT may be streaming in right now.
        with hub.db.session() as s:
            s.execute(
                update(PresignedUpload)
                .where(PresignedUpload.id == upload.id)
                .values(completed_at=None)
            )
        raise _nothing_uploaded(current)
    keys = {current.blob_key} if self_served else {current.blob_key, dest_key}
    try:
        if self_served:
            got = Received(current.blob_key, current.bytes or 0, current.sha256 or "")
        else:
            got = _moved(hub, current, dest_key)
        _check(size, sha256, got.bytes, got.sha256)
        yield got
    except BaseException:
        for key in keys:
            hub.blobs.delete(key)
        _rearm(hub, upload.id)
        raise
    if not self_served:
        hub.blobs.delete(current.blob_key)
    with hub.db.session() as s:
        s.execute(
            update(PresignedUpload)
            .where(PresignedUpload.id == upload.id)
            .values(bytes=got.bytes, sha256=got.sha256)
        )


def discard_uploads(hub: Hub, account_id: str, dataset_id: str) -> None:
    """Free every byte a dataset's upload URLs received, including a PUT that reused an S3
    URL after its upload was completed."""
    with hub.db.session() as s:
        keys = list(
            s.scalars(
                select(PresignedUpload.blob_key).where(
                    PresignedUpload.account_id == account_id,
                    PresignedUpload.dataset_id == dataset_id,
                )
            )
        )
    for key in keys:
        hub.blobs.delete(key)


# --- Datasets from uploads: create → PUT → complete → ingest -------------------------------

UPLOAD_FORMATS = ("csv", "json", "jsonl", "parquet")


def resolve_format(name: str, file_format: str | None, param: str = "file_format") -> str:
    """The declared format, else the one the name's extension implies."""
    if file_format is None:
        implied = split_filename(name)[0]
        if implied is None:
            raise InvalidRequest(
                f"file_format is required unless the name ends in one of "
                f"{', '.join('.' + f for f in UPLOAD_FORMATS)}.",
                param=param,
            )
        return implied
    if file_format not in UPLOAD_FORMATS:
        raise InvalidRequest(
            f"Unsupported file_format {file_format!r}: Gristmill ingests "
            f"{', '.join(UPLOAD_FORMATS)}.",
            param=param,
        )
    return file_format


def source_filename(name: str, file_format: str) -> str:
    """A filename the ingest reads as `file_format`; a compression suffix on the name stays."""
    if split_filename(name)[0] == file_format:
        return name
    suffix = next((x for x in COMPRESSION_SUFFIXES if name.lower().endswith(x)), "")
    return f"{name[: len(name) - len(suffix)]}.{file_format}{suffix}"


def create_upload_dataset(
    hub: Hub,
    caller: Principal,
    *,
    name: str,
    file_format: str | None,
    origin: str,
    base_url: str,
    schema_type: str | None = None,
    column_mapping: dict[str, Any] | None = None,
    format_param: str = "file_format",
) -> tuple[Dataset, IssuedUrl]:
    """A pending dataset and the URL its file goes to."""
    fmt = resolve_format(name, file_format, format_param)
    ds = datasets.create_dataset(
        hub,
        caller,
        name=name,
        origin=origin,
        schema_type=schema_type,
        column_mapping=column_mapping,
    )
    return ds, issue(hub, caller.account_id, ds.id, source_filename(name, fmt), base_url)


def initiate_upload(
    hub: Hub, caller: Principal, *, name: str, file_format: str, base_url: str
) -> IssuedUrl:
    """A URL for a file whose dataset is only created when the upload completes."""
    if not name or not name.strip():
        raise InvalidRequest("name must not be empty.", param="name")
    fmt = resolve_format(name, file_format)
    return issue(hub, caller.account_id, "", source_filename(name, fmt), base_url)


def _source_key(upload: PresignedUpload) -> str:
    return f"sources/{upload.account_id}/{upload.id}"


def complete_dataset_upload(
    hub: Hub, account_id: str, dataset_id: str, *, size: int, sha256: str | None
) -> Dataset:
    ds = datasets.get_dataset(hub, account_id, dataset_id)
    upload = find(hub, account_id, dataset_id=ds.id)
    with taking(hub, upload, size=size, sha256=sha256, dest_key=_source_key(upload)) as got:
        datasets.start_ingest(hub, account_id, ds.id, blob_key=got.key, filename=upload.filename)
    return datasets.get_dataset(hub, account_id, ds.id)


def complete_upload_by_key(
    hub: Hub,
    caller: Principal,
    *,
    key: str,
    name: str,
    file_format: str,
    size: int,
    origin: str,
) -> Dataset:
    """Complete an initiated upload; its dataset appears only once the bytes check out."""
    upload = find(hub, caller.account_id, key=key)
    fmt = resolve_format(name, file_format)
    started_as = split_filename(upload.filename)[0]
    if started_as != fmt:
        raise InvalidRequest(
            f"file_format {fmt!r} differs from the {started_as!r} the upload was initiated with.",
            param="file_format",
        )
    with taking(hub, upload, size=size, sha256=None, dest_key=_source_key(upload)) as got:
        if upload.dataset_id:  # an earlier complete got this far, then failed
            ds = datasets.get_dataset(hub, caller.account_id, upload.dataset_id)
        else:
            ds = datasets.create_dataset(hub, caller, name=name, origin=origin)
            with hub.db.session() as s:
                s.execute(
                    update(PresignedUpload)
                    .where(PresignedUpload.id == upload.id)
                    .values(dataset_id=ds.id)
                )
        datasets.start_ingest(
            hub, caller.account_id, ds.id, blob_key=got.key, filename=upload.filename
        )
    return datasets.get_dataset(hub, caller.account_id, ds.id)


def delete_dataset(hub: Hub, account_id: str, dataset_id: str) -> None:
    """Delete a dataset that is not being ingested, with whatever its URLs received."""
    ds = datasets.get_dataset(hub, account_id, dataset_id)
    if ds.status == "running":
        raise Conflict(
            f"Dataset {dataset_id} is being ingested; delete it once it has succeeded or failed.",
            param="dataset_id",
        )
    discard_uploads(hub, account_id, ds.id)
    datasets.delete_dataset(hub, account_id, ds.id)


def sweep_expired(hub: Hub) -> int:
    """Free the bytes of uploads whose URL expired before they were completed.

    An initiated upload has no dataset yet and simply goes; a dataset still waiting for its
    file is marked failed, so its owner sees why nothing arrived."""
    now = utcnow()
    with hub.db.session() as s:
        stale = list(
            s.scalars(
                select(PresignedUpload).where(
                    PresignedUpload.completed_at.is_(None), PresignedUpload.expires_at <= now
                )
            )
        )
    for upload in stale:
        hub.blobs.delete(upload.blob_key)
        with hub.db.session() as s:
            s.execute(delete(PresignedUpload).where(PresignedUpload.id == upload.id))
            if upload.dataset_id:
                s.execute(
                    update(Dataset)
                    .where(Dataset.id == upload.dataset_id, Dataset.status == "pending")
                    .values(
                        status="failed",
                        error="The upload URL expired before the upload was completed.",
                        updated_at=now,
                    )
                )
    return len(stale)
