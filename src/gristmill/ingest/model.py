"""The values ingestion produces: raw rows from readers, normalized datapoints, batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict


class Reason(TypedDict):
    """Why a row was rejected: a stable short code and a message for people."""

    code: str
    message: str


def reason(code: str, message: str) -> Reason:
    return {"code": code, "message": message}


class RawRow(NamedTuple):
    """One record as a reader found it, before any schema is applied.

    `error` is set when the reader could not even decode the record (bad JSON, bad UTF-8,
    a CSV record with the wrong number of fields); `value` is then None.
    """

    line: int
    value: Any
    error: Reason | None = None


class RowError(NamedTuple):
    """A rejected row: its 1-based source line and every reason found."""

    line: int
    reasons: list[Reason]


@dataclass(slots=True)
class Datapoint:
    """A validated row, shaped to become a datapoint (see the package docstring for `input`
    and `output` per kind). `raw` is the source record exactly as read, so nothing is lost;
    `input`, `output` and `extra` may share objects with it.
    """

    line: int
    kind: str
    input: dict[str, Any]
    output: Any
    extra: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Batch:
    """Up to `batch_size` consecutive source rows, split into the good and the rejected."""

    rows: list[Datapoint] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows) + len(self.errors)
