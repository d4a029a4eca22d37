"""OpenAI-style Uploads: a declared size, parts streamed to blobs, then one composed File."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.accounts import Principal
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.files import files as file_service
from gristmill.services.streams import store_stream
from gristmill.store.metadata.models import File, Upload, UploadPart, utcnow


@dataclass(frozen=True)
class UploadView:
    upload: Upload
    status: str
    file: File | None


def _view(upload: Upload, file: File | None = None, now: datetime | None = None) -> UploadView:
    status = upload.status
    if status == "completing":
        status = "pending"
    if status == "pending" and upload.expires_at <= (now or utcnow()):
        status = "expired"
    return UploadView(upload=upload, status=status, file=file)


def create_upload(
    hub: Hub,
    account_id: str,
    *,
    bytes: int,
    filename: str,
    mime_type: str,
    purpose: str,
) -> UploadView:
    file_service.check_purpose(purpose)
    file_service.check_filename(filename, param="filename")
    if not mime_type or not mime_type.strip():
        raise InvalidRequest("mime_type must not be empty.", param="mime_type")
    if bytes <= 0:
        raise InvalidRequest(f"bytes must be a positive integer, got {bytes}.", param="bytes")
    if bytes > hub.settings.max_upload_bytes:
        raise InvalidRequest(
            f"bytes {bytes} exceeds the maximum upload size of "
            f"{hub.settings.max_upload_bytes} bytes.",
            param="bytes",
        )
    now = utcnow()
    row = Upload(
        id=prefixed("upload_"),
        account_id=account_id,
        filename=filename,
        purpose=purpose,
        mime_type=mime_type,
        bytes=bytes,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(seconds=hub.settings.upload_expiry_seconds),
    )
    with hub.db.session() as s:
        s.add(row)
    return _view(row)


def _load(hub: Hub, account_id: str, upload_id: str) -> Upload:
    with hub.db.session() as s:
        row = s.scalar(
            select(Upload).where(Upload.id == upload_id, Upload.account_id == account_id)
        )
    if row is None:
        raise NotFound(f"No such Upload object: {upload_id}", param="upload_id")
    return row


def _require_pending(view: UploadView) -> None:
    if view.status != "pending":
        raise InvalidRequest(
            f"Upload {view.upload.id} is {view.status}; it no longer accepts this operation.",
            param="upload_id",
        )


def get_upload(hub: Hub, account_id: str, upload_id: str) -> UploadView:
    row = _load(hub, account_id, upload_id)
    file = None
    if row.file_id:
        with hub.db.session() as s:
            file = s.get(File, row.file_id)
    return _view(row, file)


def add_part(hub: Hub, account_id: str, upload_id: str, chunks: Iterable[bytes]) -> UploadPart:
    view = _view(_load(hub, account_id, upload_id))
    _require_pending(view)
    part_id = prefixed("part_")
    limit = hub.settings.max_part_bytes
    stored = store_stream(
        hub.blobs,
        f"uploads/{account_id}/{upload_id}/{part_id}",
        chunks,
        max_bytes=limit,
        too_large=f"Part is larger than the limit of {limit} bytes.",
        digests=(),
    )
    if stored.bytes == 0:
        hub.blobs.delete(stored.key)
        raise InvalidRequest("The part is empty.", param="data")
    part = UploadPart(
        id=part_id,
        account_id=account_id,
        upload_id=upload_id,
        blob_key=stored.key,
        bytes=stored.bytes,
    )
    try:
        with hub.db.session() as s:
            # Re-check under the write: a cancel or complete may have landed meanwhile.
            current = s.get(Upload, upload_id)
            assert current is not None
            _require_pending(_view(current))
            s.add(part)
    except BaseException:
        hub.blobs.delete(stored.key)
        raise
    return part


def _claim(hub: Hub, account_id: str, upload_id: str, to_status: str) -> Upload:
    """Move a pending, unexpired upload to `to_status` atomically, or explain why not."""
    now = utcnow()
    with hub.db.session() as s:
        result = s.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.account_id == account_id,
                Upload.status == "pending",
                Upload.expires_at > now,
            )
            .values(status=to_status)
        )
        claimed = result.rowcount == 1  # type: ignore[attr-defined]
    row = _load(hub, account_id, upload_id)
    if not claimed:
        view = _view(row, now=now)
        if view.status == "pending":  # another request is completing it right now
            raise InvalidRequest(f"Upload {upload_id} is being completed.", param="upload_id")
        _require_pending(view)
    return row


def _ordered_parts(hub: Hub, upload: Upload, part_ids: list[str]) -> list[UploadPart]:
    if not part_ids:
        raise InvalidRequest("part_ids must list at least one part.", param="part_ids")
    if len(set(part_ids)) != len(part_ids):
        raise InvalidRequest("part_ids lists a part more than once.", param="part_ids")
    with hub.db.session() as s:
        found = {
            p.id: p for p in s.scalars(select(UploadPart).where(UploadPart.upload_id == upload.id))
        }
    missing = [pid for pid in part_ids if pid not in found]
    if missing:
        raise InvalidRequest(
            f"Part {missing[0]} does not belong to upload {upload.id}.", param="part_ids"
        )
    parts = [found[pid] for pid in part_ids]
    total = sum(p.bytes for p in parts)
    if total != upload.bytes:
        raise InvalidRequest(
            f"The parts add up to {total} bytes but the upload declared {upload.bytes} bytes.",
            param="part_ids",
        )
    return parts


def _concat(hub: Hub, parts: list[UploadPart]) -> Iterator[bytes]:
    for part in parts:
        yield from hub.blobs.read(part.blob_key)


def complete_upload(
    hub: Hub, caller: Principal, upload_id: str, *, part_ids: list[str], md5: str | None = None
) -> UploadView:
    account_id = caller.account_id
    upload = _claim(hub, account_id, upload_id, "completing")
    file_id = prefixed("file-")
    try:
        parts = _ordered_parts(hub, upload, part_ids)
        stored = file_service.store_file_blob(
            hub, account_id, file_id, upload.purpose, _concat(hub, parts), want_md5=bool(md5)
        )
        if md5 and stored.md5 != md5.lower():
            hub.blobs.delete(stored.key)
            raise InvalidRequest(
                f"md5 mismatch: the parts hash to {stored.md5}, not {md5}.", param="md5"
            )
        file = file_service.new_file_row(
            account_id, file_id, filename=upload.filename, purpose=upload.purpose, stored=stored
        )
        completed = (
            update(Upload).where(Upload.id == upload_id).values(status="completed", file_id=file_id)
        )
        file_service.save_file(hub, caller, file, completed)
    except BaseException:
        with hub.db.session() as s:
            s.execute(update(Upload).where(Upload.id == upload_id).values(status="pending"))
        raise
    for part in parts:
        hub.blobs.delete(part.blob_key)
    return get_upload(hub, account_id, upload_id)


def cancel_upload(hub: Hub, account_id: str, upload_id: str) -> UploadView:
    _claim(hub, account_id, upload_id, "cancelled")
    _drop_parts(hub, upload_id)
    return get_upload(hub, account_id, upload_id)


def _drop_parts(hub: Hub, upload_id: str) -> None:
    with hub.db.session() as s:
        keys = list(s.scalars(select(UploadPart.blob_key).where(UploadPart.upload_id == upload_id)))
    for key in keys:
        hub.blobs.delete(key)


def expire_uploads(hub: Hub) -> int:
    """Mark pending uploads past their expiry as expired and free their parts' blobs."""
    now = utcnow()
    with hub.db.session() as s:
        ids = list(
            s.scalars(select(Upload.id).where(Upload.status == "pending", Upload.expires_at <= now))
        )
        if ids:
            s.execute(
                update(Upload)
                .where(Upload.id.in_(ids), Upload.status == "pending")
                .values(status="expired")
            )
    for upload_id in ids:
        _drop_parts(hub, upload_id)
    return len(ids)
