"""Datasets of a gateway: create, list (page/per_page/enable/name/search), get, PUT, delete."""

from __future__ import annotations

from fastapi import APIRouter

from gristmill.api.deps import HubDep
from gristmill.api.flavors.cloudflare.auth import Caller
from gristmill.api.flavors.cloudflare.wire import (
    DatasetBody,
    DatasetOut,
    Envelope,
    ok,
    page_info,
)
from gristmill.services.logs import log_datasets
from gristmill.services.logs.log_datasets import DatasetSpec

router = APIRouter(tags=["cloudflare datasets"])
BASE = "/accounts/{account_id}/ai-gateway/gateways/{gateway_id}/datasets"


def _spec(body: DatasetBody) -> DatasetSpec:
    return DatasetSpec(name=body.name, enable=body.enable, filters=body.filters)


@router.post(BASE)
def create_dataset(
    account_id: str, gateway_id: str, body: DatasetBody, hub: HubDep, caller: Caller
) -> Envelope[DatasetOut]:
    return ok(DatasetOut.of(log_datasets.create_log_dataset(hub, caller, gateway_id, _spec(body))))


@router.get(BASE)
def list_datasets(
    account_id: str,
    gateway_id: str,
    hub: HubDep,
    caller: Caller,
    page: int = 1,
    per_page: int = log_datasets.DEFAULT_PER_PAGE,
    enable: bool | None = None,
    name: str | None = None,
    search: str | None = None,
) -> Envelope[list[DatasetOut]]:
    rows, total = log_datasets.list_log_datasets(
        hub,
        caller.account_id,
        gateway_id,
        page=page,
        per_page=per_page,
        enable=enable,
        name=name,
        search=search,
    )
    return ok([DatasetOut.of(d) for d in rows], page_info(page, per_page, len(rows), total))


@router.get(BASE + "/{dataset_id}")
def get_dataset(
    account_id: str, gateway_id: str, dataset_id: str, hub: HubDep, caller: Caller
) -> Envelope[DatasetOut]:
    row = log_datasets.get_log_dataset(hub, caller.account_id, gateway_id, dataset_id)
    return ok(DatasetOut.of(row))


@router.put(BASE + "/{dataset_id}")
def update_dataset(
    account_id: str,
    gateway_id: str,
    dataset_id: str,
    body: DatasetBody,
    hub: HubDep,
    caller: Caller,
) -> Envelope[DatasetOut]:
    row = log_datasets.update_log_dataset(
        hub, caller.account_id, gateway_id, dataset_id, _spec(body)
    )
    return ok(DatasetOut.of(row))


@router.delete(BASE + "/{dataset_id}")
def delete_dataset(
    account_id: str, gateway_id: str, dataset_id: str, hub: HubDep, caller: Caller
) -> Envelope[DatasetOut]:
    row = log_datasets.delete_log_dataset(hub, caller.account_id, gateway_id, dataset_id)
    return ok(DatasetOut.of(row))
