"""A worker: claims jobs, runs their handler, heartbeats the lease while it works."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.services.errors import ServiceError
from gristmill.store.metadata.models import Job, utcnow

log = logging.getLogger("gristmill.worker")


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); stop without writing more."""


@dataclass
class JobContext:
    hub: Hub
    job: Job
    owner: str
    done: int = 0
    total: int | None = None
    lost: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def attempt_token(self) -> str:
        """Tags what this attempt writes, so a retry can tell its rows from a crashed one's."""
        return f"{self.job.id}.{self.job.attempts}"

    def hold_lease(self, s: Session) -> None:
        """In the transaction that publishes the job's result: raise LeaseLost unless this
        worker still holds the job, so a worker whose lease expired never publishes."""
        still_ours = s.execute(
            update(Job)
            .where(Job.id == self.job.id, Job.lease_owner == self.owner, Job.status == "running")
            .values(updated_at=utcnow())
        )
        if still_ours.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(self.job.id)

    def progress(self, done: int, total: int | None = None) -> None:
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
        if self.lost:
            raise LeaseLost(self.job.id)


Handler = Callable[[JobContext], dict[str, Any] | None]
GiveUp = Callable[[Hub, Job, str], None]


@dataclass
class JobKind:
    run: Handler
    on_give_up: GiveUp | None = None


HANDLERS: dict[str, JobKind] = {}


def register(kind: str, run: Handler, on_give_up: GiveUp | None = None) -> None:
    HANDLERS[kind] = JobKind(run=run, on_give_up=on_give_up)


class Worker:
    def __init__(self, hub: Hub, name: str | None = None):
        self.hub = hub
        self.owner = name or f"{socket.gethostname()}:{os.getpid()}:{prefixed('', 6)}"

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until `stop` is set; stop it with `request_stop`, which also ends an idle
        wait (the loop waits on `queue.QUEUED`, not on `stop`)."""
        log.info("worker %s started", self.owner)
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # a store hiccup must not kill the worker loop
                log.exception("worker loop error")
                ran = False
            if not ran and queue.QUEUED.wait(self.hub.settings.job_poll_interval_seconds):
                queue.QUEUED.clear()

    def run_once(self) -> bool:
        job = queue.claim(self.hub, self.owner, kinds=list(HANDLERS))
        if job is None:
            return False
        self._run(job)
        return True

    def _run(self, job: Job) -> None:
        kind = HANDLERS[job.kind]
        ctx = JobContext(hub=self.hub, job=job, owner=self.owner)
        stop_beat = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(ctx, stop_beat), daemon=True)
        beat.start()
        log.info("job %s (%s) attempt %d started", job.id, job.kind, job.attempts)
        try:
            result = kind.run(ctx)
        except LeaseLost:
            log.warning("job %s: lease lost, another worker has it", job.id)
            return
        except Exception as exc:
            retryable = not isinstance(exc, ServiceError)
            message = (
                exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
            )
            if retryable:
                log.exception("job %s failed", job.id)
            status = queue.fail(self.hub, job, self.owner, message, retryable=retryable)
            if status == "failed" and kind.on_give_up is not None:
                kind.on_give_up(self.hub, job, message)
            return
        finally:
            stop_beat.set()
            beat.join()
        queue.finish(self.hub, job.id, self.owner, result, done=ctx.done, total=ctx.total)
        log.info("job %s succeeded", job.id)

    def _heartbeat(self, ctx: JobContext, stop: threading.Event) -> None:
        interval = max(self.hub.settings.job_lease_seconds / 3, 0.2)
        while not stop.wait(interval):
            with ctx._lock:
                done, total = ctx.done, ctx.total
            try:
                if not queue.heartbeat(self.hub, ctx.job.id, self.owner, done=done, total=total):
                    ctx.lost = True
                    return
            except Exception:
                log.exception("heartbeat failed for job %s", ctx.job.id)


def request_stop(stop: threading.Event) -> None:
    """End the workers waiting on `stop`, idle ones at once (not at their next poll)."""
    stop.set()
    queue.QUEUED.set()


def start_embedded(hub: Hub, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=Worker(hub).run_forever, args=(stop,), daemon=True)
    thread.start()
    return thread
