"""OpenAI wire objects, field for field as the `openai` SDK parses them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gristmill.api.envelopes import Problem
from gristmill.services.files.uploads import UploadView
from gristmill.store.metadata.models import File, UploadPart


def _unix(at: datetime) -> int:
    """OpenAI's timestamps are whole Unix seconds."""
    return int(at.timestamp())


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"]
    status_details: str | None = None

    @classmethod
    def of(cls, f: File) -> FileObject:
        return cls(
            id=f.id,
            bytes=f.bytes,
            created_at=_unix(f.created_at),
            expires_at=_unix(f.expires_at) if f.expires_at else None,
            filename=f.filename,
            purpose=f.purpose,
            status=f.status,
            status_details=f.status_details,
        )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


class ExpiresAfter(BaseModel):
    anchor: Literal["created_at"]
    seconds: int


class UploadCreate(BaseModel):
    bytes: int
    filename: str
    mime_type: str
    purpose: str
    expires_after: ExpiresAfter | None = None


class UploadComplete(BaseModel):
    part_ids: list[str] = Field(max_length=100_000)
    md5: str | None = None


class UploadObject(BaseModel):
    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    expires_at: int
    filename: str
    purpose: str
    status: Literal["pending", "completed", "cancelled", "expired"]
    file: FileObject | None = None

    @classmethod
    def of(cls, v: UploadView) -> UploadObject:
        u = v.upload
        return cls(
            id=u.id,
            bytes=u.bytes,
            created_at=_unix(u.created_at),
            expires_at=_unix(u.expires_at),
            filename=u.filename,
            purpose=u.purpose,
            status=v.status,
            file=FileObject.of(v.file) if v.file else None,
        )


class UploadPartObject(BaseModel):
    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str

    @classmethod
    def of(cls, p: UploadPart) -> UploadPartObject:
        return cls(id=p.id, created_at=_unix(p.created_at), upload_id=p.upload_id)


_TYPES = {401: "invalid_request_error", 403: "invalid_request_error", 404: "invalid_request_error"}


def render_error(p: Problem) -> dict[str, Any]:
    err_type = "server_error" if p.status >= 500 else _TYPES.get(p.status, "invalid_request_error")
    return {"error": {"message": p.message, "type": err_type, "param": p.param, "code": p.code}}
