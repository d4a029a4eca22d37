"""What a check is, and what it hands back for one batch.

A row check (`Check`) looks at one batch at a time and flags rows in it. A dataset check
(`DatasetCheck`, the duplicate checks) needs every row: it sketches each batch, the runner
merges the sketches of all batches, and the merge flags rows. Either runner (local processes
or Ray) calls the same methods, so both give the same flags. Checks never touch a database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.text import TextBatch


@dataclass
class Flag:
    """A flagged row: the datapoint id, its 1-based source line (None for rows made by
    a door other than a file) and why, in words a person reads (never the PII itself)."""

    datapoint_id: str
    line: int | None
    detail: str

    @classmethod
    def of_row(cls, texts: TextBatch, i: int, detail: str) -> Flag:
        """The flag of row `i` of a batch."""
        return cls(texts.ids[i], texts.lines[i], detail)


@dataclass
class CheckOutput:
    """A check's result over some rows: how many it applies to, the flagged ones, and
    counts by kind of defect (e.g. {"email": 9, "phone number": 5}) for the report."""

    rows_checked: int = 0
    flags: list[Flag] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    stats: dict[str, int] = field(default_factory=dict)

    def add(self, other: CheckOutput) -> None:
        """Fold in another batch's output; stats named `max_*` keep the largest, others sum."""
        self.rows_checked += other.rows_checked
        self.flags.extend(other.flags)
        self.kinds.update(other.kinds)
        for key, value in other.stats.items():
            if key.startswith("max_"):
                self.stats[key] = max(self.stats.get(key, value), value)
            else:
                self.stats[key] = self.stats.get(key, 0) + value


class Check:
    """A row check: `name` is the API's vocabulary; `describe` what a flag means, in the
    plural ("hold personal data"), for the report's sentences."""

    name: ClassVar[str]
    describe: ClassVar[str]

    def params(self) -> dict[str, Any]:
        """The check's parameters, as reported beside its results."""
        return {}

    def check(self, texts: TextBatch) -> CheckOutput:
        raise NotImplementedError


class DatasetCheck(Check):
    """A check over the whole dataset, in two phases: `sketch` per batch (run wherever the
    batch is), then `merge` of every batch's sketch in row order (run once)."""

    def sketch(self, texts: TextBatch) -> dict[str, np.ndarray]:
        """Named arrays, one entry per row of the batch (first axis)."""
        raise NotImplementedError

    def merge(self, sketch: Mapping[str, np.ndarray]) -> CheckOutput:
        """Flags from every batch's sketch arrays, concatenated in row order."""
        raise NotImplementedError


def take(array: np.ndarray, index: Any) -> np.ndarray:
    """`array[index]` as a new in-memory array. A spilled sketch is a memory map, whose
    touched pages would count as this process's memory until it ends: the map is opened
    for this read alone and closed after it, so reading every row never holds them all."""
    if isinstance(array, np.memmap) and array.filename is not None:
        fresh = np.memmap(array.filename, dtype=array.dtype, mode="r", shape=array.shape)
        try:
            return np.array(fresh[index])
        finally:
            fresh._mmap.close()  # type: ignore[attr-defined]
    return np.array(array[index])


def matching_rows(
    texts: list[str] | pa.Array[Any], pattern: str, *, ignore_case: bool = False
) -> list[int]:
    """Indexes of the texts in which RE2 finds `pattern`: one scan of the whole batch in
    Arrow, so Python only looks again at the few rows that can match. Scanning one batch
    for several patterns, convert it once with `pa.array(texts, pa.large_string())`."""
    if isinstance(texts, list):
        texts = pa.array(texts, type=pa.large_string())
    hits = pc.match_substring_regex(texts, pattern, ignore_case=ignore_case)
    return [i for i, hit in enumerate(hits.to_pylist()) if hit]
