"""What changed between two versions of a dataset: rows added, removed and changed (matched
by datapoint id), with the fields that differ, paged by datapoint id.

Each page reads both snapshots: first the ids and a hash of every other column, to find
what changed, then the full rows of the page's changed ids only.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset  # read_table's filters load it: 0.5 s, paid at start, not on a first diff
import pyarrow.parquet as pq
from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.datasets.version_tags import resolve
from gristmill.services.errors import InvalidRequest
from gristmill.store.metadata.models import DatasetVersion

COMPARED = ("kind", "function_name", "name", *versions.JSON_FIELDS)
MAX_DIFF_PAGE = 500
CHANGE_KINDS = ("added", "removed", "changed")
SEPARATOR = "\x1f"
CHANGES_GROUP = 1000  # rows per row group of a stored diff: a page reads one or two


def _fingerprints(path: Any) -> dict[str, bytes]:
    """datapoint id -> a hash of its compared columns: their stored text joined by Arrow,
    after their lengths ("n" for a null), so that no two different rows join the same."""
    out: dict[str, bytes] = {}
    for batch in pq.ParquetFile(path).iter_batches(
        batch_size=versions.BATCH, columns=["id", *COMPARED]
    ):
        parts: list[Any] = [batch.column(name).cast(pa.string()) for name in COMPARED]
        lengths = [pc.fill_null(pc.binary_length(p).cast(pa.string()), "n") for p in parts]
        joined = pc.binary_join_element_wise(
            *lengths, *parts, SEPARATOR, null_handling="replace", null_replacement=""
        ).cast(pa.binary())
        for row_id, text in zip(batch.column("id").to_pylist(), joined.to_pylist(), strict=True):
            out[str(row_id)] = hashlib.blake2b(text, digest_size=12).digest()
    return out


def _changes(old_path: Any, new_path: Any) -> dict[str, str]:
    """datapoint id -> added | removed | changed."""
    before = _fingerprints(old_path)
    after = _fingerprints(new_path)
    kinds = {i: "removed" for i in before.keys() - after.keys()}
    kinds.update({i: "added" for i in after.keys() - before.keys()})
    kinds.update({i: "changed" for i in before.keys() & after.keys() if before[i] != after[i]})
    return kinds


def _rows(path: Any, ids: list[str]) -> Iterator[dict[str, Any]]:
    if not ids:
        return
    # the range lets Parquet skip the row groups (by their id statistics) that cannot match
    wanted = (pc.field("id") >= min(ids)) & (pc.field("id") <= max(ids)) & pc.field("id").isin(ids)
    table = pq.read_table(path, filters=wanted, columns=["id", *COMPARED])
    for row in table.to_pylist():
        for f in versions.JSON_FIELDS:
            if row[f] is not None:
                row[f] = orjson.loads(row[f])
        yield row


def diff_versions(
    hub: Hub,
    account_id: str,
    dataset_id: str,
    a: str,
    b: str,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    dataset_service.check_limit(limit, MAX_DIFF_PAGE)
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        old, new = resolve(s, ds, a), resolve(s, ds, b)
    if cursor is not None and not cursor:
        raise InvalidRequest("cursor must not be empty.", param="cursor")
    stored = (new.stats or {}).get("changes") or {}
    if stored.get("from_version_id") == old.id:  # `new` was cut after `old`: diffed already
        counts = {k: stored[k] for k in CHANGE_KINDS}
        page, more = _stored_page(hub, stored["key"], cursor, limit)
    else:
        with (
            versions.local_copy(hub, old.blob_key) as old_path,
            versions.local_copy(hub, new.blob_key) as new_path,
        ):
            kinds = _changes(old_path, new_path)
        counts = _counts(kinds)
        ordered = sorted(i for i in kinds if cursor is None or i > cursor)
        page = [(i, kinds[i]) for i in ordered[:limit]]
        more = len(ordered) > limit
    changed = [i for i, kind in page if kind == "changed"]
    old_rows: dict[str, dict[str, Any]] = {}
    new_rows: dict[str, dict[str, Any]] = {}
    if changed:
        with (
            versions.local_copy(hub, old.blob_key) as old_path,
            versions.local_copy(hub, new.blob_key) as new_path,
        ):
            old_rows = {r["id"]: r for r in _rows(old_path, changed)}
            new_rows = {r["id"]: r for r in _rows(new_path, changed)}
    changes = []
    for row_id, kind in page:
        entry: dict[str, Any] = {"datapoint_id": row_id, "change": kind}
        if kind == "changed":
            o, n = old_rows[row_id], new_rows[row_id]
            entry["fields"] = {f: {"before": o[f], "after": n[f]} for f in COMPARED if o[f] != n[f]}
        changes.append(entry)
    return {
        "object": "dataset.version.diff",
        "from_version_id": old.id,
        "to_version_id": new.id,
        **counts,
        "changes": changes,
        "next_cursor": page[-1][0] if more and page else None,
    }


def _counts(kinds: dict[str, str]) -> dict[str, int]:
    found = Counter(kinds.values())
    return {k: found[k] for k in CHANGE_KINDS}


def changes_key(version: DatasetVersion) -> str:
    """Named by the version, not its snapshot: a restored version shares its snapshot."""
    return f"{version.blob_key.rsplit('/', 1)[0]}/{version.id}.changes.parquet"


def record_changes(hub: Hub, version: DatasetVersion, snapshot: Path) -> dict[str, Any] | None:
    """Diff a new version (`snapshot`: a local copy of it, which its evaluation holds
    already) against the one before it once, and keep the changed ids (sorted, in small
    row groups) beside its snapshot, so the viewer pages through a million-row diff
    without reading either snapshot whole. Returns what goes into the version's
    `stats["changes"]` (None for a dataset's first version)."""
    with hub.db.session() as s:
        parent = s.scalar(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == version.dataset_id,
                DatasetVersion.number == version.number - 1,
            )
        )
    if parent is None:
        return None
    with versions.local_copy(hub, parent.blob_key) as old_path:
        kinds = _changes(old_path, snapshot)
    ids = sorted(kinds)
    table = pa.table({"datapoint_id": ids, "change": [kinds[i] for i in ids]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=CHANGES_GROUP, compression="zstd")
    key = changes_key(version)
    hub.blobs.put(key, [sink.getvalue().to_pybytes()])
    return {"from_version_id": parent.id, "key": key, **_counts(kinds)}


def _stored_page(
    hub: Hub, key: str, cursor: str | None, limit: int
) -> tuple[list[tuple[str, str]], bool]:
    """A page of a stored diff after `cursor`, reading only the row groups it needs."""
    page: list[tuple[str, str]] = []
    with versions.local_copy(hub, key) as path:
        pf = pq.ParquetFile(path)
        for group in range(pf.num_row_groups):
            stats = pf.metadata.row_group(group).column(0).statistics
            top = stats.max if stats is not None and stats.has_min_max else None
            if cursor is not None and top is not None and top <= cursor:
                continue
            rows = pf.read_row_group(group).to_pylist()
            page.extend(
                (r["datapoint_id"], r["change"])
                for r in rows
                if cursor is None or r["datapoint_id"] > cursor
            )
            if len(page) > limit:
                break
    return page[:limit], len(page) > limit
