"""Mount the native door at `/native/v1`; errors in `{"error": {message, code, param}}`."""

from __future__ import annotations

from fastapi import FastAPI

from gristmill.api.envelopes import Doors, default_renderer
from gristmill.api.flavors.native import exports, logs, publications, rows, runs, versions

PREFIX = "/native/v1"


def mount(app: FastAPI, doors: Doors) -> None:
    for module in (exports, logs, publications, rows, runs, versions):
        app.include_router(module.router, prefix=PREFIX)
    doors.register(PREFIX, default_renderer)
