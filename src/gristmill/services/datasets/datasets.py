"""Dataset use cases shared by every door: create, ingest, look up, list, delete."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, event, func, or_, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed, uuid7
from gristmill.jobs import queue
from gristmill.services.accounts import Principal
from gristmill.services.datasets.versions import iter_datapoints
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.files.file_datasets import blob_still_needed
from gristmill.services.streams import store_stream
from gristmill.store.metadata.models import (
    CustomEval,
    Datapoint,
    Dataset,
    DatasetRowError,
    DatasetVersion,
    Evaluation,
    EvaluationFlag,
    Export,
    Job,
    PresignedUpload,
    Run,
    RunCall,
    VersionTag,
)

T = TypeVar("T")
SCHEMA_TYPES = ("chat", "generation", "preference", "reranking_questions", "json")
STATUSES = ("pending", "running", "succeeded", "failed")
MAX_PAGE = 1000


def check_schema_type(value: str | None, param: str = "schema_type") -> str | None:
    if value is None or value == "":
        return None
    normal = value.strip().lower()
    if normal not in SCHEMA_TYPES:
        raise InvalidRequest(
            f"Unknown schema type {value!r}: expected one of {', '.join(SCHEMA_TYPES)}.",
            param=param,
        )
    return normal


MAPPING_KEYS = ("prompt", "completion", "chat", "context")


def check_column_mapping(mapping: Any, param: str = "column_mapping") -> dict[str, Any] | None:
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise InvalidRequest("column_mapping must be an object.", param=param)
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise InvalidRequest(
            f"Unknown column_mapping keys {unknown}: expected {', '.join(MAPPING_KEYS)}.",
            param=param,
        )
    context = mapping.get("context")
    if context is not None and not (
        isinstance(context, list) and all(isinstance(c, str) for c in context)
    ):
        raise InvalidRequest("column_mapping.context must be a list of column names.", param=param)
    for key in ("prompt", "completion", "chat"):
        if mapping.get(key) is not None and not isinstance(mapping[key], str):
            raise InvalidRequest(f"column_mapping.{key} must be a column name.", param=param)
    return {k: v for k, v in mapping.items() if v is not None}


def create_dataset(
    hub: Hub,
    caller: Principal,
    *,
    name: str,
    origin: str,
    schema_type: str | None = None,
    column_mapping: dict[str, Any] | None = None,
    data_source: str = "LocalFile",
    extra: dict[str, Any] | None = None,
    status: str = "pending",
) -> Dataset:
    if not name or not name.strip():
        raise InvalidRequest("name must not be empty.", param="name")
    if len(name) > 300:
        raise InvalidRequest("name is longer than 300 characters.", param="name")
    row = Dataset(
        id=prefixed("ds_"),
        account_id=caller.account_id,
        name=name,
        origin=origin,
        schema_type=check_schema_type(schema_type),
        column_mapping=check_column_mapping(column_mapping),
        data_source=data_source,
        status=status,
        created_by_identity_id=caller.identity_id,
        created_by_identity_type=caller.identity_kind,
        extra=extra,
    )
    with hub.db.session() as s:
        s.add(row)
    return row


def start_ingest(
    hub: Hub,
    account_id: str,
    dataset_id: str,
    *,
    blob_key: str,
    filename: str | None,
    source_file_id: str | None = None,
    replace_as: str | None = None,
) -> Job:
    """Point the dataset at its source bytes and queue the ingest (once per dataset).

    The source is opened first, so an unsupported format, a compression mismatch or missing
    mapped columns fail here, as the caller's 4xx, rather than later in the job. With
    `replace_as` (a key naming this replacement), a dataset that has rows gets new ones
    from the file: they replace the old in one transaction, as a new version."""
    ds = get_dataset(hub, account_id, dataset_id)
    preflight(hub, blob_key, filename, ds.schema_type, ds.column_mapping)
    with hub.db.session() as s:
        ds = _get(s, account_id, dataset_id)
        ds.source_blob_key = blob_key
        ds.source_filename = filename
        ds.source_file_id = source_file_id
        ds.status = "pending"
    job = queue.enqueue(
        hub,
        account_id=account_id,
        kind="ingest",
        params={"dataset_id": dataset_id, **({"replace": True} if replace_as else {})},
        idempotency_key=f"ingest:{dataset_id}" + (f":{replace_as}" if replace_as else ""),
    )
    with hub.db.session() as s:
        ds = _get(s, account_id, dataset_id)
        ds.job_id = job.id
    return job


def preflight(
    hub: Hub,
    blob_key: str,
    filename: str | None,
    schema_type: str | None,
    column_mapping: dict[str, Any] | None,
) -> None:
    """Raise IngestError (a 400) if the reader cannot even open the source."""
    from gristmill.ingest import IngestReader

    with IngestReader(
        hub.blobs.read(blob_key),
        filename=filename,
        schema_type=schema_type,
        column_mapping=column_mapping,
    ):
        pass


def _get(s: Any, account_id: str, dataset_id: str) -> Dataset:
    row: Dataset | None = s.scalar(
        select(Dataset).where(Dataset.id == dataset_id, Dataset.account_id == account_id)
    )
    if row is None:
        raise NotFound(f"Dataset {dataset_id} not found.", param="dataset_id")
    return row


def get_dataset(hub: Hub, account_id: str, dataset_id: str) -> Dataset:
    with hub.db.session() as s:
        return _get(s, account_id, dataset_id)


def dataset_part(
    hub: Hub,
    account_id: str,
    dataset_id: str,
    model: type[T],
    object_id: str,
    *,
    what: str,
    param: str,
) -> T:
    """An object of one of the caller's datasets (an export, a publication), detached;
    another account's or another dataset's answers NotFound like a missing one."""
    ds = get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        found = s.get(model, object_id)
        if (
            found is None
            or getattr(found, "dataset_id", None) != ds.id
            or getattr(found, "account_id", None) != account_id
        ):
            raise NotFound(f"{what} {object_id} not found.", param=param)
        s.expunge(found)
        return found


def find_by_name(hub: Hub, account_id: str, name: str) -> Dataset | None:
    with hub.db.session() as s:
        return s.scalar(
            select(Dataset)
            .where(Dataset.account_id == account_id, Dataset.name == name)
            .order_by(Dataset.created_at.desc())
            .limit(1)
        )


@dataclass(frozen=True)
class DatasetFilter:
    q: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    origin: str | None = None
    # a door whose wire model knows only some schema types sees only datasets of those types
    schema_types: tuple[str, ...] = ()


def _filtered(account_id: str, f: DatasetFilter) -> Any:
    q = select(Dataset).where(Dataset.account_id == account_id)
    if f.q:
        like = f"%{f.q.lower()}%"
        q = q.where(or_(func.lower(Dataset.name).like(like), Dataset.id == f.q))
    if f.status:
        if f.status not in STATUSES:
            raise InvalidRequest(
                f"Unknown status {f.status!r}: expected one of {', '.join(STATUSES)}.",
                param="status",
            )
        q = q.where(Dataset.status == f.status)
    if f.created_after:
        q = q.where(Dataset.created_at >= f.created_after)
    if f.created_before:
        q = q.where(Dataset.created_at < f.created_before)
    if f.origin:
        q = q.where(Dataset.origin == f.origin)
    if f.schema_types:
        q = q.where(Dataset.schema_type.in_(f.schema_types))
    return q


def check_limit(limit: int, maximum: int = MAX_PAGE, param: str = "limit") -> int:
    if not 1 <= limit <= maximum:
        raise InvalidRequest(f"{param} must be between 1 and {maximum}, got {limit}.", param=param)
    return limit


SORTS = {
    "created_at": (Dataset.created_at.asc(), Dataset.id.asc()),
    "-created_at": (Dataset.created_at.desc(), Dataset.id.desc()),
    "name": (Dataset.name.asc(), Dataset.id.asc()),
    "-name": (Dataset.name.desc(), Dataset.id.desc()),
    "updated_at": (Dataset.updated_at.asc(), Dataset.id.asc()),
    "-updated_at": (Dataset.updated_at.desc(), Dataset.id.desc()),
}


def list_datasets_offset(
    hub: Hub, account_id: str, f: DatasetFilter, *, offset: int, limit: int, sort: str
) -> tuple[list[Dataset], int]:
    """One page by offset, and the total count (Scale GP and Cloudflare page this way)."""
    if offset < 0:
        raise InvalidRequest("offset must not be negative.", param="page")
    if sort not in SORTS:
        raise InvalidRequest(
            f"Unknown sort {sort!r}: expected one of {', '.join(SORTS)}.", param="sort"
        )
    q = _filtered(account_id, f)
    with hub.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(s.scalars(q.order_by(*SORTS[sort]).offset(offset).limit(limit)))
    return rows, total


def list_datasets_cursor(
    hub: Hub, account_id: str, f: DatasetFilter, *, cursor: str | None, limit: int, sort: str
) -> tuple[list[Dataset], str | None]:
    """Keyset pages: the cursor is the last dataset id seen; returns the next cursor or None."""
    if sort not in SORTS:
        raise InvalidRequest(
            f"Unknown sort {sort!r}: expected one of {', '.join(SORTS)}.", param="sort"
        )
    q = _filtered(account_id, f)
    with hub.db.session() as s:
        if cursor:
            anchor = s.scalar(
                select(Dataset).where(Dataset.id == cursor, Dataset.account_id == account_id)
            )
            if anchor is None:
                raise InvalidRequest(f"Invalid cursor {cursor!r}.", param="cursor")
            field = sort.lstrip("-")  # a Dataset column: SORTS was checked above
            col, key = getattr(Dataset, field), getattr(anchor, field)
            if sort.startswith("-"):
                q = q.where(or_(col < key, and_(col == key, Dataset.id < anchor.id)))
            else:
                q = q.where(or_(col > key, and_(col == key, Dataset.id > anchor.id)))
        rows = list(s.scalars(q.order_by(*SORTS[sort]).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def delete_dataset(hub: Hub, account_id: str, dataset_id: str) -> None:
    """Remove the dataset, its rows, errors and version blobs."""
    with hub.db.session() as s:
        delete_dataset_in(hub, s, _get(s, account_id, dataset_id))


def delete_dataset_in(hub: Hub, s: Session, ds: Dataset) -> None:
    """`delete_dataset` in the caller's transaction; the blobs go once it commits."""
    keys: list[str] = []
    made = s.execute(
        select(DatasetVersion.blob_key, DatasetVersion.stats).where(
            DatasetVersion.dataset_id == ds.id
        )
    )
    for key, stats in made:
        keys.append(key)
        changes = (stats or {}).get("changes")
        if changes:  # the diff kept beside the snapshot
            keys.append(changes["key"])
    exported = s.scalars(select(Export.files).where(Export.dataset_id == ds.id))
    keys += [f["blob_key"] for files in exported for f in files or []]
    source = ds.source_blob_key
    if source and blob_still_needed(s, source, file_id=None, dataset_id=ds.id):
        source = None  # the OpenAI file it came from still holds these bytes
    evaluations = select(Evaluation.id).where(Evaluation.dataset_id == ds.id)
    s.execute(delete(EvaluationFlag).where(EvaluationFlag.evaluation_id.in_(evaluations)))
    judged = select(CustomEval.id).where(CustomEval.dataset_id == ds.id)
    runs = select(Run.id).where(Run.dataset_id == ds.id)
    s.execute(delete(RunCall).where(RunCall.run_id.in_(runs) | RunCall.run_id.in_(judged)))
    for model in (
        Datapoint,
        DatasetRowError,
        DatasetVersion,
        PresignedUpload,
        Evaluation,
        Run,
        CustomEval,
        VersionTag,
        Export,
    ):
        s.execute(delete(model).where(model.dataset_id == ds.id))
    s.delete(ds)
    blobs = sorted({*keys, *([source] if source else [])})  # a restore shares its blob
    event.listen(s, "after_commit", lambda _s: [hub.blobs.delete(k) for k in blobs], once=True)


