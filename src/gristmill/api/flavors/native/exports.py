"""Exports: a version in a training format as an `export` job (with its report and signed
file links), a direct download of the same, and the signed links themselves (no key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from gristmill.api.deps import HubDep
from gristmill.api.downloads import stream_export
from gristmill.api.flavors.native.auth import Caller
from gristmill.services.datasets import export_job

router = APIRouter(tags=["native exports"])


@router.post("/datasets/{dataset_id}/exports", status_code=202)
def start_export(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    request: Request,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """`{"format": "openai-chat", "version"?: id|tag|"main", "split"?: {"validation": 0.1
    | 500, "seed"?: 0}}`; poll `GET …/exports/{id}` for progress, the report and the files."""
    export = export_job.start_export(hub, caller.account_id, dataset_id, body)
    return export_job.export_view(hub, export, str(request.base_url))


@router.get("/datasets/{dataset_id}/exports/{export_id}")
def get_export(
    dataset_id: str, export_id: str, hub: HubDep, caller: Caller, request: Request
) -> dict[str, Any]:
    export = export_job.get_export(hub, caller.account_id, dataset_id, export_id)
    return export_job.export_view(hub, export, str(request.base_url))


@router.get("/datasets/{dataset_id}/download", response_class=StreamingResponse)
def download(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    format: str = "jsonl",
    version: str | None = None,
) -> StreamingResponse:
    """One file in any export format, of the live rows or of `version`; rows the format
    cannot hold are left out and counted in `X-Gristmill-Rows-Skipped` (their lines:
    `GET …/exports/{X-Gristmill-Export-Id}`)."""
    body = {"format": format, "version": version}
    return stream_export(hub, export_job.export_now(hub, caller.account_id, dataset_id, body))


@router.get("/signed/exports/{export_id}/{name}", response_class=StreamingResponse)
def signed_file(
    export_id: str,
    name: str,
    hub: HubDep,
    expires: str | None = None,
    signature: str | None = None,
) -> StreamingResponse:
    key, filename, media = export_job.signed_file(
        hub, f"exports/{export_id}/{name}", expires, signature
    )
    return StreamingResponse(
        hub.blobs.read(key),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
