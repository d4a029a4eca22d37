"""A gateway's logs: list (the SDK's filters and shortcuts), get, edit feedback, delete, and
the stored request and response bodies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from gristmill.api.deps import HubDep
from gristmill.api.flavors.cloudflare.auth import Caller
from gristmill.api.flavors.cloudflare.wire import Envelope, LogDetail, LogOut, ok, page_info
from gristmill.api.wire_common import log_edits
from gristmill.services.logs import logs as log_service
from gristmill.services.logs.queries import parse_log_query

router = APIRouter(tags=["cloudflare logs"])
BASE = "/accounts/{account_id}/ai-gateway/gateways/{gateway_id}/logs"


@router.get(BASE)
def list_logs(
    account_id: str, gateway_id: str, request: Request, hub: HubDep, caller: Caller
) -> Envelope[list[LogOut]]:
    query = parse_log_query(request.query_params.multi_items())
    rows, total = log_service.list_logs(hub, caller.account_id, gateway_id, query)
    info = page_info(query.page, query.per_page, len(rows), total)
    return ok([LogOut.of(r) for r in rows], info)


@router.delete(BASE)
def delete_logs(
    account_id: str, gateway_id: str, request: Request, hub: HubDep, caller: Caller
) -> Envelope[dict[str, int]]:
    query = parse_log_query(request.query_params.multi_items())
    deleted = log_service.delete_logs(hub, caller.account_id, gateway_id, query)
    return ok({"deleted": deleted})


@router.get(BASE + "/{log_id}")
def get_log(
    account_id: str, gateway_id: str, log_id: str, hub: HubDep, caller: Caller
) -> Envelope[LogDetail]:
    return ok(LogDetail.of(log_service.get_log(hub, caller.account_id, log_id, gateway_id)))


@router.patch(BASE + "/{log_id}")
def edit_log(
    account_id: str,
    gateway_id: str,
    log_id: str,
    hub: HubDep,
    caller: Caller,
    body: dict[str, Any] = Body(default_factory=dict),
) -> Envelope[LogOut]:
    row = log_service.edit_log(
        hub,
        caller.account_id,
        gateway_id,
        log_id,
        **log_edits(body),
    )
    return ok(LogOut.of(row))


@router.get(BASE + "/{log_id}/request")
def log_request(
    account_id: str, gateway_id: str, log_id: str, hub: HubDep, caller: Caller
) -> JSONResponse:
    """The stored body itself, not an envelope: the SDK returns it as it comes."""
    return JSONResponse(log_service.get_log(hub, caller.account_id, log_id, gateway_id).request)


@router.get(BASE + "/{log_id}/response")
def log_response(
    account_id: str, gateway_id: str, log_id: str, hub: HubDep, caller: Caller
) -> JSONResponse:
    return JSONResponse(log_service.get_log(hub, caller.account_id, log_id, gateway_id).response)
