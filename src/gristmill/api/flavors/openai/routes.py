"""Mount the OpenAI door at each of its prefixes."""

from __future__ import annotations

from fastapi import FastAPI

from gristmill.api.envelopes import Doors
from gristmill.api.flavors.openai import files, uploads
from gristmill.api.flavors.openai.wire import render_error

PREFIXES = ("/v1", "/openai/v1")


def mount(app: FastAPI, doors: Doors) -> None:
    for prefix in PREFIXES:
        # The alias prefix is the same API; documenting it twice would duplicate operation ids.
        in_schema = prefix == PREFIXES[0]
        app.include_router(files.router, prefix=prefix, include_in_schema=in_schema)
        app.include_router(uploads.router, prefix=prefix, include_in_schema=in_schema)
        doors.register(prefix + "/files", render_error)
        doors.register(prefix + "/uploads", render_error)
