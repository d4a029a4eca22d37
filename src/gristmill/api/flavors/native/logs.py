"""Native log routes: batch ingestion, a gateway's logs (the Cloudflare door's filters), get
one, set feedback."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep, read_body
from gristmill.api.flavors.native.auth import Caller
from gristmill.api.flavors.native.wire import LogBatch, LogIds, LogObject
from gristmill.api.wire_common import log_edits
from gristmill.services.errors import InvalidRequest, PayloadTooLarge
from gristmill.services.logs import logs as log_service
from gristmill.services.logs.queries import parse_log_query

router = APIRouter(tags=["native logs"])


def _batch(raw: bytes, limit: int) -> LogBatch:
    """Count before validating, so an oversized batch is refused before it is parsed."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}.") from None
    logs = data.get("logs") if isinstance(data, dict) else None
    if isinstance(logs, list) and len(logs) > limit:
        raise PayloadTooLarge(
            f"A batch holds at most {limit} logs, got {len(logs)}: send several.", param="logs"
        )
    try:
        return LogBatch.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


@router.post("/logs", status_code=201)
async def ingest_logs(request: Request, hub: HubDep, caller: Caller) -> LogIds:
    raw = await read_body(request, log_service.MAX_BATCH_BYTES, "The batch")
    batch = _batch(raw, hub.settings.max_log_batch)
    ids = await run_in_threadpool(
        log_service.record_logs, hub, caller.account_id, [log.entry() for log in batch.logs]
    )
    return LogIds(ids=ids)


@router.get("/logs/{log_id}")
def get_log(log_id: str, hub: HubDep, caller: Caller) -> LogObject:
    return LogObject.of(log_service.get_log(hub, caller.account_id, log_id))


@router.post("/logs/{log_id}/feedback")
def set_feedback(
    log_id: str, hub: HubDep, caller: Caller, body: dict[str, Any] = Body(...)
) -> LogObject:
    """Any of feedback (-1, 0, 1), score and metadata; null clears one."""
    changes = log_edits(body)
    return LogObject.of(log_service.edit_log(hub, caller.account_id, None, log_id, **changes))


@router.get("/gateways/{gateway_id}/logs")
def list_logs(gateway_id: str, request: Request, hub: HubDep, caller: Caller) -> dict[str, Any]:
    """Newest first by default; the query takes the Cloudflare door's vocabulary (`model`,
    `provider`, `success`, `feedback`, `search`, `filters.*`, `order_by`, `page`, `per_page`)."""
    query = parse_log_query(request.query_params.multi_items())
    rows, total = log_service.list_logs(hub, caller.account_id, gateway_id, query)
    return {
        "object": "list",
        "data": [LogObject.of(r).model_dump(mode="json") for r in rows],
        "total": total,
        "page": query.page,
        "per_page": query.per_page,
    }
