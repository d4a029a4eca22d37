"""The older `/datasets/{name}/datapoints…` routes of TensorZero's gateway (the seed page):
bulk insert answers a bare JSON array of ids, list a bare array of datapoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep
from gristmill.api.flavors.tensorzero.auth import Caller
from gristmill.api.flavors.tensorzero.body import read_items
from gristmill.api.flavors.tensorzero.wire import (
    DeleteDatapointsResponse,
    json_response,
    legacy_datapoint,
)
from gristmill.services.datapoints import datapoints
from gristmill.services.datapoints.checks import check_uuid
from gristmill.services.datapoints.datapoints import DatapointQuery
from gristmill.services.errors import NotFound

router = APIRouter(prefix="/datasets", tags=["tensorzero datapoints (older routes)"])
LEGACY_LIMIT = 100


async def insert_datapoints(
    dataset_name: str, request: Request, hub: HubDep, caller: Caller
) -> list[str]:
    news = await read_items(request, "datapoints", legacy_datapoint)
    ids: list[str] = await run_in_threadpool(
        datapoints.create_datapoints, hub, caller, dataset_name, news
    )
    return ids


router.add_api_route(
    "/{dataset_name}/datapoints/bulk", insert_datapoints, methods=["POST"], response_model=list[str]
)
router.add_api_route(
    "/{dataset_name}/datapoints",
    insert_datapoints,
    methods=["POST"],
    response_model=list[str],
    operation_id="insert_datapoints_legacy",
)


@router.get("/{dataset_name}/datapoints", response_model=list[dict[str, Any]])
def list_datapoints(
    dataset_name: str,
    hub: HubDep,
    caller: Caller,
    function_name: str | None = None,
    function: Annotated[str | None, Query(description="Alias of function_name.")] = None,
    limit: int = LEGACY_LIMIT,
    offset: int = 0,
) -> Response:
    query = DatapointQuery(function_name=function_name or function, limit=limit, offset=offset)
    return json_response(datapoints.list_datapoints(hub, caller.account_id, dataset_name, query))


@router.get("/{dataset_name}/datapoints/{datapoint_id}", response_model=dict[str, Any])
def get_datapoint(dataset_name: str, datapoint_id: str, hub: HubDep, caller: Caller) -> Response:
    dp_id = check_uuid(datapoint_id, "datapoint_id")
    found = datapoints.get_datapoints(hub, caller.account_id, [dp_id], dataset_name)
    if not found:
        raise NotFound(
            f"Datapoint {datapoint_id} not found in dataset {dataset_name!r}.",
            param="datapoint_id",
        )
    return json_response(found[0])


@router.delete("/{dataset_name}/datapoints/{datapoint_id}")
def delete_datapoint(dataset_name: str, datapoint_id: str, hub: HubDep, caller: Caller) -> Response:
    datapoints.delete_datapoint(hub, caller, dataset_name, datapoint_id)
    return Response(status_code=200)  # the gateway answers an empty body


@router.delete("/{dataset_name}", response_model=DeleteDatapointsResponse)
def delete_dataset(dataset_name: str, hub: HubDep, caller: Caller) -> DeleteDatapointsResponse:
    count = datapoints.delete_dataset(hub, caller, dataset_name)
    return DeleteDatapointsResponse(num_deleted_datapoints=count)
