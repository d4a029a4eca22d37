"""The logging gateway: forward an OpenAI-style call to its provider's upstream, hand the reply
back unchanged (server-sent events chunk by chunk), and record the call as an inference log.

Failures are the gateway's own answers, never a hang: no reply (headers) within
`gateway_timeout_seconds` is a 504, an unreachable upstream or an upstream 5xx is a 502; both
are logged as failed. An upstream 4xx is the caller's error and passes through (logged as
failed). A stream that stalls for longer than the timeout ends with an SSE `error` event
(which the openai SDK raises) and is logged as failed.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import anyio
import httpx
import orjson

from gristmill.hub import Hub
from gristmill.ids import uuid7
from gristmill.services.errors import InvalidRequest, NotFound, ServiceError
from gristmill.services.logs import gateways
from gristmill.services.logs.chat_stream import ChatStream
from gristmill.services.logs.logs import LogEntry, check_metadata, record_log
from gristmill.store.metadata.models import Gateway
from gristmill.ttl_cache import TTLCache

# Upstream reply headers worth passing on; hop-by-hop and length headers are the server's.
PASSED_HEADERS = ("content-type", "x-request-id", "retry-after")
PASSED_PREFIXES = ("openai-", "x-ratelimit-")
LOG_ID_HEADER = "cf-aig-log-id"

log = logging.getLogger("gristmill.gateway")


Recorder = Callable[[str, LogEntry], Awaitable[None]]


class UpstreamFailed(ServiceError):
    status = 502
    code = "bad_gateway"


class UpstreamTimeout(ServiceError):
    status = 504
    code = "gateway_timeout"


@dataclass(frozen=True)
class Call:
    """One request to the gateway."""

    account_id: str
    gateway_id: str
    provider: str
    path: str  # below the provider, e.g. "chat/completions"
    body: bytes
    content_type: str | None
    metadata_header: str | None = None  # cf-aig-metadata: a JSON object


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def _media_type(value: str | None) -> str | None:
    return value.split(";", 1)[0].strip().lower() or None if value else None


def _passed(headers: httpx.Headers) -> dict[str, str]:
    return {
        k: v for k, v in headers.items() if k in PASSED_HEADERS or k.startswith(PASSED_PREFIXES)
    }


def usage_of(response: Any) -> tuple[int | None, int | None]:
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return None, None
    tin, tout = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (tin if isinstance(tin, int) else None, tout if isinstance(tout, int) else None)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", errors="replace")


def _error_message(body: Any) -> str:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return str(err["message"])
    return str(body)[:500]


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: loading the CA bundle takes ~30 ms, and a
    run opens a client per few connections."""
    return httpx.create_ssl_context()


class Forwarder:
    """One per server: a pooled HTTP client to the upstreams, created on first use."""

    def __init__(
        self,
        hub: Hub,
        limits: httpx.Limits | None = None,
        gateway_seconds: float = 0.0,
        recorder: Recorder | None = None,
    ):
        """`gateway_seconds`: how long a gateway's settings are remembered (0: read on
        every call); a run's own forwarders remember theirs, which nobody else edits.
        `recorder` writes a call's log (default: its own transaction, in a thread)."""
        self.hub = hub
        self.recorder = recorder
        self.limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._gateways: TTLCache[tuple[str, str], Gateway] = TTLCache(gateway_seconds)
        self._client: httpx.AsyncClient | None = None

    @property
    def timeout(self) -> float:
        return self.hub.settings.gateway_timeout_seconds

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            t = self.timeout
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(t, connect=min(t, 10.0)),
                limits=self.limits,
                verify=_tls_context(),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def forward(self, call: Call) -> Reply:
        request = _json(call.body)
        if not isinstance(request, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        metadata = None
        if call.metadata_header:
            metadata = check_metadata(_json(call.metadata_header.encode()), "cf-aig-metadata")
        upstream = self.hub.settings.upstreams.get(call.provider)
        if upstream is None:
            raise NotFound(
                f"No upstream is configured for provider {call.provider!r}.", param="provider"
            )
        gateway = self._gateways.get((call.account_id, call.gateway_id))
        if gateway is None:
            gateway = await anyio.to_thread.run_sync(
                gateways.ensure_gateway, self.hub, call.account_id, call.gateway_id
            )
            self._gateways.put((call.account_id, call.gateway_id), gateway)
        model = request.get("model")
        entry = LogEntry(
            gateway_id=call.gateway_id,
            provider=call.provider,
            id=str(uuid7()),
            model=model if isinstance(model, str) else None,
            request=request,
            stream=request.get("stream") is True,
            path=call.path,
            metadata=metadata,
            request_content_type=_media_type(call.content_type),
        )
        keep_log = gateways.collects_logs(gateway)
        headers = {
            "content-type": call.content_type or "application/json",
            "accept-encoding": "identity",
        }
        if upstream.api_key:
            headers["authorization"] = f"Bearer {upstream.api_key}"
        url = f"{upstream.base_url.rstrip('/')}/{call.path}"
        exchange = _Exchange(self, call.account_id, entry, keep_log)
        return await exchange.run(url, headers, call.body)


class _Exchange:
    """One forwarded call: its clock, its log entry, and how it ended."""

    def __init__(self, forwarder: Forwarder, account_id: str, entry: LogEntry, keep_log: bool):
        self.f = forwarder
        self.account_id = account_id
        self.entry = entry
        self.keep_log = keep_log
        self.started = time.monotonic()

    def log_headers(self) -> dict[str, str]:
        return {LOG_ID_HEADER: str(self.entry.id)} if self.keep_log else {}

    async def record(self, **fields: Any) -> None:
        if not self.keep_log:
            return
        ms = int((time.monotonic() - self.started) * 1000)
        entry = replace(self.entry, duration_ms=ms, **fields)
        with anyio.CancelScope(shield=True):  # a client that hangs up still gets its log
            try:
                if self.f.recorder is not None:
                    await self.f.recorder(self.account_id, entry)
                else:
                    await anyio.to_thread.run_sync(record_log, self.f.hub, self.account_id, entry)
            except Exception:  # the caller's reply matters more than its log
                log.exception("could not record gateway log %s", entry.id)

    async def fail(self, error: ServiceError, **fields: Any) -> ServiceError:
        fields.setdefault("status_code", error.status)
        await self.record(success=False, error=error.message, **fields)
        return error

    @asynccontextmanager
    async def _guard(self, limit: float, late: str, broken: str) -> AsyncIterator[None]:
        """Turn an upstream timeout into a 504 and a transport failure into a 502, each
        logged as a failed call."""
        provider = self.entry.provider
        try:
            with anyio.fail_after(limit):
                yield
        except (TimeoutError, httpx.TimeoutException):
            raise await self.fail(
                UpstreamTimeout(
                    f"The {provider} upstream {late} within {self.f.timeout:g} seconds."
                )
            ) from None
        except httpx.HTTPError as exc:
            raise await self.fail(
                UpstreamFailed(f"The {provider} upstream {broken}: {exc.__class__.__name__}.")
            ) from None

    async def run(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        client = self.f.client()
        async with self._guard(self.f.timeout, "did not answer", "could not be reached"):
            resp = await client.send(
                client.build_request("POST", url, content=body, headers=headers), stream=True
            )
        media = _media_type(resp.headers.get("content-type"))
        if media == "text/event-stream" and resp.status_code < 300:
            return Reply(
                resp.status_code,
                {**_passed(resp.headers), **self.log_headers()},
                stream=self._relay(resp),
            )
        return await self._whole(resp, media)

    async def _whole(self, resp: httpx.Response, media: str | None) -> Reply:
        """A reply read in full, within what is left of the timeout."""
        left = max(self.f.timeout - (time.monotonic() - self.started), 0.001)
        try:
            async with self._guard(left, "did not finish its reply", "broke off its reply"):
                content = await resp.aread()
        finally:
            await resp.aclose()
        parsed = _json(content)
        common: dict[str, Any] = {"response": parsed, "response_content_type": media}
        if resp.status_code >= 500:
            raise await self.fail(
                UpstreamFailed(
                    f"The {self.entry.provider} upstream failed with HTTP {resp.status_code}: "
                    f"{_error_message(parsed)}"
                ),
                status_code=resp.status_code,
                **common,
            )
        tin, tout = usage_of(parsed)
        ok = resp.status_code < 300
        await self.record(
            success=ok,
            status_code=resp.status_code,
            tokens_in=tin,
            tokens_out=tout,
            error=None if ok else _error_message(parsed),
            **common,
        )
        return Reply(
            resp.status_code, {**_passed(resp.headers), **self.log_headers()}, content=content
        )

    async def _relay(self, resp: httpx.Response) -> AsyncIterator[bytes]:
        """Pass each chunk on as it arrives. The log is written before the client gets the
        end of the stream (`[DONE]`, or the gateway's error event), so a client that reads
        its log right after sees it; a stream cut short is logged when it ends."""
        stream, ended, logged = ChatStream(), False, False

        async def finish(error: str | None) -> None:
            nonlocal logged
            logged = True
            if error is None and stream.error is not None:
                error = _error_message({"error": stream.error})
            tin, tout = usage_of({"usage": stream.usage})
            await self.record(
                success=error is None,
                status_code=resp.status_code,
                error=error,
                response=stream.completion(),
                tokens_in=tin,
                tokens_out=tout,
                response_content_type="text/event-stream",
            )

        chunks = resp.aiter_raw()
        try:
            while True:
                try:
                    with anyio.fail_after(self.f.timeout):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    ended = True
                    break
                except (TimeoutError, httpx.HTTPError) as exc:
                    await finish(self._broken(exc))
                    yield _sse_error(self._broken(exc), exc)
                    break
                stream.feed(chunk)
                if stream.done and not logged:
                    await finish(None)
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await resp.aclose()
            if not logged:
                await finish(None if ended else "The client hung up before the stream ended.")

    def _broken(self, exc: Exception) -> str:
        provider, timeout = self.entry.provider, self.f.timeout
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return f"The {provider} upstream stream stalled for {timeout:g} seconds."
        return f"The {provider} upstream broke off the stream: {exc.__class__.__name__}."


def _sse_error(message: str, exc: Exception) -> bytes:
    """An OpenAI-style error event: the openai SDK raises it as an APIError."""
    stalled = isinstance(exc, TimeoutError | httpx.TimeoutException)
    code = UpstreamTimeout.code if stalled else UpstreamFailed.code
    err = {"error": {"message": message, "type": "server_error", "code": code}}
    return b"data: " + orjson.dumps(err) + b"\n\n"
