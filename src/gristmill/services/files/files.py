"""The File use cases: store, list, read and delete uploaded files, scoped to one account."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

from sqlalchemy import Executable, and_, or_, select

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.accounts import Principal
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.files.file_datasets import add_dataset_for_file, blob_still_needed
from gristmill.services.files.jsonl_check import JsonlObjectLines
from gristmill.services.streams import StoredBlob, store_stream
from gristmill.store.metadata.models import File, utcnow

PURPOSES = (
    "fine-tune",
    "fine-tune-results",
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "vision",
    "user_data",
    "evals",
)
BATCH_DEFAULT_TTL = timedelta(days=30)
MIN_TTL, MAX_TTL = 3600, 2_592_000
MAX_LIST_LIMIT = 10_000


@dataclass(frozen=True)
class Page:
    items: list[File]
    has_more: bool


def check_purpose(purpose: str, param: str = "purpose") -> str:
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"Invalid purpose {purpose!r}: expected one of {', '.join(PURPOSES)}.", param=param
        )
    return purpose


def check_filename(filename: str | None, param: str = "file") -> str:
    if not filename or not filename.strip():
        raise InvalidRequest("The file has no filename.", param=param)
    # Multipart clients percent-encode awkward bytes (httpx sends NUL as %00): judge both forms.
    for form in (filename, unquote(filename)):
        _check_filename_form(form, filename, param)
    if len(filename.encode()) > 255:
        raise InvalidRequest("Invalid filename: longer than 255 bytes.", param=param)
    return filename


def _check_filename_form(filename: str, original: str, param: str) -> None:
    if "\x00" in filename:
        raise InvalidRequest("Invalid filename: it contains a NUL byte.", param=param)
    if any(ord(c) < 32 for c in filename):
        raise InvalidRequest("Invalid filename: it contains control characters.", param=param)
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise InvalidRequest(
            f"Invalid filename {original!r}: path separators and '..' are not allowed.",
            param=param,
        )


def check_ttl(seconds: int | None, param: str = "expires_after[seconds]") -> int | None:
    if seconds is not None and not MIN_TTL <= seconds <= MAX_TTL:
        raise InvalidRequest(
            f"expires_after seconds must be between {MIN_TTL} and {MAX_TTL}, got {seconds}.",
            param=param,
        )
    return seconds


def blob_key(account_id: str, file_id: str) -> str:
    return f"files/{account_id}/{file_id}"


def content_checks(purpose: str) -> tuple[list[Callable[[bytes], None]], Callable[[], None]]:
    """The streaming checks a purpose asks for, and the call that ends them."""
    if purpose == "fine-tune":
        checker = JsonlObjectLines()
        return [checker.feed], checker.finish
    return [], lambda: None


def store_file_blob(
    hub: Hub,
    account_id: str,
    file_id: str,
    purpose: str,
    chunks: Iterable[bytes],
    *,
    want_md5: bool = False,
) -> StoredBlob:
    checks, finish = content_checks(purpose)
    stored = store_stream(
        hub.blobs,
        blob_key(account_id, file_id),
        chunks,
        max_bytes=hub.settings.max_upload_bytes,
        too_large=f"File is larger than the limit of {hub.settings.max_upload_bytes} bytes.",
        checks=checks,
        finish=finish,
        digests=("sha256", "md5") if want_md5 else ("sha256",),
    )
    if stored.bytes == 0:
        hub.blobs.delete(stored.key)
        raise InvalidRequest("The file is empty.", param="file")
    return stored


def new_file_row(
    account_id: str,
    file_id: str,
    *,
    filename: str,
    purpose: str,
    stored: StoredBlob,
    ttl_seconds: int | None = None,
) -> File:
    now = utcnow()
    if ttl_seconds is not None:
        expires = now + timedelta(seconds=ttl_seconds)
    elif purpose == "batch":
        expires = now + BATCH_DEFAULT_TTL
    else:
        expires = None
    return File(
        id=file_id,
        account_id=account_id,
        purpose=purpose,
        filename=filename,
        bytes=stored.bytes,
        sha256=stored.sha256,
        blob_key=stored.key,
        status="processed",
        created_at=now,
        expires_at=expires,
    )


def save_file(hub: Hub, caller: Principal, row: File, *also: Executable) -> File:
    """Record a stored file (and its dataset, for a fine-tune file) in one transaction with
    `also`; if that fails the stored bytes go too, so nothing half-made stays."""
    try:
        with hub.db.session() as s:
            s.add(row)
            for statement in also:
                s.execute(statement)
            add_dataset_for_file(hub, s, caller, row)
    except BaseException:
        hub.blobs.delete(row.blob_key)
        raise
    return row


def create_file(
    hub: Hub,
    caller: Principal,
    *,
    filename: str | None,
    purpose: str,
    chunks: Iterable[bytes],
    ttl_seconds: int | None = None,
) -> File:
    check_purpose(purpose)
    name = check_filename(filename)
    check_ttl(ttl_seconds)
    file_id = prefixed("file-")
    stored = store_file_blob(hub, caller.account_id, file_id, purpose, chunks)
    row = new_file_row(
        caller.account_id,
        file_id,
        filename=name,
        purpose=purpose,
        stored=stored,
        ttl_seconds=ttl_seconds,
    )
    return save_file(hub, caller, row)


def get_file(hub: Hub, account_id: str, file_id: str) -> File:
    with hub.db.session() as s:
        row = s.scalar(select(File).where(File.id == file_id, File.account_id == account_id))
    if row is None:
        raise NotFound(f"No such File object: {file_id}", param="file_id")
    return row


def list_files(
    hub: Hub,
    account_id: str,
    *,
    purpose: str | None = None,
    after: str | None = None,
    limit: int = MAX_LIST_LIMIT,
    order: str = "desc",
) -> Page:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidRequest(
            f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}.", param="limit"
        )
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be 'asc' or 'desc', got {order!r}.", param="order")
    with hub.db.session() as s:
        q = select(File).where(File.account_id == account_id)
        if purpose is not None:
            q = q.where(File.purpose == check_purpose(purpose))
        if after is not None:
            anchor = s.scalar(select(File).where(File.id == after, File.account_id == account_id))
            if anchor is None:
                raise InvalidRequest(f"No such File object for 'after': {after}", param="after")
            if order == "desc":
                q = q.where(
                    or_(
                        File.created_at < anchor.created_at,
                        and_(File.created_at == anchor.created_at, File.id < anchor.id),
                    )
                )
            else:
                q = q.where(
                    or_(
                        File.created_at > anchor.created_at,
                        and_(File.created_at == anchor.created_at, File.id > anchor.id),
                    )
                )
        if order == "desc":
            q = q.order_by(File.created_at.desc(), File.id.desc())
        else:
            q = q.order_by(File.created_at.asc(), File.id.asc())
        rows = list(s.scalars(q.limit(limit + 1)))
    return Page(items=rows[:limit], has_more=len(rows) > limit)


def delete_file(hub: Hub, account_id: str, file_id: str) -> str:
    """Delete the file; a dataset ingested from it keeps its rows and its source bytes."""
    with hub.db.session() as s:
        row = s.scalar(select(File).where(File.id == file_id, File.account_id == account_id))
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param="file_id")
        key = row.blob_key
        keep = blob_still_needed(s, key, file_id=file_id, dataset_id=None)
        s.delete(row)
    if not keep:
        hub.blobs.delete(key)
    return file_id


def file_content(hub: Hub, account_id: str, file_id: str) -> tuple[File, Iterator[bytes]]:
    row = get_file(hub, account_id, file_id)
    return row, hub.blobs.read(row.blob_key)