def list_row_errors(
    hub: Hub, account_id: str, dataset_id: str, *, after_line: int = 0, limit: int = 100
) -> tuple[list[DatasetRowError], bool]:
    check_limit(limit)
    with hub.db.session() as s:
        ds = _get(s, account_id, dataset_id)
        rows = list(
            s.scalars(
                select(DatasetRowError)
                .where(DatasetRowError.dataset_id == ds.id, DatasetRowError.line > after_line)
                .order_by(DatasetRowError.line)
                .limit(limit + 1)
            )
        )
    return rows[:limit], len(rows) > limit


def list_datapoints(
    hub: Hub, account_id: str, dataset_id: str, *, offset: int = 0, limit: int = 100
) -> tuple[list[Datapoint], int]:
    check_limit(limit)
    if offset < 0:
        raise InvalidRequest("offset must not be negative.", param="offset")
    with hub.db.session() as s:
        ds = _get(s, account_id, dataset_id)
        live = and_(Datapoint.dataset_id == ds.id, Datapoint.staled_at.is_(None))
        if ds.status != "succeeded":
            return [], 0
        total = s.scalar(select(func.count()).select_from(Datapoint).where(live)) or 0
        rows = list(
            s.scalars(
                select(Datapoint)
                .where(live)
                .order_by(Datapoint.source_line, Datapoint.id)
                .offset(offset)
                .limit(limit)
            )
        )
    return rows, total


