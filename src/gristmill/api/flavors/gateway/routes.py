"""`POST /gateway/v1/{account_id}/{gateway_id}/{provider}/chat/completions`.

The caller's Gristmill key is its Bearer token (the upstream's own key is the server's
configuration); errors are in the OpenAI envelope, since the openai SDK is the client. The
account in the path must be the key's own, else 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from gristmill.api.deps import HubDep, read_body
from gristmill.api.envelopes import Doors
from gristmill.api.flavors.openai.auth import Caller
from gristmill.api.flavors.openai.wire import render_error
from gristmill.services.errors import NotFound
from gristmill.services.logs.gateway_proxy import Call, Forwarder

PREFIX = "/gateway/v1"


@asynccontextmanager
async def _forwarder_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One forwarder (and its pool of upstream connections) for the server's life."""
    app.state.gateway_forwarder = Forwarder(app.state.hub)
    try:
        yield
    finally:
        await app.state.gateway_forwarder.aclose()


router = APIRouter(tags=["logging gateway"], lifespan=_forwarder_lifespan)


def _forwarder(request: Request) -> Forwarder:
    forwarder: Forwarder = request.app.state.gateway_forwarder
    return forwarder


@router.post("/{account_id}/{gateway_id}/{provider}/chat/completions")
async def chat_completions(
    account_id: str,
    gateway_id: str,
    provider: str,
    request: Request,
    hub: HubDep,
    caller: Caller,
) -> Response:
    if account_id != caller.account_id:
        raise NotFound(f"Gateway {gateway_id} not found.", param="account_id")
    call = Call(
        account_id=account_id,
        gateway_id=gateway_id,
        provider=provider,
        path="chat/completions",
        body=await read_body(request, hub.settings.gateway_max_request_bytes),
        content_type=request.headers.get("content-type"),
        metadata_header=request.headers.get("cf-aig-metadata"),
    )
    reply = await _forwarder(request).forward(call)
    if reply.stream is not None:
        return StreamingResponse(reply.stream, status_code=reply.status, headers=reply.headers)
    return Response(reply.content, status_code=reply.status, headers=reply.headers)


def mount(app: FastAPI, doors: Doors) -> None:
    app.include_router(router, prefix=PREFIX)
    doors.register(PREFIX, render_error)
