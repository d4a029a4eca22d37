"""OpenAI Uploads routes: create, add part, complete, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gristmill.api.deps import HubDep, file_chunks, read_form, reject_oversized
from gristmill.api.flavors.openai.auth import Caller
from gristmill.api.flavors.openai.wire import (
    UploadComplete,
    UploadCreate,
    UploadObject,
    UploadPartObject,
)
from gristmill.services.errors import InvalidRequest
from gristmill.services.files import uploads as upload_service

router = APIRouter(tags=["openai uploads"])


@router.post("/uploads", response_model=UploadObject)
def create_upload(body: UploadCreate, hub: HubDep, caller: Caller) -> UploadObject:
    view = upload_service.create_upload(
        hub,
        caller.account_id,
        bytes=body.bytes,
        filename=body.filename,
        mime_type=body.mime_type,
        purpose=body.purpose,
    )
    return UploadObject.of(view)


@router.post("/uploads/{upload_id}/parts", response_model=UploadPartObject)
async def add_part(
    upload_id: str, request: Request, hub: HubDep, caller: Caller
) -> UploadPartObject:
    reject_oversized(request, hub.settings.max_part_bytes, "Part")
    form = await read_form(request)
    try:
        data = form.get("data")
        if not isinstance(data, UploadFile):
            raise InvalidRequest(
                "Missing part data: send it as the multipart part 'data'.", param="data"
            )
        part = await run_in_threadpool(
            upload_service.add_part, hub, caller.account_id, upload_id, file_chunks(data)
        )
    finally:
        await form.close()
    return UploadPartObject.of(part)


@router.post("/uploads/{upload_id}/complete", response_model=UploadObject)
def complete_upload(
    upload_id: str, body: UploadComplete, hub: HubDep, caller: Caller
) -> UploadObject:
    view = upload_service.complete_upload(
        hub, caller, upload_id, part_ids=body.part_ids, md5=body.md5
    )
    return UploadObject.of(view)


@router.post("/uploads/{upload_id}/cancel", response_model=UploadObject)
def cancel_upload(upload_id: str, hub: HubDep, caller: Caller) -> UploadObject:
    return UploadObject.of(upload_service.cancel_upload(hub, caller.account_id, upload_id))