# Appended for the Scale GP door (issue 3 item 5); any door that takes a file in the request
# body, or pages by page number, can use these too.

MAX_PAGE_NUMBER = 1_000_000_000  # keeps (page - 1) * limit inside a 64-bit SQL OFFSET


def create_from_upload(
    hub: Hub,
    caller: Principal,
    *,
    name: str,
    schema_type: str | None,
    origin: str,
    chunks: Iterable[bytes],
    filename: str | None,
) -> Dataset:
    """A dataset from a file sent in the request, queued for ingest.

    The bytes are stored and opened before the dataset row exists, so an empty or unreadable
    file, or a crash mid-upload, never leaves a visible half dataset."""
    schema = check_schema_type(schema_type)
    key = f"datasets/{caller.account_id}/incoming/{uuid7()}/source"
    limit = hub.settings.max_upload_bytes
    stored = store_stream(
        hub.blobs, key, chunks, max_bytes=limit, too_large=f"The file is larger than {limit} bytes."
    )
    ds: Dataset | None = None
    try:
        if stored.bytes == 0:
            raise InvalidRequest("The file is empty.", param="file")
        preflight(hub, key, filename, schema, None)
        ds = create_dataset(hub, caller, name=name, origin=origin, schema_type=schema)
        start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename=filename)
    except BaseException:
        if ds is not None:
            delete_dataset(hub, caller.account_id, ds.id)
        hub.blobs.delete(key)
        raise
    return get_dataset(hub, caller.account_id, ds.id)


