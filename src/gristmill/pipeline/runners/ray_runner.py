"""The Ray runner: the same tasks as Ray Data rows, mapped on a Ray cluster.

`address` is `GRISTMILL_RAY_ADDRESS`: `auto` starts a local Ray in this process; anything
else is passed to `ray.init` (e.g. `ray://head:10001`). Workers must be able to read the
snapshot's path: a local Ray always can.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gristmill.pipeline.base import Check
from gristmill.pipeline.runners.tasks import (
    TASK_ROWS,
    Collector,
    PipelineOutput,
    Progress,
    Task,
    plan,
    run_task,
    spill,
)


def _ensure_ray(address: str, workers: int | None) -> Any:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if not ray.is_initialized():
        if address == "auto":
            ray.init(
                num_cpus=workers or os.cpu_count(),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray


def run_ray(
    path: str | Path,
    checks: Sequence[Check],
    *,
    address: str = "auto",
    workers: int | None = None,
    progress: Progress | None = None,
    task_rows: int = TASK_ROWS,
) -> PipelineOutput:
    ray = _ensure_ray(address, workers)
    tasks, total = plan(path, task_rows)
    payload = pickle.dumps(list(checks))

    def run(batch: dict[str, Any]) -> dict[str, Any]:
        chosen = pickle.loads(payload)
        results = []
        for index, task_path, groups, rows in zip(
            batch["index"], batch["path"], batch["row_groups"], batch["rows"], strict=True
        ):
            task = Task(int(index), str(task_path), tuple(int(g) for g in groups), int(rows))
            results.append(pickle.dumps(run_task(task, chosen)))
        return {"result": results}

    items = [
        {"index": t.index, "path": t.path, "row_groups": list(t.row_groups), "rows": t.rows}
        for t in tasks
    ]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items))).map_batches(
        run, batch_size=1, batch_format="numpy", concurrency=workers
    )
    with spill() as sketches:
        collector = Collector(checks, sketches, total, progress)
        for row in dataset.iter_rows():
            collector.add(pickle.loads(row["result"]))
        return collector.finish()
