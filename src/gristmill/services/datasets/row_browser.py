"""The viewer's row browser: a dataset's live rows, keyset-paged, searched and filtered by
check flag, tag, function and kind, with a count that stops at `COUNT_CAP`.

Pages follow an index (datapoint id, or flag id when filtering by a check), never an
OFFSET, so the millionth row is as quick to reach as the first. Counting every match of a
filter over a million rows is the slow part of a page, so counts stop at the cap and the
viewer shows "10,000+"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.pipeline.checks import CHECK_NAMES
from gristmill.services.datapoints.filters import search_condition
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.quality.reports import head_evaluation
from gristmill.store.metadata.models import Datapoint, Dataset, EvaluationFlag

COUNT_CAP = 10_000
MAX_PAGE = 200
MAX_FILTER = 300


@dataclass(frozen=True)
class RowQuery:
    """`tag` is `key=value` (or `key`, for rows that have the tag at all); `after` is the
    `next_cursor` of the page before."""

    search: str | None = None
    flag: str | None = None
    tag: str | None = None
    function: str | None = None
    kind: str | None = None
    after: str | None = None
    limit: int = 50

    def filtered(self) -> bool:
        return any((self.search, self.flag, self.tag, self.function, self.kind))


@dataclass
class RowPage:
    rows: list[Datapoint]
    flags: dict[str, list[tuple[str, str]]]  # datapoint id -> [(check, detail)]
    next_cursor: str | None
    matching: int | None  # None: not counted (a text search would read every row)
    capped: bool = False
    checks: list[str] = field(default_factory=list)


def _check_query(q: RowQuery) -> None:
    dataset_service.check_limit(q.limit, MAX_PAGE)
    for name in ("search", "tag", "function", "kind", "after"):
        value = getattr(q, name)
        if value is not None and len(value) > MAX_FILTER:
            raise InvalidRequest(f"{name} is longer than {MAX_FILTER} characters.", param=name)
    if q.flag is not None and q.flag not in CHECK_NAMES:
        raise InvalidRequest(
            f"Unknown check {q.flag!r}: expected one of {', '.join(CHECK_NAMES)}.", param="flag"
        )
    if q.flag and q.after is not None and not q.after.isdigit():
        raise InvalidRequest(f"Invalid cursor {q.after!r}.", param="after")


def _conditions(ds: Dataset, q: RowQuery) -> list[Any]:
    where: list[Any] = [Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None)]
    if q.search:
        where.append(search_condition(q.search))
    if q.function:
        where.append(Datapoint.function_name == q.function)
    if q.kind:
        where.append(Datapoint.kind == q.kind)
    if q.tag:
        key, eq, value = q.tag.partition("=")
        tag = Datapoint.tags[key.strip()].as_string()
        where.append(tag == value.strip() if eq else tag.is_not(None))
    return where


def _count(s: Session, selection: Any) -> tuple[int, bool]:
    capped = select(func.count()).select_from(selection.limit(COUNT_CAP + 1).subquery())
    n = s.scalar(capped) or 0
    return min(n, COUNT_CAP), n > COUNT_CAP


def browse_rows(hub: Hub, account_id: str, dataset_id: str, q: RowQuery) -> RowPage:
    _check_query(q)
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    ev = head_evaluation(hub, ds)
    graded = ev is not None and ev.status == "succeeded"
    where = _conditions(ds, q)
    with hub.db.session() as s:
        base: Any
        if q.flag:
            if not graded:
                return RowPage([], {}, None, 0)
            assert ev is not None
            flagged = and_(EvaluationFlag.evaluation_id == ev.id, EvaluationFlag.check == q.flag)
            base = (
                select(EvaluationFlag.id, Datapoint)
                .join(Datapoint, Datapoint.id == EvaluationFlag.datapoint_id)
                .where(flagged, *where)
            )
            page_q = base.where(EvaluationFlag.id > int(q.after or 0))
            found = list(s.execute(page_q.order_by(EvaluationFlag.id).limit(q.limit + 1)))
            rows = [r[1] for r in found[: q.limit]]
            cursor = str(found[q.limit - 1][0]) if len(found) > q.limit else None
        else:
            base = select(Datapoint).where(*where)
            page_q = base.where(Datapoint.id > q.after) if q.after else base
            found_rows = list(s.scalars(page_q.order_by(Datapoint.id).limit(q.limit + 1)))
            rows = found_rows[: q.limit]
            cursor = rows[-1].id if len(found_rows) > q.limit else None
        if q.search:
            matching, capped = None, False
        elif not q.filtered():
            matching, capped = ds.row_count, False
        else:
            matching, capped = _count(s, base)
        flags = _flags_of(s, ev.id if graded and ev else None, [r.id for r in rows])
        for r in rows:
            s.expunge(r)
    return RowPage(rows, flags, cursor, matching, capped)


def _flags_of(
    s: Session, evaluation_id: str | None, ids: list[str]
) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    if evaluation_id is None or not ids:
        return out
    found = s.execute(
        select(EvaluationFlag.datapoint_id, EvaluationFlag.check, EvaluationFlag.detail).where(
            EvaluationFlag.evaluation_id == evaluation_id, EvaluationFlag.datapoint_id.in_(ids)
        )
    )
    for row_id, check, detail in found:
        out.setdefault(row_id or "", []).append((check, detail))
    return out


def get_row(
    hub: Hub, account_id: str, dataset_id: str, row_id: str
) -> tuple[Datapoint, list[tuple[str, str]]]:
    """One live row of the dataset, with the head evaluation's flags on it."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    ev = head_evaluation(hub, ds)
    with hub.db.session() as s:
        row = s.scalar(
            select(Datapoint).where(
                Datapoint.id == row_id, Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None)
            )
        )
        if row is None:
            raise NotFound(f"Row {row_id} not found.", param="row_id")
        graded = ev is not None and ev.status == "succeeded"
        flags = _flags_of(s, ev.id if graded and ev else None, [row.id]).get(row.id, [])
        s.expunge(row)
    return row, flags
