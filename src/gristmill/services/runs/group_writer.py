"""Group commit for a run's many small writes: each call's inference log and checkpointed
answer are handed over as they come and written together, and each caller goes on only once
its own rows are committed. While one write runs, what arrives waits for the next, so a run
with 64 calls in flight pays for a few transactions at a time instead of three per call,
and a call waits no longer than about one write."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
from sqlalchemy import insert, select

from gristmill.hub import Hub
from gristmill.services.logs.logs import LogEntry, record_logs
from gristmill.store.metadata.models import RunCall, utcnow

log = logging.getLogger("gristmill.runs")
# How long a write waits for more rows to join it. A call's slot is free before its
# checkpoint is written, so the wait costs no throughput, only a little latency per row.
GATHER_SECONDS = 0.01


class GroupWriter:
    def __init__(self, hub: Hub, run_id: str):
        self.hub, self.run_id = hub, run_id
        self._logs: list[tuple[str, LogEntry, asyncio.Future[None]]] = []
        self._answers: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        self._beat: asyncio.Task[None] | None = None

    async def log(self, account_id: str, entry: LogEntry) -> None:
        """The gateway forwarder's recorder. It does not wait: writes go in order, so the
        call's checkpoint, which is waited for, commits with its log or after it."""
        done = asyncio.get_running_loop().create_future()
        self._logs.append((account_id, entry, done))
        self._start()

    async def drain(self) -> None:
        """Wait until everything handed over is written."""
        while self._beat is not None and not self._beat.done():
            await asyncio.shield(self._beat)

    async def checkpoint(self, key: str, answer: dict[str, Any]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._answers.append((key, answer, done))
        await self._wait(done)

    def _start(self) -> None:
        if self._beat is None or self._beat.done():
            self._beat = asyncio.ensure_future(self._flush_soon())

    async def _wait(self, done: asyncio.Future[None]) -> None:
        self._start()
        await asyncio.shield(done)  # a cancelled caller's rows are still written

    async def _flush_soon(self) -> None:
        while self._logs or self._answers:
            # what arrives meanwhile joins this write: fewer, larger transactions
            await asyncio.sleep(GATHER_SECONDS)
            logs, self._logs = self._logs, []
            answers, self._answers = self._answers, []
            failed = await anyio.to_thread.run_sync(self._write, logs, answers)
            for *_, done in logs:
                done.set_result(None)
            for _, _, done in answers:
                if failed is None:
                    done.set_result(None)
                else:
                    done.set_exception(failed)

    def _write(
        self,
        logs: list[tuple[str, LogEntry, asyncio.Future[None]]],
        answers: list[tuple[str, dict[str, Any], asyncio.Future[None]]],
    ) -> Exception | None:
        """Both kinds of rows, each in its own transaction; why the answers failed, if so."""
        try:
            self._write_logs(logs)
        except Exception:  # a run's answers matter more than its logs
            log.exception("could not write %d run logs", len(logs))
        try:
            self._write_answers(answers)
        except Exception as exc:
            return exc
        return None

    def _write_logs(self, logs: list[tuple[str, LogEntry, asyncio.Future[None]]]) -> None:
        by_account: dict[str, list[LogEntry]] = {}
        for account_id, entry, _ in logs:
            by_account.setdefault(account_id, []).append(entry)
        for account_id, entries in by_account.items():  # the forwarder made the gateway
            record_logs(self.hub, account_id, entries, gateways_exist=True)

    def _write_answers(
        self, answers: list[tuple[str, dict[str, Any], asyncio.Future[None]]]
    ) -> None:
        if not answers:
            return
        keys = {key: answer for key, answer, _ in answers}  # the same request twice: one row
        with self.hub.db.session() as s:
            stored = set(
                s.scalars(
                    select(RunCall.key).where(RunCall.run_id == self.run_id, RunCall.key.in_(keys))
                )
            )
            fresh = [
                {"run_id": self.run_id, "key": k, "answer": a, "created_at": utcnow()}
                for k, a in keys.items()
                if k not in stored
            ]
            if fresh:
                s.execute(insert(RunCall), fresh)
