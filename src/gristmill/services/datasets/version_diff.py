"""What changed between two versions of a dataset: rows added, removed and changed (matched
by datapoint id), with the fields that differ, paged by datapoint id.

Each page reads both snapshots: first the ids and a hash of every other column, to find
what changed, then the full rows of the page's changed ids only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gristmill.hub import Hub
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.datasets.version_tags import resolve
from gristmill.services.errors import InvalidRequest

COMPARED = ("kind", "function_name", "name", *versions.JSON_FIELDS)
MAX_DIFF_PAGE = 500


def _fingerprints(path: Any) -> dict[str, bytes]:
    """datapoint id -> a hash of its compared columns."""
    out: dict[str, bytes] = {}
    for batch in pq.ParquetFile(path).iter_batches(batch_size=versions.BATCH):
        columns = {name: batch.column(name).to_pylist() for name in ("id", *COMPARED)}
        for i, row_id in enumerate(columns["id"]):
            h = hashlib.blake2b(digest_size=12)
            for name in COMPARED:
                h.update(orjson.dumps(columns[name][i]))
            out[str(row_id)] = h.digest()
    return out


def _rows(path: Any, ids: list[str]) -> Iterator[dict[str, Any]]:
    if not ids:
        return
    wanted = pc.field("id").isin(ids)
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
    with versions.local_copy(hub, old.blob_key) as old_path:
        before = _fingerprints(old_path)
        with versions.local_copy(hub, new.blob_key) as new_path:
            after = _fingerprints(new_path)
            kinds = {i: "removed" for i in before.keys() - after.keys()}
            kinds.update({i: "added" for i in after.keys() - before.keys()})
            kinds.update(
                {i: "changed" for i in before.keys() & after.keys() if before[i] != after[i]}
            )
            ordered = sorted(i for i in kinds if cursor is None or i > cursor)
            page = ordered[:limit]
            changed = [i for i in page if kinds[i] == "changed"]
            old_rows = {r["id"]: r for r in _rows(old_path, changed)}
            new_rows = {r["id"]: r for r in _rows(new_path, changed)}
    changes = []
    for row_id in page:
        entry: dict[str, Any] = {"datapoint_id": row_id, "change": kinds[row_id]}
        if kinds[row_id] == "changed":
            o, n = old_rows[row_id], new_rows[row_id]
            entry["fields"] = {f: {"before": o[f], "after": n[f]} for f in COMPARED if o[f] != n[f]}
        changes.append(entry)
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in ("added", "removed", "changed")}
    return {
        "object": "dataset.version.diff",
        "from_version_id": old.id,
        "to_version_id": new.id,
        **counts,
        "changes": changes,
        "next_cursor": page[-1] if len(ordered) > limit else None,
    }
