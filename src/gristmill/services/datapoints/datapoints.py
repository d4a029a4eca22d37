"""Datapoint use cases: datasets curated one datapoint at a time (the TensorZero door).

Datasets are addressed by name, unique per account for this purpose: writing to a name that
does not exist creates the dataset. Rows are never removed: deleting or updating a datapoint
marks it stale (`staled_at`), updating writes a copy under a new id, and a stale datapoint
still answers a get by id, as TensorZero's gateway does. `Dataset.row_count` counts live
rows, so the other doors see the same dataset size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Select,
    Text,
    bindparam,
    cast,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed, uuid7
from gristmill.services.accounts import Principal
from gristmill.services.datapoints import checks, filters
from gristmill.services.datapoints.shapes import (
    DEFAULT_FUNCTION,
    AnyRow,
    stored_chat_output,
    stored_input,
    stored_tool_params,
    tensorzero_view,
)
from gristmill.services.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge
from gristmill.store.metadata.models import Datapoint, Dataset, utcnow

ORIGIN = "tensorzero"
MAX_PER_REQUEST = 100_000
INSERT_BATCH = 1000
ID_BATCH = 1000  # ids per IN (...) list: well inside SQLite's bound-parameter limit
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


@dataclass(frozen=True)
class NewDatapoint:
    kind: str  # chat | json
    function_name: Any
    input: Any
    output: Any = None  # chat: content blocks; json: the parsed value
    output_schema: Any = None
    tool_params: dict[str, Any] = field(default_factory=dict)
    tags: Any = None
    name: Any = None
    episode_id: Any = None
    source_inference_id: str | None = None
    is_custom: bool = True


@dataclass(frozen=True)
class DatapointQuery:
    function_name: str | None = None
    filter: Any = None
    order_by: Any = None
    search: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


# What a read renders (`datapoint_shapes.tensorzero_view`): rows of these columns, not ORM
# objects, because building 100 ORM objects cost more than the query and the rendering.
# Reads render inside the read gate (`Database.reading`), so that pure-Python rendering does
# not compete for the GIL with the threads stepping through SQLite rows.
VIEW_COLUMNS = (
    Datapoint.id,
    Datapoint.kind,
    Datapoint.function_name,
    Datapoint.name,
    Datapoint.episode_id,
    *(
        cast(column, Text).label(column.key)  # the stored JSON text: see tensorzero_view
        for column in (
            Datapoint.input,
            Datapoint.output,
            Datapoint.output_schema,
            Datapoint.tool_params,
            Datapoint.tags,
            Datapoint.extra,
        )
    ),
    Datapoint.is_custom,
    Datapoint.source_inference_id,
    Datapoint.staled_at,
    Datapoint.updated_at,
)
DATASET_REF = (Dataset.id, Dataset.name, Dataset.status, Dataset.origin, Dataset.schema_type)


def check_count(count: int, what: str = "datapoints") -> None:
    if count > MAX_PER_REQUEST:
        raise PayloadTooLarge(
            f"A request may hold at most {MAX_PER_REQUEST} {what}; this one holds {count}. "
            "Send them in several requests.",
            param="datapoints",
        )


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _latest_named(*columns: Any) -> Select[*tuple[Any, ...]]:
    """The account's newest dataset of a name (`account_id` and `name` bound at execution):
    the ORM entity for writes, just the `DATASET_REF` columns for reads."""
    return (
        select(*columns)
        .where(Dataset.account_id == bindparam("account_id"), Dataset.name == bindparam("name"))
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
        .limit(1)
    )


_DATASET_BY_NAME = _latest_named(Dataset)


def _find(s: Session, account_id: str, name: str) -> Dataset | None:
    found: Dataset | None = s.scalar(_DATASET_BY_NAME, {"account_id": account_id, "name": name})
    return found


def existing_dataset(s: Session, account_id: str, name: str) -> Dataset:
    ds = _find(s, account_id, name)
    if ds is None:
        raise NotFound(f"Dataset {name!r} not found.", param="dataset_name")
    return ds


def writable(ds: Dataset) -> Dataset:
    if ds.gateway_id is not None:
        raise Conflict(
            f"Dataset {ds.name!r} is an AI Gateway dataset: its rows are the logs that match "
            "its filters, so they cannot be written one by one.",
            param="dataset_name",
        )
    if ds.status != "succeeded":
        raise Conflict(
            f"Dataset {ds.name!r} is {ds.status}: datapoints can be written only once its "
            "ingest has succeeded.",
            param="dataset_name",
        )
    return ds


def _lock_name(s: Session, account_id: str, name: str) -> None:
    """Make "find the dataset, else create it" atomic, so concurrent first writes to a new
    name share one dataset: an advisory lock on the name in PostgreSQL (across servers);
    SQLite has a single writer, so taking its write lock first is enough."""
    if s.get_bind().dialect.name == "postgresql":
        key = func.hashtextextended(f"dataset-name:{account_id}:{name}", 0)
        s.execute(select(func.pg_advisory_xact_lock(key)))
    else:
        # any write statement, even one that matches no row, takes the write lock
        s.execute(update(Dataset).where(false()).values(row_count=0))


def dataset_for_create(s: Session, caller: Principal, name: str, kinds: set[str]) -> Dataset:
    checks.check_text(name, "dataset_name")
    _lock_name(s, caller.account_id, name)
    ds = _find(s, caller.account_id, name)
    if ds is not None:
        return writable(ds)
    ds = Dataset(
        id=prefixed("ds_"),
        account_id=caller.account_id,
        name=name,
        origin=ORIGIN,
        # a dataset of one function type says so; a mixed one has no single schema type
        schema_type=next(iter(kinds)) if len(kinds) == 1 else None,
        status="succeeded",
        row_count=0,
        created_by_identity_id=caller.identity_id,
        created_by_identity_type=caller.identity_kind,
    )
    s.add(ds)
    s.flush()
    return ds


def count_rows(s: Session, dataset_id: str, delta: int) -> None:
    s.execute(
        update(Dataset)
        .where(Dataset.id == dataset_id)
        .values(row_count=Dataset.row_count + delta, updated_at=utcnow())
    )


def _new_row(item: NewDatapoint, where: str) -> dict[str, Any]:
    kind = checks.check_kind(item.kind, f"{where}.type")
    row: dict[str, Any] = {
        "id": str(uuid7()),
        "kind": kind,
        "function_name": checks.check_text(item.function_name, f"{where}.function_name", limit=200),
        "input": stored_input(checks.check_input(item.input, f"{where}.input")),
        "tags": checks.check_tags(item.tags, f"{where}.tags"),
        "name": checks.check_text(item.name, f"{where}.name", optional=True),
        "episode_id": None
        if item.episode_id is None
        else checks.check_uuid(item.episode_id, f"{where}.episode_id"),
        "source_inference_id": item.source_inference_id,
        "is_custom": item.is_custom,
        "output_schema": None,
        "tool_params": None,
    }
    if kind == "chat":
        row["output"] = stored_chat_output(checks.check_chat_output(item.output, f"{where}.output"))
        row["tool_params"] = stored_tool_params(
            {k: checks.check_tool_field(k, v, where) for k, v in item.tool_params.items()}
        )
    else:
        checks.check_json_output(
            item.output, item.output_schema, f"{where}.output", f"{where}.output_schema"
        )
        row["output"], row["output_schema"] = item.output, item.output_schema
    return row


def insert_rows(s: Session, ds: Dataset, rows: list[dict[str, Any]]) -> None:
    """Batched Core inserts: 10,000 rows go in a few statements, in one transaction."""
    now = utcnow()
    for row in rows:
        row.update(account_id=ds.account_id, dataset_id=ds.id, created_at=now, updated_at=now)
    for batch in batches(rows, INSERT_BATCH):
        s.execute(insert(Datapoint), list(batch))
    count_rows(s, ds.id, len(rows))


def create_datapoints(
    hub: Hub, caller: Principal, dataset_name: str, items: Sequence[NewDatapoint]
) -> list[str]:
    """Validate every datapoint, then write them all or none; the dataset is made if new."""
    check_count(len(items))
    rows = [_new_row(item, f"datapoints[{i}]") for i, item in enumerate(items)]
    if not rows:
        return []
    with hub.db.session() as s:
        ds = dataset_for_create(s, caller, dataset_name, {r["kind"] for r in rows})
        insert_rows(s, ds, rows)
    return [r["id"] for r in rows]


ONLY_CHAT_OR_JSON = ("tensorzero", "cloudflare")  # doors that never write other kinds


# Reads reuse prebuilt statements, with the values as bound parameters: building a statement
# and adapting a cached compilation to a new statement object cost SQLAlchemy more than the
# SQL of a point read.
_DATASET_REF = _latest_named(*DATASET_REF)
_GET = (
    select(*VIEW_COLUMNS, Dataset.name.label("dataset_name"))
    .join(Dataset, Dataset.id == Datapoint.dataset_id)
    .where(
        Datapoint.account_id == bindparam("account_id"),
        Dataset.status == "succeeded",
        Datapoint.id.in_(bindparam("ids", expanding=True)),
        Datapoint.kind.in_(checks.KINDS),
    )
)
_GET_IN_DATASET = _GET.where(Datapoint.dataset_id == bindparam("dataset_id"))
_LIST_STATEMENTS: dict[bytes, Select[*tuple[Any, ...]]] = {}
LIST_STATEMENTS_KEPT = 256
LIST_KEY_BYTES = 4096  # a longer query shape (a long search, a big filter) is built each time


def _dataset_ref(conn: Connection, account_id: str, name: str) -> AnyRow | None:
    """The DATASET_REF columns of the account's dataset of this name. None is an empty
    dataset: in TensorZero a dataset is only a name on datapoints, so a name with none (or
    only another account's) reads as empty, not as missing."""
    ref: AnyRow | None = conn.execute(
        _DATASET_REF, {"account_id": account_id, "name": name}
    ).first()
    return ref


def _may_hold_other_kinds(ds: AnyRow) -> bool:  # a DATASET_REF row
    return ds.origin not in ONLY_CHAT_OR_JSON and ds.schema_type not in checks.KINDS


def _list_statement(query: DatapointQuery, any_kind: bool) -> Select[*tuple[Any, ...]]:
    """The list query for this shape of request, with the dataset id, limit and offset bound;
    `any_kind`: the dataset may hold rows that are neither chat nor json."""
    where: list[Any] = [
        Datapoint.dataset_id == bindparam("dataset_id"),
        Datapoint.staled_at.is_(None),
    ]
    # `kind` is not in the (dataset_id, staled_at, id) index: filter on it only where a dataset
    # can hold other kinds, or every row an offset skips is read from the table.
    if any_kind:
        where.append(Datapoint.kind.in_(checks.KINDS))
    if query.function_name:
        where.append(Datapoint.function_name == query.function_name)
        if query.function_name == DEFAULT_FUNCTION:  # rows from files have no function
            where[-1] = or_(where[-1], Datapoint.function_name.is_(None))
    if query.filter is not None:
        where.append(filters.datapoint_filter(query.filter))
    if query.search:
        where.append(filters.search_condition(query.search))
    return (
        select(*VIEW_COLUMNS)
        .where(*where)
        .order_by(*filters.datapoint_order(query.order_by, query.search))
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


def _cached_list_statement(query: DatapointQuery, any_kind: bool) -> Select[*tuple[Any, ...]]:
    shape = [query.function_name, query.filter, query.order_by, query.search, any_kind]
    try:
        key = orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON: the statement's own checks will say what is wrong
        return _list_statement(query, any_kind)
    if len(key) > LIST_KEY_BYTES:
        return _list_statement(query, any_kind)
    stmt = _LIST_STATEMENTS.get(key)
    if stmt is None:
        stmt = _list_statement(query, any_kind)
        if len(_LIST_STATEMENTS) >= LIST_STATEMENTS_KEPT:
            _LIST_STATEMENTS.clear()
        _LIST_STATEMENTS[key] = stmt
    return stmt


def list_datapoints(
    hub: Hub, account_id: str, dataset_name: str, query: DatapointQuery
) -> list[dict[str, Any]]:
    """A page of the dataset's live datapoints, as TensorZero views."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    if query.offset < 0:
        raise InvalidRequest("offset must not be negative.", param="offset")
    stmt = _cached_list_statement(query, False)  # a bad filter is a 400 before a 404
    with hub.db.reading() as conn:
        ds = _dataset_ref(conn, account_id, dataset_name)
        if ds is None or ds.status != "succeeded":  # an ingest in progress shows nothing yet
            return []
        if _may_hold_other_kinds(ds):
            stmt = _cached_list_statement(query, True)
        values = {"dataset_id": ds.id, "offset": query.offset, "limit": query.limit}
        return [tensorzero_view(dp, ds.name) for dp in conn.execute(stmt, values)]


def get_datapoints(
    hub: Hub, account_id: str, ids: Sequence[Any], dataset_name: str | None = None
) -> list[dict[str, Any]]:
    """The datapoints with these ids as TensorZero views, stale ones included, in the order
    asked; ids that do not exist (or belong to another account) are left out."""
    check_count(len(ids), "ids")
    wanted = [checks.check_uuid(v, f"ids[{i}]") for i, v in enumerate(ids)]
    found: dict[str, dict[str, Any]] = {}
    with hub.db.reading() as conn:
        stmt, values = _GET, {"account_id": account_id}
        if dataset_name is not None:
            ds = _dataset_ref(conn, account_id, dataset_name)
            if ds is None:
                return []
            stmt = _GET_IN_DATASET
            values["dataset_id"] = ds.id
        for batch in batches(wanted, ID_BATCH):
            for dp in conn.execute(stmt, {**values, "ids": list(batch)}):
                found[dp.id] = tensorzero_view(dp, dp.dataset_name)
    return [found[i] for i in dict.fromkeys(wanted) if i in found]


def stale_rows(s: Session, ds: Dataset, ids: Sequence[str]) -> int:
    now, count = utcnow(), 0
    for batch in batches(ids, ID_BATCH):
        result = s.execute(
            update(Datapoint)
            .where(
                Datapoint.dataset_id == ds.id,
                Datapoint.id.in_(batch),
                Datapoint.staled_at.is_(None),
                Datapoint.kind.in_(checks.KINDS),
            )
            .values(staled_at=now, updated_at=now)
        )
        count += result.rowcount  # type: ignore[attr-defined]
    return count


def delete_datapoints(hub: Hub, caller: Principal, dataset_name: str, ids: Sequence[Any]) -> int:
    """Stale the live datapoints among `ids`; returns how many were live."""
    check_count(len(ids), "ids")
    wanted = list(dict.fromkeys(checks.check_uuid(v, f"ids[{i}]") for i, v in enumerate(ids)))
    with hub.db.session() as s:
        found = _find(s, caller.account_id, dataset_name)
        if found is None:  # a name with no datapoints: nothing to delete
            return 0
        ds = writable(found)
        count = stale_rows(s, ds, wanted)
        count_rows(s, ds.id, -count)
    return count


def delete_datapoint(hub: Hub, caller: Principal, dataset_name: str, datapoint_id: Any) -> None:
    """Stale one datapoint; deleting a stale one again is a no-op, a missing one a 404."""
    dp_id = checks.check_uuid(datapoint_id, "datapoint_id")
    with hub.db.session() as s:
        ds = writable(existing_dataset(s, caller.account_id, dataset_name))
        known = s.scalar(
            select(Datapoint.id).where(
                Datapoint.dataset_id == ds.id,
                Datapoint.id == dp_id,
                Datapoint.kind.in_(checks.KINDS),
            )
        )
        if known is None:
            raise NotFound(
                f"Datapoint {dp_id} not found in dataset {dataset_name!r}.", param="datapoint_id"
            )
        count_rows(s, ds.id, -stale_rows(s, ds, [dp_id]))


def delete_dataset(hub: Hub, caller: Principal, dataset_name: str) -> int:
    """Stale every live row of the dataset (the rows stay, readable by id); returns the count.
    The dataset itself stays, empty, so that its versions and history remain."""
    now = utcnow()
    with hub.db.session() as s:
        found = _find(s, caller.account_id, dataset_name)
        if found is None:  # a name with no datapoints: nothing to delete
            return 0
        ds = writable(found)
        result = s.execute(
            update(Datapoint)
            .where(Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None))
            .values(staled_at=now, updated_at=now)
        )
        count: int = result.rowcount  # type: ignore[attr-defined]
        s.execute(update(Dataset).where(Dataset.id == ds.id).values(row_count=0, updated_at=now))
    return count
