"""AI gateways: named front doors whose model calls are logged (Cloudflare's gateway id).

A gateway's settings are kept as given (`config`); Gristmill acts on `collect_logs` only.
The logging gateway and the batch log endpoint create a gateway on its first log, as
Cloudflare creates a default gateway on first use.

The gateway row is also the lock that keeps datasets exact: whoever records logs holds it
shared, whoever creates or re-filters a dataset holds it exclusively (PostgreSQL row locks;
SQLite serialises writers anyway), so a log is never recorded between a dataset's
materialisation and its becoming visible to new logs.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gristmill.hub import Hub
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.store.metadata.models import Dataset, Gateway, InferenceLog, utcnow

GATEWAY_ID = re.compile(r"^[a-z0-9_]+(?:-[a-z0-9_]+)*$")
DEFAULT_CONFIG: dict[str, Any] = {
    "cache_invalidate_on_update": False,
    "cache_ttl": None,
    "collect_logs": True,
    "rate_limiting_interval": None,
    "rate_limiting_limit": None,
}
MAX_PAGE_NUMBER = dataset_service.MAX_PAGE_NUMBER


def check_gateway_id(gateway_id: str, param: str = "id") -> str:
    if not 1 <= len(gateway_id) <= 64 or not GATEWAY_ID.match(gateway_id):
        raise InvalidRequest(
            f"Invalid gateway id {gateway_id!r}: 1 to 64 lowercase letters, digits, '_' or "
            "single '-' between them.",
            param=param,
        )
    return gateway_id


def page_offset(page: int, per_page: int, max_per_page: int) -> int:
    """Offset of a 1-based page; both bounds checked so the SQL OFFSET stays in range."""
    if not 1 <= per_page <= max_per_page:
        raise InvalidRequest(
            f"per_page must be between 1 and {max_per_page}, got {per_page}.", param="per_page"
        )
    if not 1 <= page <= MAX_PAGE_NUMBER:
        raise InvalidRequest(
            f"page must be between 1 and {MAX_PAGE_NUMBER}, got {page}.", param="page"
        )
    return (page - 1) * per_page


def _find(s: Session, account_id: str, gateway_id: str) -> Gateway | None:
    return s.scalar(
        select(Gateway).where(Gateway.account_id == account_id, Gateway.name == gateway_id)
    )


def _get(s: Session, account_id: str, gateway_id: str) -> Gateway:
    row = _find(s, account_id, gateway_id)
    if row is None:
        raise NotFound(f"Gateway {gateway_id} not found.", param="gateway_id")
    return row


def lock_gateway(s: Session, account_id: str, gateway_id: str, *, exclusive: bool) -> Gateway:
    q = select(Gateway).where(Gateway.account_id == account_id, Gateway.name == gateway_id)
    row = s.scalar(q.with_for_update(read=not exclusive))
    if row is None:
        raise NotFound(f"Gateway {gateway_id} not found.", param="gateway_id")
    return row


def collects_logs(gateway: Gateway) -> bool:
    return bool((gateway.config or {}).get("collect_logs", True))


def create_gateway(hub: Hub, account_id: str, gateway_id: str, config: dict[str, Any]) -> Gateway:
    check_gateway_id(gateway_id)
    row = Gateway(account_id=account_id, name=gateway_id, config={**DEFAULT_CONFIG, **config})
    try:
        with hub.db.session() as s:
            s.add(row)
    except IntegrityError:
        raise Conflict(f"Gateway {gateway_id} already exists.", param="id") from None
    return row


def ensure_gateway(hub: Hub, account_id: str, gateway_id: str) -> Gateway:
    """The gateway, created with default settings if this is its first log."""
    with hub.db.session() as s:
        row = _find(s, account_id, gateway_id)
    if row is not None:
        return row
    check_gateway_id(gateway_id, param="gateway_id")
    try:
        with hub.db.session() as s:
            row = Gateway(account_id=account_id, name=gateway_id, config=dict(DEFAULT_CONFIG))
            s.add(row)
        return row
    except IntegrityError:  # created by a concurrent first call
        return get_gateway(hub, account_id, gateway_id)


def get_gateway(hub: Hub, account_id: str, gateway_id: str) -> Gateway:
    with hub.db.session() as s:
        return _get(s, account_id, gateway_id)


def list_gateways(
    hub: Hub, account_id: str, *, page: int, per_page: int, search: str | None, max_per_page: int
) -> tuple[list[Gateway], int]:
    offset = page_offset(page, per_page, max_per_page)
    q = select(Gateway).where(Gateway.account_id == account_id)
    if search:
        q = q.where(func.lower(Gateway.name).contains(search.lower(), autoescape=True))
    with hub.db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(
            s.scalars(q.order_by(Gateway.created_at, Gateway.pk).offset(offset).limit(per_page))
        )
    return rows, total


def update_gateway(hub: Hub, account_id: str, gateway_id: str, config: dict[str, Any]) -> Gateway:
    with hub.db.session() as s:
        row = _get(s, account_id, gateway_id)
        row.config = {**DEFAULT_CONFIG, **config}
        row.updated_at = utcnow()
    return row


def delete_gateway(hub: Hub, account_id: str, gateway_id: str) -> Gateway:
    """Remove the gateway with its logs and datasets, as Cloudflare does."""
    row = get_gateway(hub, account_id, gateway_id)
    with hub.db.session() as s:
        dataset_ids = list(
            s.scalars(
                select(Dataset.id).where(
                    Dataset.account_id == account_id, Dataset.gateway_id == gateway_id
                )
            )
        )
    for dataset_id in dataset_ids:
        dataset_service.delete_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        lock_gateway(s, account_id, gateway_id, exclusive=True)
        s.execute(
            delete(InferenceLog).where(
                InferenceLog.account_id == account_id, InferenceLog.gateway_id == gateway_id
            )
        )
        s.execute(delete(Gateway).where(Gateway.pk == row.pk))
    return row
