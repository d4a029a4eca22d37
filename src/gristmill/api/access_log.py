"""A structured (JSON lines) access log as plain ASGI middleware, so streaming is untouched."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

log = logging.getLogger("gristmill.access")

Scope = dict[str, Any]


class AccessLog:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 0, "bytes": 0}

        async def logging_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body":
                status["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            client = scope.get("client") or ("", 0)
            log.info(
                json.dumps(
                    {
                        "ts": round(time.time(), 3),
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status["code"] or 500,
                        "bytes": status["bytes"],
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "client": client[0],
                        "pid": os.getpid(),  # which of several server processes answered
                    }
                )
            )
