"""Log datasets (Cloudflare AI Gateway datasets): a gateway's logs selected by filters.

They are ordinary datasets (origin "cloudflare", schema chat) whose rows `log_rows` keeps in
step with the filters, so the native and TensorZero doors read them like any other. Creating
one queues a job that materialises its existing matching logs (`log_dataset_job`); an update
is a full replace of name, filters and enable (re-syncing the rows, by a job, when enabled).
Filters are stored as sent, after validation (`log_filters`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.accounts import Principal
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import InvalidRequest, NotFound
from gristmill.services.logs import gateways, log_dataset_job
from gristmill.services.logs.filters import parse_filters
from gristmill.store.metadata.models import Dataset, utcnow

ORIGIN = "cloudflare"
MAX_NAME = 300
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class DatasetSpec:
    """What a create or a full-replace update sets."""

    name: str
    enable: bool
    filters: Any  # the wire list, validated by `check`

    def check(self) -> list[dict[str, Any]]:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidRequest("name must not be empty.", param="name")
        if len(self.name) > MAX_NAME:
            raise InvalidRequest(f"name is longer than {MAX_NAME} characters.", param="name")
        parse_filters(self.filters)  # raises a 400 naming the bad key, operator or value
        return [
            {"key": f["key"], "operator": f["operator"], "value": f["value"]} for f in self.filters
        ]


def _get(s: Session, account_id: str, gateway_id: str, dataset_id: str) -> Dataset:
    row = s.scalar(
        select(Dataset).where(
            Dataset.id == dataset_id,
            Dataset.account_id == account_id,
            Dataset.gateway_id == gateway_id,
        )
    )
    if row is None:
        raise NotFound(f"Dataset {dataset_id} not found.", param="id")
    return row


def create_log_dataset(hub: Hub, caller: Principal, gateway_id: str, spec: DatasetSpec) -> Dataset:
    """The dataset, at once; a job fills it with the logs that match (`log_dataset_job`)."""
    filters = spec.check()
    with hub.db.session() as s:
        gateways.lock_gateway(s, caller.account_id, gateway_id, exclusive=True)
        ds = Dataset(
            id=prefixed("ds_"),
            account_id=caller.account_id,
            name=spec.name,
            origin=ORIGIN,
            schema_type="chat",
            data_source="AIGatewayLogs",
            created_by_identity_id=caller.identity_id,
            created_by_identity_type=caller.identity_kind,
            gateway_id=gateway_id,
            filters=filters,
            enable=spec.enable,
        )
        s.add(ds)
        log_dataset_job.queue_sync(hub, s, ds)
        s.flush()
        s.refresh(ds)
    return ds


def get_log_dataset(hub: Hub, account_id: str, gateway_id: str, dataset_id: str) -> Dataset:
    with hub.db.session() as s:
        return _get(s, account_id, gateway_id, dataset_id)


def update_log_dataset(
    hub: Hub, account_id: str, gateway_id: str, dataset_id: str, spec: DatasetSpec
) -> Dataset:
    filters = spec.check()
    with hub.db.session() as s:
        gateways.lock_gateway(s, account_id, gateway_id, exclusive=True)
        ds = _get(s, account_id, gateway_id, dataset_id)
        ds.name, ds.filters, ds.enable, ds.updated_at = spec.name, filters, spec.enable, utcnow()
        if ds.enable:  # a disabled dataset stays frozen
            log_dataset_job.queue_sync(hub, s, ds)
        s.flush()
        s.refresh(ds)
    return ds


def list_log_datasets(
    hub: Hub,
    account_id: str,
    gateway_id: str,
    *,
    page: int,
    per_page: int,
    enable: bool | None = None,
    name: str | None = None,
    search: str | None = None,
) -> tuple[list[Dataset], int]:
    """Oldest first, so a client paging forward never sees a dataset twice; `name` is an
    exact match, `search` a case-insensitive match on id, name or filters."""
    offset = gateways.page_offset(page, per_page, MAX_PER_PAGE)
    gateways.get_gateway(hub, account_id, gateway_id)
    q = select(Dataset).where(Dataset.account_id == account_id, Dataset.gateway_id == gateway_id)
    if enable is not None:
        q = q.where(Dataset.enable.is_(enable))
    if name is not None:
        q = q.where(Dataset.name == name)
    if search:
        like = search.lower()
        q = q.where(
            or_(
                Dataset.id == search,
                func.lower(Dataset.name).contains(like, autoescape=True),
                func.lower(cast(Dataset.filters, String)).contains(like, autoescape=True),
            )
        )
    with hub.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(
            s.scalars(q.order_by(Dataset.created_at, Dataset.id).offset(offset).limit(per_page))
        )
    return rows, total


def delete_log_dataset(hub: Hub, account_id: str, gateway_id: str, dataset_id: str) -> Dataset:
    with hub.db.session() as s:
        # under the gateway's lock, so that no page of a running sync writes rows after this
        gateways.lock_gateway(s, account_id, gateway_id, exclusive=True)
        ds = _get(s, account_id, gateway_id, dataset_id)
        dataset_service.delete_dataset_in(hub, s, ds)
    return ds
