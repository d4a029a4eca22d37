"""Adaption dataset routes: create, list, get, status, delete, download, row errors, the
evaluation, runs (`run` / `adapt`), export links and publishing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse

from gristmill.api.deps import HubDep
from gristmill.api.downloads import stream_export
from gristmill.api.flavors.adaption.auth import Caller
from gristmill.api.flavors.adaption.wire import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CreateBody,
    CreateResponse,
    DatasetListItem,
    DatasetOut,
    DatasetPage,
    DeleteOut,
    EvaluationOut,
    ExpandResponse,
    RowError,
    RowErrorPage,
    RunResponse,
    StatusOut,
    UploadInstructions,
    sort_key,
    timestamp,
    whole_number,
)
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import export_job, exports
from gristmill.services.errors import InvalidRequest
from gristmill.services.files import presigned
from gristmill.services.publishing import publications
from gristmill.services.quality import reports
from gristmill.services.runs import runs

ORIGIN = "adaption"
router = APIRouter(tags=["adaption datasets"])

# Vocabulary of the SDK's list filters that names nothing Gristmill makes.
NEVER_MADE_STATUSES = ("awaiting_input",)
TYPES_MADE, TYPES_NEVER_MADE = ("original",), ("combined", "augmented", "invented")


@router.post("", response_model=CreateResponse)
def create_dataset(
    body: CreateBody, request: Request, hub: HubDep, caller: Caller
) -> CreateResponse:
    source = body.source
    ds, issued = presigned.create_upload_dataset(
        hub,
        caller,
        name=source.upload_name(),
        file_format=source.file_format,
        origin=ORIGIN,
        base_url=str(request.base_url),
        schema_type=source.schema_type,
        column_mapping=source.column_mapping,
        format_param="source.file_format",
    )
    return CreateResponse(
        dataset_id=ds.id,
        status=ds.status,
        upload_instructions=UploadInstructions(url=issued.url, s3_key=issued.upload.blob_key),
    )


@router.get("", response_model=DatasetPage)
def list_datasets(
    hub: HubDep,
    caller: Caller,
    limit: str | None = None,
    cursor: str | None = None,
    status: str | None = None,
    q: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    sort: str | None = None,
    sort_direction: str | None = None,
    type: str | None = None,
    created_by_user_id: str | None = None,
) -> DatasetPage:
    size = dataset_service.check_limit(whole_number(limit, "limit", DEFAULT_LIMIT), MAX_LIMIT)
    if created_by_user_id:
        raise InvalidRequest(
            "created_by_user_id is not supported: a key sees its own account's datasets.",
            param="created_by_user_id",
        )
    if type and type not in TYPES_MADE + TYPES_NEVER_MADE:
        raise InvalidRequest(
            f"Unknown type {type!r}: expected one of {', '.join(TYPES_MADE + TYPES_NEVER_MADE)}.",
            param="type",
        )
    filters = dataset_service.DatasetFilter(
        q=q or None,
        status=status or None,
        created_after=timestamp(created_after, "created_after"),
        created_before=timestamp(created_before, "created_before"),
    )
    if status in NEVER_MADE_STATUSES or type in TYPES_NEVER_MADE:
        return DatasetPage(datasets=[], next_cursor=None)
    rows, next_cursor = dataset_service.list_datasets_cursor(
        hub,
        caller.account_id,
        filters,
        cursor=cursor or None,
        limit=size,
        sort=sort_key(sort, sort_direction),
    )
    return DatasetPage(datasets=[DatasetListItem.of(d) for d in rows], next_cursor=next_cursor)


@router.get("/{dataset_id}", response_model=DatasetOut)
def get_dataset(dataset_id: str, hub: HubDep, caller: Caller) -> DatasetOut:
    return DatasetOut.of(dataset_service.get_dataset(hub, caller.account_id, dataset_id))


@router.get("/{dataset_id}/status", response_model=StatusOut)
def get_status(dataset_id: str, hub: HubDep, caller: Caller) -> StatusOut:
    return StatusOut.of(dataset_service.get_dataset(hub, caller.account_id, dataset_id))


@router.delete("/{dataset_id}", response_model=DeleteOut)
def delete_dataset(dataset_id: str, hub: HubDep, caller: Caller) -> DeleteOut:
    presigned.delete_dataset(hub, caller.account_id, dataset_id)
    return DeleteOut(message=f"Dataset {dataset_id} deleted.")


@router.get("/{dataset_id}/download", response_class=StreamingResponse)
def download(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    file_format: Annotated[str, Query(alias="fileFormat")] = "csv",
) -> StreamingResponse:
    """The SDK's four formats as Adaption documents them (Parquet as a tar.gz of shards), and
    Gristmill's training formats (`openai-chat`, `sharegpt`, …) as the native door gives them."""
    if file_format not in exports.FORMATS and file_format in export_job.FORMATS:
        body = {"format": file_format}
        return stream_export(hub, export_job.export_now(hub, caller.account_id, dataset_id, body))
    export = exports.open_export(hub, caller.account_id, dataset_id, file_format)
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"content-disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get("/{dataset_id}/export-links")
def get_export_links(
    dataset_id: str, request: Request, hub: HubDep, caller: Caller
) -> dict[str, Any]:
    """The SDK's three links (the newest successful publication to Hugging Face and Kaggle;
    Google Sheets is never made), and Gristmill's `files`: signed, expiring links to the
    files of the newest finished export of the head version."""
    latest = export_job.latest_export(hub, caller.account_id, dataset_id)
    files = []
    if latest is not None:
        view = export_job.export_view(hub, latest, str(request.base_url))
        files = [
            {"format": view["format"], **{k: f[k] for k in ("name", "split", "rows", "url")}}
            for f in view["files"]
        ]
    links = publications.published_links(hub, caller.account_id, dataset_id)
    return {
        "huggingface": links.get("huggingface"),
        "kaggle": links.get("kaggle"),
        "google_sheets": None,
        "files": files,
    }


