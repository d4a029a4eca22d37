"""The viewer's row browser: a dataset's live rows, keyset-paged, searched and filtered by
check flag, tag, function and kind, with a count that stops at `COUNT_CAP`.

Pages follow an index (datapoint id, or flag id when filtering by a check), never an
OFFSET, so the millionth row is as quick to reach as the first. Counting every match of a
filter over a million rows is the slow part of a page, so counts stop at the cap and the
viewer shows "10,000+"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.pipeline.checks import CHECK_NAMES
from gristmill.services.datapoints.filters import check_tag_name, search_condition
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
    window: int = 100_000  # rows a text search reads per page

    def filtered(self) -> bool:
        return any((self.search, self.flag, self.tag, self.function, self.kind))


@dataclass
class RowPage:
    dataset: Dataset
    rows: list[Datapoint]
    flags: dict[str, list[tuple[str, str]]]  # datapoint id -> [(check, detail)]
    next_cursor: str | None
    matching: int | None  # None: not counted (a text search would read every row)
    capped: bool = False
    searched_to: str | None = None  # a search's window ended here with the page not full


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
    if q.flag and q.after is not None and decimal(q.after) is None:
        raise InvalidRequest(f"Invalid cursor {q.after!r}.", param="after")
    for name in ("search", "tag", "function", "kind", "after"):
        if "\x00" in (getattr(q, name) or ""):
            raise InvalidRequest(f"{name} must not hold a NUL character.", param=name)
    check_tag_name((q.tag or "").partition("=")[0], "tag")


def _live(ds: Dataset) -> list[Any]:
    return [Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None)]


def _conditions(q: RowQuery) -> list[Any]:
    where: list[Any] = []
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
    """Matches up to the cap, reading ids only (a row's JSON can be megabytes)."""
    ids = selection.with_only_columns(Datapoint.id, maintain_column_froms=True)
    capped = select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())
    n = s.scalar(capped) or 0
    return min(n, COUNT_CAP), n > COUNT_CAP


def browse_rows(hub: Hub, account_id: str, dataset_id: str, q: RowQuery) -> RowPage:
    _check_query(q)
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    graded_id = _graded(hub, ds)
    live, where = _live(ds), _conditions(q)
    with hub.db.session() as s:
        if q.flag and graded_id is None:
            return RowPage(ds, [], {}, None, 0)
        if q.flag and graded_id is not None:
            rows, cursor, base = _flagged_page(s, graded_id, q, [*live, *where])
            searched_to = None
        else:
            rows, cursor, base, searched_to = _rows_page(s, q, live, where)
        if q.search:
            matching, capped = None, False
        elif not q.filtered():
            matching, capped = ds.row_count, False
        else:
            matching, capped = _count(s, base)
        flags = _flags_of(s, graded_id, [r.id for r in rows])
        for r in rows:
            s.expunge(r)
    return RowPage(ds, rows, flags, cursor, matching, capped, searched_to=searched_to)


def _graded(hub: Hub, ds: Dataset) -> str | None:
    """The head's evaluation, if it has finished: the flags rows are shown with."""
    ev = head_evaluation(hub, ds)
    return ev.id if ev is not None and ev.status == "succeeded" else None


def _flagged_page(
    s: Session, evaluation_id: str, q: RowQuery, where: list[Any]
) -> tuple[list[Datapoint], str | None, Any]:
    """Rows flagged by a check, in the order the check found them (keyset on flag id)."""
    flagged = and_(EvaluationFlag.evaluation_id == evaluation_id, EvaluationFlag.check == q.flag)
    base = (
        select(EvaluationFlag.id, Datapoint)
        .join(Datapoint, Datapoint.id == EvaluationFlag.datapoint_id)
        .where(flagged, *where)
    )
    page_q = base.where(EvaluationFlag.id > (decimal(q.after) or 0))
    found = list(s.execute(page_q.order_by(EvaluationFlag.id).limit(q.limit + 1)))
    cursor = str(found[q.limit - 1][0]) if len(found) > q.limit else None
    return [r[1] for r in found[: q.limit]], cursor, base


def _rows_page(
    s: Session, q: RowQuery, live: list[Any], where: list[Any]
) -> tuple[list[Datapoint], str | None, Any, str | None]:
    """Rows in id order. A text search reads at most `q.window` rows per page, so a
    word no row holds costs a bounded read, not the whole dataset: when the window ends
    before the page fills, the cursor is the window's end and the search goes on from it
    (`searched_to`)."""
    base = select(Datapoint).where(*live, *where)
    after = [Datapoint.id > q.after] if q.after else []
    window_end = None
    if q.search:
        window_end = s.scalar(
            select(Datapoint.id)
            .where(*live, *after)
            .order_by(Datapoint.id)
            .offset(q.window - 1)
            .limit(1)
        )
    bounded = [Datapoint.id <= window_end] if window_end is not None else []
    found = list(s.scalars(base.where(*after, *bounded).order_by(Datapoint.id).limit(q.limit + 1)))
    rows = found[: q.limit]
    if len(found) > q.limit:
        return rows, rows[-1].id, base, None
    if window_end is not None:
        return rows, window_end, base, window_end
    return rows, None, base, None


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
) -> tuple[Dataset, Datapoint, list[tuple[str, str]]]:
    """The dataset and one live row of it, with the head evaluation's flags on the row."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    graded_id = _graded(hub, ds)
    with hub.db.session() as s:
        row = s.scalar(
            select(Datapoint).where(
                Datapoint.id == row_id, Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None)
            )
        )
        if row is None:
            raise NotFound(f"Row {row_id} not found.", param="row_id")
        flags = _flags_of(s, graded_id, [row.id]).get(row.id, [])
        s.expunge(row)
    return ds, row, flags
