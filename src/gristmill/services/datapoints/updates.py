"""Updating datapoints, TensorZero style: an update writes a new datapoint under a new id and
stales the old one; a metadata update (the name) changes the datapoint in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import uuid7
from gristmill.services.accounts import Principal
from gristmill.services.datapoints import checks
from gristmill.services.datapoints.datapoints import (
    ID_BATCH,
    batches,
    check_count,
    count_rows,
    existing_dataset,
    insert_rows,
    stale_rows,
    writable,
)
from gristmill.services.datapoints.shapes import (
    stored_chat_output,
    stored_input,
    stored_tool_params,
)
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.store.metadata.models import Datapoint, Dataset, utcnow


@dataclass(frozen=True)
class DatapointChange:
    """An update: only the keys in `fields` change; a None value clears that field."""

    id: Any
    kind: str
    fields: dict[str, Any]


def _changed_row(old: Datapoint, change: DatapointChange, where: str) -> dict[str, Any]:
    """The new version of `old`: a copy under a new id with `change.fields` applied."""
    f = change.fields
    row = {c.key: getattr(old, c.key) for c in Datapoint.__table__.columns}
    row.update(id=str(uuid7()), is_custom=True, staled_at=None, job_id=None)
    if "input" in f:
        row["input"] = stored_input(checks.check_input(f["input"], f"{where}.input"))
    if "tags" in f:
        row["tags"] = checks.check_tags(f["tags"], f"{where}.tags") or None
    if "name" in f:
        row["name"] = checks.check_text(f["name"], f"{where}.name", optional=True)
    if old.kind == "chat":
        if "output" in f:
            row["output"] = stored_chat_output(
                checks.check_chat_output(f["output"], f"{where}.output")
            )
        params = dict(old.tool_params or {})
        for key in checks.TOOL_FIELDS:
            if key in f:
                params[key] = checks.check_tool_field(key, f[key], where)
        row["tool_params"] = stored_tool_params(params)
    else:
        if "output" in f:
            row["output"] = f["output"]
        if "output_schema" in f:
            row["output_schema"] = f["output_schema"]
        checks.check_json_output(
            row["output"], row["output_schema"], f"{where}.output", f"{where}.output_schema"
        )
    return row


def _live_datapoints(
    s: Session, ds: Dataset, ids: list[str], param: str = "datapoints"
) -> dict[str, Datapoint]:
    if len(set(ids)) != len(ids):
        raise InvalidRequest("A request may name each datapoint only once.", param=param)
    rows: dict[str, Datapoint] = {}
    for batch in batches(ids, ID_BATCH):
        q = select(Datapoint).where(Datapoint.dataset_id == ds.id, Datapoint.id.in_(batch))
        rows.update((dp.id, dp) for dp in s.scalars(q))
    for i, dp_id in enumerate(ids):
        dp = rows.get(dp_id)
        if dp is None or dp.kind not in checks.KINDS:
            raise NotFound(
                f"Datapoint {dp_id} not found in dataset {ds.name!r}.", param=f"{param}[{i}].id"
            )
        if dp.staled_at is not None:
            raise InvalidRequest(
                f"Datapoint {dp_id} is stale (deleted or replaced by an update); only live "
                "datapoints can be changed.",
                param=f"{param}[{i}].id",
            )
    return rows


def update_datapoints(
    hub: Hub, caller: Principal, dataset_name: str, changes: Sequence[DatapointChange]
) -> list[str]:
    """Each change writes a new datapoint and stales the old one; returns the new ids."""
    check_count(len(changes))
    ids = [checks.check_uuid(c.id, f"datapoints[{i}].id") for i, c in enumerate(changes)]
    with hub.db.session() as s:
        ds = writable(existing_dataset(s, caller.account_id, dataset_name))
        old = _live_datapoints(s, ds, ids)
        rows = []
        for i, (dp_id, change) in enumerate(zip(ids, changes, strict=True)):
            if change.kind != old[dp_id].kind:
                raise InvalidRequest(
                    f"datapoints[{i}] is a {change.kind} update, but datapoint {dp_id} is a "
                    f"{old[dp_id].kind} datapoint.",
                    param=f"datapoints[{i}].type",
                )
            rows.append(_changed_row(old[dp_id], change, f"datapoints[{i}]"))
        # the stale must win for every id, or a concurrent update got there first
        if stale_rows(s, ds, ids) != len(ids):
            raise Conflict("A datapoint was changed by another request; retry.", param="datapoints")
        insert_rows(s, ds, rows)
        count_rows(s, ds.id, -len(ids))
    return [r["id"] for r in rows]


def update_names(
    hub: Hub, caller: Principal, dataset_name: str, names: Sequence[tuple[Any, bool, Any]]
) -> list[str]:
    """Metadata updates in place: (id, whether the name is given, the name or None)."""
    check_count(len(names))
    ids = [checks.check_uuid(n[0], f"datapoints[{i}].id") for i, n in enumerate(names)]
    with hub.db.session() as s:
        ds = writable(existing_dataset(s, caller.account_id, dataset_name))
        rows = _live_datapoints(s, ds, ids)
        now = utcnow()
        for i, (dp_id, (_, given, name)) in enumerate(zip(ids, names, strict=True)):
            if given:
                rows[dp_id].name = checks.check_text(name, f"datapoints[{i}].name", optional=True)
            rows[dp_id].updated_at = now
    return ids
