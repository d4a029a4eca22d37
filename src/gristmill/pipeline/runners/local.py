"""The local runner: tasks in a pool of processes, one per core (or inline when small)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from gristmill.pipeline.base import Check, DatasetCheck
from gristmill.pipeline.runners.tasks import (
    TASK_ROWS,
    Collector,
    PipelineOutput,
    Progress,
    SketchSpill,
    TaskResult,
    merge_part,
    plan,
    run_task,
    spill,
)

INLINE_ROWS = 20_000  # below this, starting processes costs more than it saves


def run_local(
    path: str | Path,
    checks: Sequence[Check],
    *,
    processes: int | None = None,
    progress: Progress | None = None,
    task_rows: int = TASK_ROWS,
    inline_rows: int = INLINE_ROWS,
) -> PipelineOutput:
    tasks, total = plan(path, task_rows)
    workers = min(processes or os.cpu_count() or 1, len(tasks))
    with spill() as sketches:
        collector = Collector(checks, sketches, total, progress)
        if workers <= 1 or total < inline_rows:
            for task in tasks:
                collector.add(run_task(task, checks))
            return collector.finish()
        # spawn: the server is multi-threaded, and a forked copy of its locks can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            # one task in flight per worker and one spare: results never pile up in memory
            queue = list(tasks)
            running: set[Future[TaskResult]] = set()
            while queue or running:
                while queue and len(running) < workers + 1:
                    running.add(pool.submit(run_task, queue.pop(0), checks))
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    collector.add(future.result())

            def run_parts(check: DatasetCheck, sketches: SketchSpill, parts: int) -> list[Any]:
                futures = [
                    pool.submit(merge_part, check, sketches, k, parts) for k in range(parts)
                ]
                return [f.result() for f in futures]

            return collector.finish(run_parts)
