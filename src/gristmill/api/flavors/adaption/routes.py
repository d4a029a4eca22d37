"""Mount the Adaption door and the presigned upload URLs."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gristmill.api.envelopes import Doors
from gristmill.api.flavors.adaption import custom_evals, datasets, uploads
from gristmill.api.flavors.adaption.wire import render_error
from gristmill.services.files.presigned import URL_PATH

PREFIX = "/api/v1/datasets"


class NoRetryOnRefusals:
    """Mark 4xx and 501 answers `x-should-retry: false`.

    The `adaption` SDK retries 409 and every 5xx by default; the refusals this door gives
    (a used upload, a dataset being ingested, a route not built yet) would only repeat, so
    this keeps the caller from waiting on retries. Real server faults stay retryable.
    """

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]):
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        async def mark(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if 400 <= status < 500 or status == 501:
                    MutableHeaders(scope=message).append("x-should-retry", "false")
            await send(message)

        await self.app(scope, receive, mark)


def mount(app: FastAPI, doors: Doors) -> None:
    # uploads first: its literal `/upload/...` paths must win over `/{dataset_id}/...`.
    app.include_router(uploads.router, prefix=PREFIX)
    app.include_router(datasets.router, prefix=PREFIX)
    app.include_router(custom_evals.router, prefix=PREFIX)
    app.include_router(uploads.presigned_router)
    doors.register(PREFIX, render_error)
    doors.register(URL_PATH.rstrip("/"), render_error)
    app.add_middleware(NoRetryOnRefusals, prefixes=(PREFIX, URL_PATH.rstrip("/")))
