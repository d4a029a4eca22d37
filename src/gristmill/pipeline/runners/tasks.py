"""The unit of work both runners share: a run of row groups of one Parquet snapshot.

`run_task` reads its row groups batch by batch, runs every row check and every dataset
check's sketch on each batch, and returns the outputs and the sketches. It is a plain
function of its arguments, so a local process and a Ray worker compute exactly the same
thing. `SketchSpill` and `finish` are the parent's side: the sketches of all tasks, in
row order, appended to files on disk, then each dataset check's merge over them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from gristmill.pipeline.base import Check, CheckOutput, DatasetCheck
from gristmill.pipeline.text import read_texts

TASK_ROWS = 50_000  # rows per task, in whole row groups
READ_BATCH = 5_000
COLUMNS = ["id", "kind", "input", "output", "source_line"]
Progress = Callable[[int, int], None]
# runs a dataset check's merge parts (`merge_part` below) at once: (check, spill, parts)
PartRunner = Callable[["DatasetCheck", "SketchSpill", int], list[Any]]


@dataclass(frozen=True)
class Task:
    index: int
    path: str
    row_groups: tuple[int, ...]
    rows: int


@dataclass
class TaskResult:
    index: int
    rows: int
    outputs: dict[str, CheckOutput] = field(default_factory=dict)
    sketches: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def plan(path: str | Path, task_rows: int = TASK_ROWS) -> tuple[list[Task], int]:
    """Tasks of whole row groups, about `task_rows` rows each; and the total row count."""
    meta = pq.ParquetFile(path).metadata
    tasks: list[Task] = []
    groups: list[int] = []
    rows = 0
    for g in range(meta.num_row_groups):
        groups.append(g)
        rows += meta.row_group(g).num_rows
        if rows >= task_rows:
            tasks.append(Task(len(tasks), str(path), tuple(groups), rows))
            groups, rows = [], 0
    if groups:
        tasks.append(Task(len(tasks), str(path), tuple(groups), rows))
    return tasks, meta.num_rows


def run_task(task: Task, checks: Sequence[Check]) -> TaskResult:
    result = TaskResult(task.index, 0, {c.name: CheckOutput() for c in checks})
    parts: dict[str, list[dict[str, np.ndarray]]] = {
        c.name: [] for c in checks if isinstance(c, DatasetCheck)
    }
    parquet = pq.ParquetFile(task.path)
    for batch in parquet.iter_batches(
        batch_size=READ_BATCH, row_groups=list(task.row_groups), columns=COLUMNS
    ):
        texts = read_texts(batch)
        result.rows += len(texts)
        for c in checks:
            if isinstance(c, DatasetCheck):
                parts[c.name].append(c.sketch(texts))
            else:
                result.outputs[c.name].add(c.check(texts))
    for name, pieces in parts.items():
        if pieces:
            result.sketches[name] = {
                key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]
            }
    return result


class SketchSpill:
    """Each dataset check's sketch arrays, appended task by task (in row order) to raw
    files, and read back as memory maps: the parent never holds every row's sketch."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._shapes: dict[tuple[str, str], tuple[np.dtype[Any], tuple[int, ...], int]] = {}

    def add(self, sketches: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        for check, arrays in sketches.items():
            for key, array in arrays.items():
                dtype, tail, rows = self._shapes.get(
                    (check, key), (array.dtype, array.shape[1:], 0)
                )
                with open(self.workdir / f"{check}.{key}", "ab") as fh:
                    fh.write(np.ascontiguousarray(array).tobytes())
                self._shapes[(check, key)] = (dtype, tail, rows + len(array))

    def read(self, check: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for (name, key), (dtype, tail, rows) in self._shapes.items():
            if name == check:
                if rows == 0:
                    out[key] = np.zeros((0, *tail), dtype=dtype)
                else:
                    path = self.workdir / f"{name}.{key}"
                    out[key] = np.memmap(path, dtype=dtype, mode="r", shape=(rows, *tail))
        return out


def merge_part(check: DatasetCheck, sketches: SketchSpill, part: int, parts: int) -> Any:
    """One part of a dataset check's merge, in whichever process runs it: the spilled
    sketch is read from its files there."""
    return check.merge_part(sketches.read(check.name), part, parts)


@contextmanager
def spill() -> Iterator[SketchSpill]:
    with tempfile.TemporaryDirectory(prefix="gristmill-sketch-") as tmp:
        yield SketchSpill(Path(tmp))


@dataclass
class PipelineOutput:
    rows: int
    outputs: dict[str, CheckOutput]


class Collector:
    """The parent's side of a run: task results arrive in any order; outputs and sketches
    are taken in task order, so every runner merges the same sketches the same way."""

    def __init__(
        self, checks: Sequence[Check], sketches: SketchSpill, total: int, progress: Progress | None
    ) -> None:
        self.checks = list(checks)
        self.sketches = sketches
        self.total = total
        self.progress = progress
        self.rows = 0
        self.outputs = {c.name: CheckOutput() for c in self.checks}
        self._waiting: dict[int, TaskResult] = {}
        self._next = 0

    def add(self, result: TaskResult) -> None:
        self._waiting[result.index] = result
        while self._next in self._waiting:
            ready = self._waiting.pop(self._next)
            self._next += 1
            self.rows += ready.rows
            for name, output in ready.outputs.items():
                self.outputs[name].add(output)
            self.sketches.add(ready.sketches)
            if self.progress is not None:
                self.progress(self.rows, self.total)

    def finish(self, run_parts: PartRunner | None = None) -> PipelineOutput:
        """Each dataset check's merge; with `run_parts`, a merge in parts runs them
        through it (the local runner's processes), otherwise here."""
        assert not self._waiting, "a task result is missing"
        for c in self.checks:
            if isinstance(c, DatasetCheck) and self.rows:  # no rows: nothing was sketched
                sketch = self.sketches.read(c.name)
                if run_parts is not None and c.merge_parts > 1:
                    results = run_parts(c, self.sketches, c.merge_parts)
                    self.outputs[c.name] = c.combine(sketch, results)
                else:
                    self.outputs[c.name] = c.merge(sketch)
        for output in self.outputs.values():
            output.flags.sort(key=lambda f: (f.line is None, f.line or 0, f.datapoint_id))
        return PipelineOutput(self.rows, self.outputs)
