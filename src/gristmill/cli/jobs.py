"""`gristmill jobs list` and `gristmill jobs watch`: job state and a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.services.errors import NotFound
from gristmill.store.metadata.models import Account, Job

TERMINAL = ("succeeded", "failed")


def progress_bar(done: int, total: int | None, width: int = 30) -> str:
    if not total:
        return f"{done:,} rows"
    frac = min(done / total, 1.0)
    filled = int(frac * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows {frac:6.1%}"


def _row(job: Job, account: str) -> dict[str, object]:
    return {
        "id": job.id,
        "account": account,
        "kind": job.kind,
        "status": job.status,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "attempts": job.attempts,
        "error": job.error,
        "params": job.params,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def cmd_jobs_list(hub: Hub, args: argparse.Namespace) -> int:
    with hub.db.session() as s:
        q = select(Job, Account.name).join(Account, Account.id == Job.account_id)
        if args.account:
            q = q.where(Account.name == args.account)
        if args.status:
            q = q.where(Job.status == args.status)
        rows = s.execute(q.order_by(Job.created_at.desc()).limit(args.limit)).all()
    if args.json:
        print(json.dumps([_row(job, account) for job, account in rows]))
        return 0
    for job, account in rows:
        print(
            f"{job.id}  {account:<14} {job.kind:<16} {job.status:<9} "
            f"{progress_bar(job.progress_done, job.progress_total)}  attempts={job.attempts}"
        )
    return 0


def watch(hub: Hub, job_id: str, out: TextIO = sys.stdout, interval: float = 0.5) -> Job:
    """Redraw the job's progress bar until it ends; returns the final job."""
    while True:
        with hub.db.session() as s:
            job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"No such job: {job_id}", param="job_id")
        line = f"{job.kind} {job.status:<9} {progress_bar(job.progress_done, job.progress_total)}"
        out.write("\r" + line if out.isatty() else line + "\n")
        out.flush()
        if job.status in TERMINAL:
            if out.isatty():
                out.write("\n")
            return job
        time.sleep(interval)


def cmd_jobs_watch(hub: Hub, args: argparse.Namespace) -> int:
    job = watch(hub, args.job_id)
    if job.status == "failed":
        print(f"error: {job.error}", file=sys.stderr)
        return 1
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    store_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    jobs = sub.add_parser("jobs", help="background jobs (ingests, …) and their progress")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    lst = jobs_sub.add_parser("list", help="recent jobs with their progress")
    lst.add_argument("--account", help="only this account")
    lst.add_argument("--status", choices=["queued", "running", "succeeded", "failed"])
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(hub_func=cmd_jobs_list)
    w = jobs_sub.add_parser("watch", help="a progress bar until the job ends")
    w.add_argument("job_id")
    w.set_defaults(hub_func=cmd_jobs_watch)
    for p in (lst, w):
        store_flags(p)
