"""The job queue: enqueue, claim under a lease, heartbeat, finish, fail with backoff.

Claiming is a conditional UPDATE on the candidate row, so two workers can never both win;
on PostgreSQL the candidate is found with FOR UPDATE SKIP LOCKED so workers do not queue up
behind each other's locks.

A worker in the process that queued a job is woken as soon as the job's transaction commits
(`QUEUED`), instead of at its next poll; workers elsewhere find it when they poll.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, UOWTransaction

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.errors import NotFound
from gristmill.store.metadata.models import Job, utcnow


def enqueue(
    hub: Hub,
    *,
    account_id: str,
    kind: str,
    params: dict[str, Any],
    idempotency_key: str | None = None,
) -> Job:
    """Queue a job; with an idempotency key, asking twice returns the first job."""
    job = new_job(hub, account_id=account_id, kind=kind, params=params)
    job.idempotency_key = idempotency_key
    try:
        with hub.db.session() as s:
            s.add(job)
    except IntegrityError:
        if idempotency_key is None:
            raise
        with hub.db.session() as s:
            existing = s.scalar(
                select(Job).where(
                    Job.account_id == account_id,
                    Job.kind == kind,
                    Job.idempotency_key == idempotency_key,
                )
            )
        assert existing is not None
        return existing
    return job


QUEUED = threading.Event()  # set when a transaction that added a job has committed


@event.listens_for(Session, "after_flush")
def _note_new_jobs(session: Session, _flush: UOWTransaction) -> None:
    if any(isinstance(o, Job) for o in session.new):
        session.info["queued_jobs"] = True


@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    # a released savepoint fires this too: wake only when the whole transaction is in
    if not session.in_nested_transaction() and session.info.pop("queued_jobs", False):
        QUEUED.set()


@event.listens_for(Session, "after_rollback")
def _forget_new_jobs(session: Session) -> None:
    if not session.in_nested_transaction():  # not a savepoint's: the jobs are gone
        session.info.pop("queued_jobs", None)


def new_job(hub: Hub, *, account_id: str, kind: str, params: dict[str, Any]) -> Job:
    """A queued job, not yet added: for a caller that queues it in its own transaction."""
    return Job(
        id=prefixed("job_"),
        account_id=account_id,
        kind=kind,
        params=params,
        status="queued",
        max_attempts=hub.settings.job_max_attempts,
    )


def _claimable(now: Any) -> Any:
    return or_(
        and_(Job.status == "queued", Job.run_after <= now),
        and_(Job.status == "running", Job.lease_expires_at < now),
    )


def claim(hub: Hub, owner: str, kinds: list[str] | None = None) -> Job | None:
    """Take the oldest runnable job (queued, or running with an expired lease)."""
    now = utcnow()
    lease_until = now + timedelta(seconds=hub.settings.job_lease_seconds)
    with hub.db.session() as s:
        q = select(Job.id).where(_claimable(now)).order_by(Job.created_at).limit(1)
        if kinds:
            q = q.where(Job.kind.in_(kinds))
        if not hub.db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        job_id = s.scalar(q)
        if job_id is None:
            return None
        won = s.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                status="running",
                lease_owner=owner,
                lease_expires_at=lease_until,
                attempts=Job.attempts + 1,
                updated_at=now,
            )
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            return None
    with hub.db.session() as s:
        return s.get(Job, job_id)


def heartbeat(
    hub: Hub, job_id: str, owner: str, *, done: int | None = None, total: int | None = None
) -> bool:
    """Extend the lease and record progress; False means another worker owns the job now."""
    now = utcnow()
    values: dict[str, Any] = {
        "lease_expires_at": now + timedelta(seconds=hub.settings.job_lease_seconds),
        "updated_at": now,
    }
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    return _update_running(hub, job_id, owner, values)


def finish(
    hub: Hub,
    job_id: str,
    owner: str,
    result: dict[str, Any] | None,
    *,
    done: int | None = None,
    total: int | None = None,
) -> bool:
    values: dict[str, Any] = {
        "status": "succeeded",
        "result": result,
        "lease_expires_at": None,
        "updated_at": utcnow(),
    }
    if done is not None:
        values["progress_done"] = done
        values["progress_total"] = total if total is not None else done
    return _update_running(hub, job_id, owner, values)


def _update_running(hub: Hub, job_id: str, owner: str, values: dict[str, Any]) -> bool:
    """Update a running job this owner still holds; False when the lease was lost."""
    with hub.db.session() as s:
        result = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
            .values(**values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fail(hub: Hub, job: Job, owner: str, error: str, *, retryable: bool) -> str | None:
    """Requeue with exponential backoff, or fail for good; returns the new status, or None
    when this owner no longer holds the job (another worker has it: nothing was changed)."""
    give_up = not retryable or job.attempts >= job.max_attempts
    status = "failed" if give_up else "queued"
    delay = hub.settings.job_backoff_seconds * (2 ** max(job.attempts - 1, 0))
    with hub.db.session() as s:
        result = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.lease_owner == owner)
            .values(
                status=status,
                error=error,
                lease_owner=None,
                lease_expires_at=None,
                run_after=utcnow() + timedelta(seconds=0 if give_up else delay),
                updated_at=utcnow(),
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
    return status


def get_job(hub: Hub, account_id: str, job_id: str) -> Job:
    with hub.db.session() as s:
        job = s.scalar(select(Job).where(Job.id == job_id, Job.account_id == account_id))
    if job is None:
        raise NotFound(f"No such job: {job_id}", param="job_id")
    return job
