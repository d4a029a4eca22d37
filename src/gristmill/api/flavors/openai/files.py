"""OpenAI Files routes: create, list, retrieve, delete, content."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gristmill.api.deps import HubDep, file_chunks, read_form, reject_oversized
from gristmill.api.flavors.openai.auth import Caller
from gristmill.api.flavors.openai.wire import FileDeleted, FileList, FileObject
from gristmill.services.errors import InvalidRequest
from gristmill.services.files import files as file_service

router = APIRouter(tags=["openai files"])


def _form_int(value: object, param: str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise InvalidRequest(f"{param} must be an integer, got {value!r}.", param=param) from None


@router.post("/files", response_model=FileObject)
async def create_file(request: Request, hub: HubDep, caller: Caller) -> FileObject:
    reject_oversized(request, hub.settings.max_upload_bytes, "File")
    form = await read_form(request)
    try:
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(
                "Missing file: send it as the multipart part 'file'.", param="file"
            )
        if not isinstance(purpose, str):
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        anchor = form.get("expires_after[anchor]")
        if anchor is not None and anchor != "created_at":
            raise InvalidRequest(
                "expires_after[anchor] must be 'created_at'.", param="expires_after[anchor]"
            )
        ttl = _form_int(form.get("expires_after[seconds]"), "expires_after[seconds]")
        row = await run_in_threadpool(
            file_service.create_file,
            hub,
            caller,
            filename=upload.filename,
            purpose=purpose,
            chunks=file_chunks(upload),
            ttl_seconds=ttl,
        )
    finally:
        await form.close()
    return FileObject.of(row)


@router.get("/files", response_model=FileList)
def list_files(
    hub: HubDep,
    caller: Caller,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query()] = file_service.MAX_LIST_LIMIT,
    order: str = "desc",
) -> FileList:
    page = file_service.list_files(
        hub, caller.account_id, purpose=purpose, after=after, limit=limit, order=order
    )
    data = [FileObject.of(f) for f in page.items]
    return FileList(
        data=data,
        has_more=page.has_more,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )


@router.get("/files/{file_id}", response_model=FileObject)
def retrieve_file(file_id: str, hub: HubDep, caller: Caller) -> FileObject:
    return FileObject.of(file_service.get_file(hub, caller.account_id, file_id))


@router.delete("/files/{file_id}", response_model=FileDeleted)
def delete_file(file_id: str, hub: HubDep, caller: Caller) -> FileDeleted:
    return FileDeleted(id=file_service.delete_file(hub, caller.account_id, file_id))


@router.get("/files/{file_id}/content", response_class=StreamingResponse)
def file_content(file_id: str, hub: HubDep, caller: Caller) -> StreamingResponse:
    row, chunks = file_service.file_content(hub, caller.account_id, file_id)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(row.bytes),
            "content-disposition": f'attachment; filename="{row.filename}"',
        },
    )