@router.get("/{dataset_id}/errors", response_model=RowErrorPage)
def list_row_errors(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    cursor: str | None = None,
    limit: str | None = None,
) -> RowErrorPage:
    """Gristmill's own route (the SDK has none): the rows the ingest rejected, by source line.
    Page with `cursor` = the previous page's `next_cursor`; `limit` is 1 to 1000, default 100."""
    after = whole_number(cursor, "cursor", 0)
    if after < 0:
        raise InvalidRequest(f"Invalid cursor {cursor!r}.", param="cursor")
    rows, more = dataset_service.list_row_errors(
        hub,
        caller.account_id,
        dataset_id,
        after_line=after,
        limit=whole_number(limit, "limit", 100),
    )
    return RowErrorPage(
        errors=[RowError.of(e) for e in rows],
        next_cursor=str(rows[-1].line) if more and rows else None,
    )


@router.get("/{dataset_id}/evaluation", response_model=EvaluationOut)
def get_evaluation(dataset_id: str, hub: HubDep, caller: Caller) -> EvaluationOut:
    return EvaluationOut.of(reports.dataset_report(hub, caller.account_id, dataset_id))


@router.post("/{dataset_id}/run", response_model=RunResponse, response_model_by_alias=True)
@router.post("/{dataset_id}/adapt", response_model=RunResponse, response_model_by_alias=True)
def run(
    dataset_id: str, hub: HubDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> RunResponse:
    """`run` and its alias `adapt`: the same adaptation (see `services.runs`)."""
    return RunResponse.of(runs.start_run(hub, caller.account_id, dataset_id, body))


@router.post("/{dataset_id}/translate", response_model=ExpandResponse)
def translate(
    dataset_id: str, hub: HubDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> ExpandResponse:
    """A new dataset: these rows plus a translation of a sampled share per language."""
    return ExpandResponse.of(
        runs.start_expansion(hub, caller.account_id, dataset_id, "translate", body)
    )


@router.post("/{dataset_id}/localize", response_model=ExpandResponse)
def localize(
    dataset_id: str, hub: HubDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> ExpandResponse:
    """A new dataset: these rows plus a localised copy of a sampled share per pair."""
    return ExpandResponse.of(
        runs.start_expansion(hub, caller.account_id, dataset_id, "localize", body)
    )


@router.post("/{dataset_id}/publish")
def publish(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """`target`: `huggingface` or `kaggle` as the SDK types it (and Gristmill's `openai`,
    `s3`); poll `GET /native/v1/datasets/{id}/publications/{publish_id}`."""
    body = body or {}
    pub = publications.start_publication(
        hub, caller.account_id, dataset_id, body.get("target"), body.get("target_spec")
    )
    return {
        "publish_id": pub.id,
        "status": pub.status,
        "message": publications.message_of(pub),
    }
