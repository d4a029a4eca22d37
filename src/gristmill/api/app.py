"""The ASGI application: every door mounted on one FastAPI app over one Hub."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

import gristmill
from gristmill.api import envelopes
from gristmill.api.access_log import AccessLog
from gristmill.api.flavors.adaption import routes as adaption_routes
from gristmill.api.flavors.cloudflare import routes as cloudflare_routes
from gristmill.api.flavors.gateway import routes as gateway_routes
from gristmill.api.flavors.hf import routes as hf_routes
from gristmill.api.flavors.native import routes as native_routes
from gristmill.api.flavors.openai import routes as openai_routes
from gristmill.api.flavors.scale_gp import routes as scale_gp_routes
from gristmill.api.flavors.tensorzero import routes as tensorzero_routes
from gristmill.hub import Hub
from gristmill.jobs.kinds import register_all
from gristmill.jobs.worker import request_stop, start_embedded
from gristmill.services.files import presigned
from gristmill.services.files import uploads as upload_service
from gristmill.settings import Settings
from gristmill.web import routes as web_routes

log = logging.getLogger("gristmill")


def _sweep_uploads(hub: Hub, stop: threading.Event) -> None:
    while not stop.wait(hub.settings.upload_sweep_interval_seconds):
        try:
            expired = upload_service.expire_uploads(hub) + presigned.sweep_expired(hub)
            if expired:
                log.info("expired %d uploads", expired)
        except Exception:  # the sweeper must outlive a transient store failure
            log.exception("upload sweep failed")


def log_to_stderr() -> None:
    """The server's logging: one message per line (the access log's lines are JSON)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def app_from_environment() -> FastAPI:
    """The app of one of several server processes (`gristmill serve --processes N`): the
    parent has already migrated the store and made the admin key."""
    log_to_stderr()
    return create_app(Hub.open(Settings(), migrate=False))


def create_app(hub: Hub) -> FastAPI:
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = threading.Thread(target=_sweep_uploads, args=(hub, stop), daemon=True)
        sweeper.start()
        if hub.settings.worker:
            register_all()
            start_embedded(hub, stop)
        yield
        request_stop(stop)

    app = FastAPI(
        title="Gristmill",
        version=gristmill.__version__,
        description="A self-hosted hub for LLM fine-tuning and evaluation datasets.",
        lifespan=lifespan,
    )
    app.state.hub = hub
    doors = envelopes.Doors()
    envelopes.install(app, doors)
    openai_routes.mount(app, doors)
    cloudflare_routes.mount(app, doors)
    gateway_routes.mount(app, doors)
    native_routes.mount(app, doors)
    hf_routes.mount(app, doors)
    adaption_routes.mount(app, doors)
    scale_gp_routes.mount(app, doors)
    tensorzero_routes.mount(app, doors)
    web_routes.mount(app, doors)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> Any:
        checks: dict[str, str] = {}
        try:
            with hub.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            hub.blobs.exists("readyz-probe")
            checks["blobs"] = "ok"
        except Exception as exc:
            checks["blobs"] = f"error: {exc.__class__.__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    app.add_middleware(AccessLog)
    return app
