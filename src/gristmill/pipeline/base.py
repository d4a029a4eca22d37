"""What a check is, and what it hands back for one batch.

A row check (`Check`) looks at one batch at a time and flags rows in it. A dataset check
(`DatasetCheck`, the duplicate checks) needs every row: it sketches each batch, the runner
merges the sketches of all batches, and the merge flags rows. Either runner (local processes
or Ray) calls the same methods, so both give the same flags. Checks never touch a database.
"""

from __future__ import annotations

import os
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
    batch is), then `merge` of every batch's sketch in row order (run once).

    A check whose merge falls into `merge_parts` independent parts (the near-duplicate
    check's LSH bands) also has `merge_part` and `combine`: a runner may run the parts at
    once, wherever the sketch can be read, and `combine` their results; `merge` is the
    same done in one process."""

    merge_parts: ClassVar[int] = 1

    def sketch(self, texts: TextBatch) -> dict[str, np.ndarray]:
        """Named arrays, one entry per row of the batch (first axis)."""
        raise NotImplementedError

    def merge(self, sketch: Mapping[str, np.ndarray]) -> CheckOutput:
        """Flags from every batch's sketch arrays, concatenated in row order: by default,
        the merge as one part."""
        return self.combine(sketch, [self.merge_part(sketch, 0, 1)])

    def merge_part(self, sketch: Mapping[str, np.ndarray], part: int, parts: int) -> Any:
        """Part `part` of `parts` of the merge (picklable: it may come from elsewhere)."""
        raise NotImplementedError

    def combine(self, sketch: Mapping[str, np.ndarray], results: list[Any]) -> CheckOutput:
        """The merge's flags from the results of all its parts."""
        raise NotImplementedError


def take(array: np.ndarray, index: Any) -> np.ndarray:
    """`array[index]` as a new in-memory array. A spilled sketch is a memory map, and the
    kernel maps whole large folios of its page cache on each fault (a thousand random rows
    of a 512 MB file showed as 470 MB more RSS), so a spilled array is read with `pread`
    instead: the rows asked for, or the whole array in blocks, never mapped at once.
    Row index arrays and slices of rows (with the other axes' indexes after them) are read
    that way; any other index goes through a map of its own, closed after the read."""
    if not (isinstance(array, np.memmap) and array.filename is not None):
        return np.array(array[index])
    rows, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
    if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
        return _read_rows(array, index)
    if isinstance(rows, slice) and rows.indices(len(array))[2] == 1:
        start, stop, _ = rows.indices(len(array))
        parts = [  # a copy of each block's part, so no whole block outlives its read
            _read_rows(array, np.arange(at, min(at + READ_ROWS, stop)))[(slice(None), *rest)].copy()
            for at in range(start, stop, READ_ROWS)
        ]
        if parts:
            return np.concatenate(parts)
    # any other index: through a map of its own, closed after this read
    fresh = np.memmap(array.filename, dtype=array.dtype, mode="r", shape=array.shape)
    try:
        return np.array(fresh[index])
    finally:
        fresh._mmap.close()  # type: ignore[attr-defined]


READ_ROWS = 65_536  # rows per read when a spilled array is read whole


def _read_rows(array: np.memmap, rows: np.ndarray) -> np.ndarray:
    """Rows of a spilled array by number, each run of consecutive rows in one read."""
    wanted, inverse = np.unique(rows, return_inverse=True)
    if len(wanted) and (wanted[0] < 0 or wanted[-1] >= len(array)):
        raise IndexError(f"rows {wanted[0]}..{wanted[-1]} of an array of {len(array)}")
    out = np.empty((len(wanted), *array.shape[1:]), dtype=array.dtype)
    row_bytes = out.itemsize * (out.size // max(len(out), 1))
    starts = np.flatnonzero(np.diff(wanted, prepend=-2) != 1)
    sizes = (np.diff(starts, append=len(wanted)) * row_bytes).tolist()
    into = (starts * row_bytes).tolist()
    offsets = (array.offset + wanted[starts] * row_bytes).tolist()
    buffer = out.reshape(-1).view(np.uint8).data
    fd = os.open(array.filename, os.O_RDONLY)  # type: ignore[arg-type]
    try:
        for at, size, offset in zip(into, sizes, offsets, strict=True):
            if os.preadv(fd, [buffer[at : at + size]], offset) != size:
                raise OSError(f"short read of {array.filename} at {offset}")
    finally:
        os.close(fd)
    return out[inverse.reshape(rows.shape)]


def matching_mask(
    texts: list[str] | pa.Array[Any], pattern: str, *, ignore_case: bool = False
) -> np.ndarray:
    """Whether RE2 finds `pattern` in each text: one scan of the whole batch in Arrow.
    Scanning one batch for several patterns, convert it once with
    `pa.array(texts, pa.large_string())`."""
    if isinstance(texts, list):
        texts = pa.array(texts, type=pa.large_string())
    hits = pc.match_substring_regex(texts, pattern, ignore_case=ignore_case)
    mask: np.ndarray = hits.to_numpy(zero_copy_only=False)
    return mask


def matching_rows(
    texts: list[str] | pa.Array[Any], pattern: str, *, ignore_case: bool = False
) -> list[int]:
    """Indexes of the texts in which RE2 finds `pattern`, so Python only looks again at the
    few rows that can match."""
    rows: list[int] = np.flatnonzero(
        matching_mask(texts, pattern, ignore_case=ignore_case)
    ).tolist()
    return rows
