"""Gateways: create, list, get, update (full replace of the settings), delete."""

from __future__ import annotations

from fastapi import APIRouter

from gristmill.api.deps import HubDep
from gristmill.api.flavors.cloudflare.auth import Caller
from gristmill.api.flavors.cloudflare.wire import (
    Envelope,
    GatewayBody,
    GatewayOut,
    ok,
    page_info,
)
from gristmill.services.errors import InvalidRequest
from gristmill.services.logs import gateways as gateway_service

router = APIRouter(tags=["cloudflare gateways"])
BASE = "/accounts/{account_id}/ai-gateway/gateways"
MAX_PER_PAGE = 100


@router.post(BASE)
def create_gateway(
    account_id: str, body: GatewayBody, hub: HubDep, caller: Caller
) -> Envelope[GatewayOut]:
    if not body.id:
        raise InvalidRequest("Missing required parameter: 'id'.", param="id")
    row = gateway_service.create_gateway(hub, caller.account_id, body.id, body.config())
    return ok(GatewayOut.of(row))


@router.get(BASE)
def list_gateways(
    account_id: str,
    hub: HubDep,
    caller: Caller,
    page: int = 1,
    per_page: int = 20,
    search: str | None = None,
) -> Envelope[list[GatewayOut]]:
    rows, total = gateway_service.list_gateways(
        hub,
        caller.account_id,
        page=page,
        per_page=per_page,
        search=search,
        max_per_page=MAX_PER_PAGE,
    )
    return ok([GatewayOut.of(g) for g in rows], page_info(page, per_page, len(rows), total))


@router.get(BASE + "/{gateway_id}")
def get_gateway(
    account_id: str, gateway_id: str, hub: HubDep, caller: Caller
) -> Envelope[GatewayOut]:
    return ok(GatewayOut.of(gateway_service.get_gateway(hub, caller.account_id, gateway_id)))


@router.put(BASE + "/{gateway_id}")
def update_gateway(
    account_id: str, gateway_id: str, body: GatewayBody, hub: HubDep, caller: Caller
) -> Envelope[GatewayOut]:
    row = gateway_service.update_gateway(hub, caller.account_id, gateway_id, body.config())
    return ok(GatewayOut.of(row))


@router.delete(BASE + "/{gateway_id}")
def delete_gateway(
    account_id: str, gateway_id: str, hub: HubDep, caller: Caller
) -> Envelope[GatewayOut]:
    return ok(GatewayOut.of(gateway_service.delete_gateway(hub, caller.account_id, gateway_id)))
