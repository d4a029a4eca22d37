"""Scale GP training datasets: create, list, retrieve, delete, contents."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from gristmill.api.deps import HubDep, reject_oversized
from gristmill.api.envelopes import Doors
from gristmill.api.flavors.scale_gp.auth import Caller, check_account
from gristmill.api.flavors.scale_gp.forms import FILE_FIELD, file_bytes, read_create_form
from gristmill.api.flavors.scale_gp.wire import (
    CREATE_REQUEST_BODY,
    MAX_LIMIT,
    SCHEMA_TYPES,
    GenericDeleteResponse,
    PaginatedTrainingDatasets,
    TrainingDataset,
    content_item,
    json_array,
    render_error,
    schema_type_in,
)
from gristmill.hub import Hub
from gristmill.services.accounts import Principal
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import InvalidRequest
from gristmill.store.metadata.models import Dataset

PREFIX = "/v4"
ORIGIN = "scale_gp"
router = APIRouter(prefix="/training-datasets", tags=["scale gp training datasets"])


def _text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"Missing required field '{name}'.", param=name)
    return value


def _dataset(hub: Hub, caller: Principal, training_dataset_id: str) -> Dataset:
    return dataset_service.get_dataset_of_types(
        hub, caller.account_id, training_dataset_id, SCHEMA_TYPES
    )


@router.post("", response_model=TrainingDataset, openapi_extra=CREATE_REQUEST_BODY)
async def create_training_dataset(request: Request, hub: HubDep, caller: Caller) -> TrainingDataset:
    reject_oversized(request, hub.settings.max_upload_bytes, "The file")
    form = await read_create_form(request)
    try:
        check_account(caller, _text_field(form, "account_id"), "account_id")
        name = _text_field(form, "name")
        schema_type = schema_type_in(_text_field(form, "schema_type"))
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(f"Missing required field '{FILE_FIELD}'.", param=FILE_FIELD)
        chunks = await run_in_threadpool(file_bytes, upload)  # it peeks at the spooled file
        ds = await run_in_threadpool(
            dataset_service.create_from_upload,
            hub,
            caller,
            name=name,
            schema_type=schema_type,
            origin=ORIGIN,
            chunks=chunks,
            filename=upload.filename,
        )
    finally:
        await form.close()
    return TrainingDataset.of(ds)


@router.get("", response_model=PaginatedTrainingDatasets)
def list_training_datasets(
    hub: HubDep, caller: Caller, account_id: str | None = None, limit: int = 100, page: int = 1
) -> PaginatedTrainingDatasets:
    check_account(caller, account_id, "account_id")
    rows, total = dataset_service.list_datasets_page(
        hub,
        caller.account_id,
        dataset_service.DatasetFilter(schema_types=SCHEMA_TYPES),
        page=page,
        limit=limit,
        max_limit=MAX_LIMIT,
    )
    return PaginatedTrainingDatasets(
        items=[TrainingDataset.of(ds) for ds in rows],
        current_page=page,
        items_per_page=limit,
        total_item_count=total,
    )


@router.get("/{training_dataset_id}", response_model=TrainingDataset)
def retrieve_training_dataset(
    training_dataset_id: str, hub: HubDep, caller: Caller
) -> TrainingDataset:
    return TrainingDataset.of(_dataset(hub, caller, training_dataset_id))


@router.delete("/{training_dataset_id}", response_model=GenericDeleteResponse)
def delete_training_dataset(
    training_dataset_id: str, hub: HubDep, caller: Caller
) -> GenericDeleteResponse:
    ds = _dataset(hub, caller, training_dataset_id)
    dataset_service.delete_dataset(hub, caller.account_id, ds.id)
    return GenericDeleteResponse(success=True, count=1)


@router.get("/{training_dataset_id}/contents", response_class=StreamingResponse)
def training_dataset_contents(
    training_dataset_id: str, hub: HubDep, caller: Caller
) -> StreamingResponse:
    ds = _dataset(hub, caller, training_dataset_id)
    rows = dataset_service.iter_ingested_datapoints(hub, ds)
    return StreamingResponse(
        json_array(content_item(dp) for dp in rows), media_type="application/json"
    )


def mount(app: FastAPI, doors: Doors) -> None:
    app.include_router(router, prefix=PREFIX)
    doors.register(PREFIX + "/training-datasets", render_error)
