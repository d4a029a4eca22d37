"""Mount the Cloudflare door at `/client/v4`, where `Cloudflare(base_url=…/client/v4)` calls."""

from __future__ import annotations

from fastapi import FastAPI

from gristmill.api.envelopes import Doors
from gristmill.api.flavors.cloudflare import datasets, gateways, logs
from gristmill.api.flavors.cloudflare.wire import render_error

PREFIX = "/client/v4"


def mount(app: FastAPI, doors: Doors) -> None:
    for module in (gateways, datasets, logs):
        app.include_router(module.router, prefix=PREFIX)
    doors.register(PREFIX, render_error)
