"""Request bodies: read with a hard size limit before any parsing, then parsed off the loop.

A bulk request is a single JSON document, so it cannot be streamed into the store; instead it
is bounded. The declared Content-Length is refused before a byte is read, and a body without
one (chunked) is cut off as soon as it passes the limit. The limit keeps a request's parsed
form to a few hundred MB of memory at worst; 10,000 ordinary datapoints are a few MB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import read_capped
from gristmill.decimals import decimal
from gristmill.services.datapoints.datapoints import MAX_PER_REQUEST, check_count
from gristmill.services.errors import InvalidRequest, PayloadTooLarge

T = TypeVar("T")
MAX_BODY_BYTES = 32 * 1024 * 1024
PARSE_ON_LOOP_BYTES = 64 * 1024  # smaller bodies parse in microseconds: not worth a hand-off
_TOO_LARGE = (
    f"The request body is larger than the limit of {MAX_BODY_BYTES} bytes: send at most "
    f"{MAX_PER_REQUEST} datapoints per request, and split larger sets over several requests."
)


async def read_json(request: Request) -> Any:
    declared = decimal(request.headers.get("content-length"), max_digits=64)
    if declared is not None and declared > MAX_BODY_BYTES:
        raise PayloadTooLarge(_TOO_LARGE)
    body = await read_capped(request, MAX_BODY_BYTES, _TOO_LARGE)
    if not body.strip():
        return {}
    try:
        if len(body) <= PARSE_ON_LOOP_BYTES:
            return orjson.loads(body)
        return await run_in_threadpool(orjson.loads, body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def body_list(body: Any, key: str) -> list[Any]:
    value = body_object(body).get(key)
    if not isinstance(value, list):
        raise InvalidRequest(f"{key} must be a list.", param=key)
    return value


async def read_items(request: Request, key: str, decode: Callable[[Any, str], T]) -> list[T]:
    """The list under `key`, each item decoded; too many items is a 413 before any decoding."""
    items = body_list(await read_json(request), key)
    check_count(len(items))
    return await run_in_threadpool(
        lambda: [decode(item, f"{key}[{i}]") for i, item in enumerate(items)]
    )
