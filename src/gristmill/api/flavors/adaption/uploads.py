"""Adaption upload routes (initiate, complete, complete by dataset id) and the self-served
presigned PUT URL, which takes no API key: the token in the path is the credential."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep, body_chunks, reject_oversized
from gristmill.api.flavors.adaption.auth import Caller
from gristmill.api.flavors.adaption.datasets import ORIGIN
from gristmill.api.flavors.adaption.wire import (
    CompleteBody,
    CompleteByIdBody,
    CompleteResponse,
    InitiateBody,
    InitiateResponse,
)
from gristmill.services.files import presigned

router = APIRouter(tags=["adaption uploads"])
presigned_router = APIRouter(tags=["presigned uploads"])


@router.post("/upload/initiate", response_model=InitiateResponse)
def initiate(body: InitiateBody, request: Request, hub: HubDep, caller: Caller) -> InitiateResponse:
    issued = presigned.initiate_upload(
        hub, caller, name=body.name, file_format=body.file_format, base_url=str(request.base_url)
    )
    return InitiateResponse(upload_url=issued.url, s3_key=issued.upload.blob_key)


@router.post("/upload/complete", response_model=CompleteResponse)
def complete(body: CompleteBody, hub: HubDep, caller: Caller) -> CompleteResponse:
    ds = presigned.complete_upload_by_key(
        hub,
        caller,
        key=body.s3_key,
        name=body.name,
        file_format=body.file_format,
        size=body.file_size_bytes,
        origin=ORIGIN,
    )
    return CompleteResponse(dataset_id=ds.id, status=ds.status)


@router.post("/{dataset_id}/upload/complete", response_model=CompleteResponse)
def complete_by_id(
    dataset_id: str, body: CompleteByIdBody, hub: HubDep, caller: Caller
) -> CompleteResponse:
    ds = presigned.complete_dataset_upload(
        hub, caller.account_id, dataset_id, size=body.file_size_bytes, sha256=body.sha256
    )
    return CompleteResponse(dataset_id=ds.id, status=ds.status)


@presigned_router.put(presigned.URL_PATH + "{token}")
async def put_presigned(token: str, request: Request, hub: HubDep) -> Response:
    reject_oversized(request, hub.settings.max_upload_bytes, "The file")
    await run_in_threadpool(presigned.receive, hub, token, body_chunks(request))
    return Response(status_code=200)
