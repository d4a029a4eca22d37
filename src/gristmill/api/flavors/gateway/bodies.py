"""Read a whole request body, refusing it with a 413 as soon as it passes a limit."""

from __future__ import annotations

from fastapi import Request

from gristmill.api.deps import reject_oversized
from gristmill.services.errors import PayloadTooLarge


async def read_body(request: Request, limit: int, what: str = "The request") -> bytes:
    reject_oversized(request, limit, what)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:  # a chunked body declares no length up front
            raise PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes.")
    return bytes(body)
