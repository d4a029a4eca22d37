"""Adaptation runs of a dataset: start (or estimate), read with its report, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.services.runs import runs

router = APIRouter(tags=["native runs"])


@router.post("/datasets/{dataset_id}/runs", status_code=202)
def start_run(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """The Adaption SDK's run parameters, plus `model` ("provider/model") and `max_cost`
    (USD). With `estimate: true` nothing starts and only the estimate comes back."""
    started = runs.start_run(hub, caller.account_id, dataset_id, body)
    if started.run is None:
        return {"object": "run.estimate", "estimate": started.estimate}
    return runs.run_view(started.run)


@router.get("/datasets/{dataset_id}/runs/{run_id}")
def get_run(dataset_id: str, run_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    return runs.run_view(runs.get_dataset_run(hub, caller.account_id, dataset_id, run_id))


@router.post("/datasets/{dataset_id}/runs/{run_id}/cancel")
def cancel_run(dataset_id: str, run_id: str, hub: HubDep, caller: Caller) -> dict[str, Any]:
    return runs.run_view(runs.cancel_run(hub, caller.account_id, dataset_id, run_id))
