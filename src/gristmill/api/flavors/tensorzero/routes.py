"""The `/v1/datasets` routes, as the current `tensorzero` client calls them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep
from gristmill.api.envelopes import Doors
from gristmill.api.flavors.tensorzero import legacy
from gristmill.api.flavors.tensorzero.auth import Caller
from gristmill.api.flavors.tensorzero.body import body_list, body_object, read_items, read_json
from gristmill.api.flavors.tensorzero.wire import (
    CreateDatapointsResponse,
    DeleteDatapointsResponse,
    GetDatapointsResponse,
    UpdateDatapointsResponse,
    datapoint_change,
    json_response,
    list_query,
    log_selection,
    name_change,
    new_datapoint,
    render_error,
)
from gristmill.services.datapoints import datapoints
from gristmill.services.datapoints import from_logs as datapoint_logs
from gristmill.services.datapoints import updates as datapoint_updates

router = APIRouter(prefix="/v1/datasets", tags=["tensorzero datapoints"])


def mount(app: FastAPI, doors: Doors) -> None:
    app.include_router(router)
    app.include_router(legacy.router)
    doors.register(router.prefix, render_error)
    doors.register(legacy.router.prefix, render_error)


async def _views(find: Callable[..., list[dict[str, Any]]], *args: Any) -> Response:
    """Query, render and encode off the event loop, in one hand-off."""
    return await run_in_threadpool(lambda: json_response({"datapoints": find(*args)}))


@router.post("/{dataset_name}/datapoints", response_model=CreateDatapointsResponse)
async def create_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> CreateDatapointsResponse:
    news = await read_items(request, "datapoints", new_datapoint)
    ids = await run_in_threadpool(datapoints.create_datapoints, hub, caller, dataset_name, news)
    return CreateDatapointsResponse(ids=ids)


@router.post("/{dataset_name}/list_datapoints", response_model=GetDatapointsResponse)
async def list_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> Response:
    query = list_query(body_object(await read_json(request)))
    return await _views(datapoints.list_datapoints, hub, caller.account_id, dataset_name, query)


@router.post("/get_datapoints", response_model=GetDatapointsResponse)
async def get_datapoints_anywhere(request: Request, hub: HubDep, caller: Caller) -> Response:
    ids = body_list(await read_json(request), "ids")
    return await _views(datapoints.get_datapoints, hub, caller.account_id, ids)


@router.post("/{dataset_name}/get_datapoints", response_model=GetDatapointsResponse)
async def get_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> Response:
    ids = body_list(await read_json(request), "ids")
    return await _views(datapoints.get_datapoints, hub, caller.account_id, ids, dataset_name)


@router.patch("/{dataset_name}/datapoints", response_model=UpdateDatapointsResponse)
async def update_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> UpdateDatapointsResponse:
    changes = await read_items(request, "datapoints", datapoint_change)
    ids = await run_in_threadpool(
        datapoint_updates.update_datapoints, hub, caller, dataset_name, changes
    )
    return UpdateDatapointsResponse(ids=ids)


@router.patch("/{dataset_name}/datapoints/metadata", response_model=UpdateDatapointsResponse)
async def update_datapoints_metadata(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> UpdateDatapointsResponse:
    names = await read_items(request, "datapoints", name_change)
    ids = await run_in_threadpool(datapoint_updates.update_names, hub, caller, dataset_name, names)
    return UpdateDatapointsResponse(ids=ids)


@router.delete("/{dataset_name}/datapoints", response_model=DeleteDatapointsResponse)
async def delete_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> DeleteDatapointsResponse:
    ids = body_list(await read_json(request), "ids")
    count = await run_in_threadpool(datapoints.delete_datapoints, hub, caller, dataset_name, ids)
    return DeleteDatapointsResponse(num_deleted_datapoints=count)


@router.delete("/{dataset_name}", response_model=DeleteDatapointsResponse)
def delete_dataset(dataset_name: str, hub: HubDep, caller: Caller) -> DeleteDatapointsResponse:
    count = datapoints.delete_dataset(hub, caller, dataset_name)
    return DeleteDatapointsResponse(num_deleted_datapoints=count)


@router.post("/{dataset_name}/from_inferences", response_model=CreateDatapointsResponse)
async def create_from_inferences(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> CreateDatapointsResponse:
    body = body_object(await read_json(request))
    selection = log_selection(body)
    ids = await run_in_threadpool(
        datapoint_logs.create_from_logs,
        hub,
        caller,
        dataset_name,
        selection,
        body.get("output_source"),
    )
    return CreateDatapointsResponse(ids=ids)