def get_dataset_of_types(
    hub: Hub, account_id: str, dataset_id: str, schema_types: tuple[str, ...]
) -> Dataset:
    """Like get_dataset, for a door that can only show some schema types: others are unknown."""
    ds = get_dataset(hub, account_id, dataset_id)
    if ds.schema_type not in schema_types:
        raise NotFound(f"Dataset {dataset_id} not found.", param="dataset_id")
    return ds


def list_datasets_page(
    hub: Hub, account_id: str, f: DatasetFilter, *, page: int, limit: int, max_limit: int
) -> tuple[list[Dataset], int]:
    """Page `page` (from 1) of `limit` datasets, oldest first, so that new datasets land on
    later pages and a client paging forward never sees one twice; and the total count."""
    check_limit(limit, max_limit)
    if not 1 <= page <= MAX_PAGE_NUMBER:
        raise InvalidRequest(
            f"page must be between 1 and {MAX_PAGE_NUMBER}, got {page}.", param="page"
        )
    return list_datasets_offset(
        hub, account_id, f, offset=(page - 1) * limit, limit=limit, sort="created_at"
    )


def iter_ingested_datapoints(
    hub: Hub, ds: Dataset, *, page_size: int = 1000
) -> Iterator[Datapoint]:
    """Every live row of `ds` in source order, for streaming a whole dataset in flat memory.

    Nothing while the ingest is still pending or running; a failed ingest raises, now rather
    than mid-stream, with the reason it failed."""
    if ds.status == "failed":
        raise InvalidRequest(
            f"Dataset {ds.id} could not be ingested: {ds.error or 'unknown error'}",
            param="file",
            code="ingest_failed",
        )
    if ds.status != "succeeded":
        return iter(())
    return _datapoint_pages(hub, ds.id, page_size)


def _datapoint_pages(hub: Hub, dataset_id: str, page_size: int) -> Iterator[Datapoint]:
    # Ids are UUIDv7 written in file order by one ingest attempt, so id order is source order.
    where = and_(Datapoint.dataset_id == dataset_id, Datapoint.staled_at.is_(None))
    for rows in iter_datapoints(hub, where, page_size):
        yield from rows
