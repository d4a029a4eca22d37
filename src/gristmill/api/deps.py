"""Shared request dependencies: the Hub, the caller, and request-body streaming helpers.

Dependencies are `async def` where they do no blocking work: FastAPI runs a plain `def`
dependency in the threadpool, and each hand-off costs more than a whole cached key check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio.from_thread
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.services.accounts import Principal, authenticate
from gristmill.services.errors import InvalidRequest, PayloadTooLarge

CHUNK = 1024 * 1024


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def _hub(request: Request) -> Hub:
    return get_hub(request)


HubDep = Annotated[Hub, Depends(_hub)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticated(request: Request, api_key: str | None) -> Principal:
    """The caller, checked against the store in one worker-thread hand-off."""
    if not api_key:  # no need to leave the loop to refuse it
        return authenticate(get_hub(request), api_key)
    return await run_in_threadpool(authenticate, get_hub(request), api_key)


async def bearer_principal(request: Request) -> Principal:
    """The caller of a door that takes `Authorization: Bearer <key>`."""
    return await authenticated(request, bearer_token(request))


def reject_oversized(request: Request, limit: int, what: str) -> None:
    """Refuse a body whose declared length is already over the limit, before reading it."""
    length = decimal(request.headers.get("content-length"), max_digits=64)  # not for SQL
    if length is not None and length > limit + 1024 * 1024:
        raise PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes.")


async def read_capped(request: Request, limit: int, too_large: str) -> bytes:
    """The whole body, refused with a 413 (`too_large`) as soon as it passes `limit` bytes:
    a chunked body declares no length up front, so the declared length is not enough."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(too_large)
    return bytes(body)


async def read_body(request: Request, limit: int, what: str = "The request") -> bytes:
    """Read a whole request body, refusing it with a 413 as soon as it passes a limit."""
    reject_oversized(request, limit, what)
    return await read_capped(request, limit, f"{what} is larger than the limit of {limit} bytes.")


async def read_form(request: Request) -> FormData:
    """Parse multipart: file parts spool to disk past 1 MiB, so memory stays flat."""
    try:
        return await request.form(max_files=16, max_fields=64)
    except Exception as exc:  # starlette raises MultiPartException/HTTPException on bad bodies
        raise InvalidRequest(f"Malformed multipart body: {exc}") from None


def file_chunks(upload: UploadFile) -> Any:
    """Iterate a spooled upload in fixed-size chunks (runs in a worker thread)."""
    fh = upload.file
    fh.seek(0)
    while chunk := fh.read(CHUNK):
        yield chunk


def body_chunks(request: Request) -> Iterator[bytes]:
    """The request body as a blocking iterator, for a worker thread: the blob stores write
    synchronously, and this keeps the body streaming instead of spooling it first."""
    stream = request.stream().__aiter__()

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    while True:
        try:
            chunk = anyio.from_thread.run(next_chunk)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk
