"""A run's model calls: through the logging gateway's forwarder (so each is an inference log
tagged with the run), at most `concurrency` at once, retried with backoff on 429, 5xx and
timeouts (honouring Retry-After), within the run's budget, and checkpointed: an answer is
stored before it is used, and a resumed run reads it back instead of paying again.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx
import orjson
from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.pipeline.recipes.base import Answer, Ask
from gristmill.services.logs.gateway_proxy import (
    Call,
    Forwarder,
    Reply,
    UpstreamFailed,
    UpstreamTimeout,
    usage_of,
)
from gristmill.services.logs.pricing import cost_of, price_of
from gristmill.services.runs.group_writer import GroupWriter
from gristmill.store.metadata.models import RunCall

GATEWAY = "gristmill-runs"  # the gateway whose logs hold every run's calls
MAX_RETRY_AFTER = 60.0
# connections per HTTP client: httpcore's pool scans every connection of its pool on each
# request, so 64 calls in flight over one pool cost more CPU than the calls themselves
CONNECTIONS_PER_CLIENT = 4


T = TypeVar("T")
# uvloop (installed with uvicorn[standard]) runs the many small socket reads and writes of a
# run's calls on libuv: about a tenth less CPU per call than asyncio's own loop (bench/run.py)
_UVLOOP = {"use_uvloop": importlib.util.find_spec("uvloop") is not None}


def run_calls(work: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run a run's async work (its model calls) to the end, from a worker's thread."""
    return anyio.run(work, *args, backend_options=_UVLOOP)


class CallFailed(Exception):
    """A call that cannot give this row an answer; the run goes on without it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RunStopped(Exception):
    """The whole run stops: cancelled, or its budget would be exceeded."""


@dataclass
class RecipeUsage:
    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class Usage:
    by_recipe: dict[str, RecipeUsage] = field(default_factory=dict)
    retries: int = 0
    failed_calls: int = 0

    def of(self, recipe: str) -> RecipeUsage:
        return self.by_recipe.setdefault(recipe, RecipeUsage())


def request_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _retry_after(headers: dict[str, str]) -> float | None:
    try:
        return min(max(float(headers.get("retry-after", "")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def parse_completion(content: bytes) -> tuple[Answer, int | None, int | None]:
    """A chat completion's first choice and its usage; CallFailed when it is not one."""
    try:
        body = orjson.loads(content)
        choice = body["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        raise CallFailed("the model server's reply is not a chat completion") from None
    tin, tout = usage_of(body)
    finish = choice.get("finish_reason")
    answer = Answer(
        text if isinstance(text, str) else "", finish if isinstance(finish, str) else None
    )
    return answer, tin, tout


class ModelClient:
    def __init__(
        self,
        hub: Hub,
        *,
        account_id: str,
        run_id: str,
        provider: str,
        model: str,
        max_cost: float | None,
        resume: bool,
    ):
        settings = hub.settings
        self.hub, self.account_id, self.run_id = hub, account_id, run_id
        self.provider, self.model = provider, model
        self.max_cost = max_cost
        self.resume = resume
        self.retries = settings.run_max_retries
        self.base_delay = settings.run_retry_base_seconds
        self.prices = settings.model_prices
        self.slots = asyncio.Semaphore(settings.run_concurrency)
        limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
        )
        shards = -(-settings.run_concurrency // CONNECTIONS_PER_CLIENT)
        self.writer = GroupWriter(hub, run_id)
        self.forwarders = [
            Forwarder(hub, limits, gateway_seconds=60, recorder=self.writer.log)
            for _ in range(shards)
        ]
        self._in_flight = [0] * shards  # calls in each forwarder's pool
        self.usage = Usage()
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped: str | None = None  # why the run stops, once it must

    async def aclose(self) -> None:
        await self.writer.drain()
        for forwarder in self.forwarders:
            await forwarder.aclose()

    async def _forward(self, call: Call) -> Reply:
        """Through the least busy forwarder: the run's slots match its connections, so a
        call never waits in a pool for a connection while another pool has one free."""
        i = min(range(len(self.forwarders)), key=self._in_flight.__getitem__)
        self._in_flight[i] += 1
        try:
            return await self.forwarders[i].forward(call)
        finally:
            self._in_flight[i] -= 1

    def stop(self, reason: str) -> None:
        self.stopped = self.stopped or reason

    def _expected_cost(self, ask: Ask, expected_tokens: Callable[[], int]) -> float:
        price = price_of(self.model, self.prices)
        if price is None:
            return 0.0
        return (ask.prompt_tokens() * price[0] + expected_tokens() * price[1]) / 1_000_000

    async def answer(self, ask: Ask, recipe: str, expected_tokens: Callable[[], int]) -> Answer:
        """The model's answer to `ask`. `expected_tokens` (the answer's likely length) is
        counted only when the run has a budget to keep."""
        body = orjson.dumps(ask.body(self.model), option=orjson.OPT_SORT_KEYS)
        key = request_key(body)
        usage = self.usage.of(recipe)
        if self.resume:
            stored = await anyio.to_thread.run_sync(self._load, key)
            if stored is not None:  # paid for by an earlier attempt, and counted again here
                usage.cached += 1
                cost = float(stored.get("cost_usd") or 0.0)
                self.spent += cost
                usage.cost_usd += cost
                return Answer(stored["text"], stored.get("finish_reason"))
        async with self.slots:
            if self.stopped:
                raise RunStopped(self.stopped)
            expected = 0.0 if self.max_cost is None else self._expected_cost(ask, expected_tokens)
            if self.max_cost is not None and self.spent + self.reserved + expected > self.max_cost:
                self.stop(
                    f"The run stopped before exceeding its budget: ${self.spent:.4f} spent of "
                    f"max_cost ${self.max_cost:g}."
                )
                raise RunStopped(self.stopped or "")
            self.reserved += expected
            try:
                content = await self._call(body, recipe)
            finally:
                self.reserved -= expected
        usage.calls += 1  # answered, so paid for, whether or not the answer is usable
        answer, tin, tout = parse_completion(content)
        cost = cost_of(self.model, tin, tout, self.prices) or 0.0
        self.spent += cost
        usage.tokens_in += tin or 0
        usage.tokens_out += tout or 0
        usage.cost_usd += cost
        await self.writer.checkpoint(
            key, {"text": answer.text, "finish_reason": answer.finish_reason, "cost_usd": cost}
        )
        return answer

    async def _call(self, body: bytes, recipe: str) -> bytes:
        """The content of the first 2xx reply; CallFailed when there is none."""
        metadata = orjson.dumps({"gristmill_run_id": self.run_id, "gristmill_recipe": recipe})
        call = Call(
            account_id=self.account_id,
            gateway_id=GATEWAY,
            provider=self.provider,
            path="chat/completions",
            body=body,
            content_type="application/json",
            metadata_header=metadata.decode(),
        )
        why = ""
        for attempt in range(self.retries + 1):
            delay = self.base_delay * 2**attempt
            try:
                reply = await self._forward(call)
            except (UpstreamFailed, UpstreamTimeout) as exc:
                why = exc.message
            else:
                if reply.status == 429 or reply.status >= 500:
                    why = f"the model server answered HTTP {reply.status}"
                    delay = _retry_after(reply.headers) or delay
                elif reply.status >= 400:
                    self.usage.failed_calls += 1
                    raise CallFailed(
                        f"the model server refused the request (HTTP {reply.status}): "
                        f"{reply.content[:200].decode('utf-8', 'replace')}"
                    )
                else:
                    return reply.content
            if attempt < self.retries:
                self.usage.retries += 1
                await asyncio.sleep(delay)
        self.usage.failed_calls += 1
        raise CallFailed(f"no answer after {self.retries + 1} attempts: {why}")

    def _load(self, key: str) -> dict[str, Any] | None:
        with self.hub.db.session() as s:
            return s.scalar(
                select(RunCall.answer).where(RunCall.run_id == self.run_id, RunCall.key == key)
            )
