"""A gateway's logs with the Cloudflare dataset filters, and "make a dataset from this
filter": the page's filters are Cloudflare dataset filters, so the dataset made from them
holds exactly the logs listed (and the logs that match later)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import HubDep, get_hub
from gristmill.decimals import decimal
from gristmill.services.logs import gateways, log_datasets, logs
from gristmill.services.logs.filters import key_type, parse_filters, typed_value
from gristmill.services.logs.queries import LogQuery
from gristmill.web.render import page
from gristmill.web.session import Viewer, check_csrf

router = APIRouter(include_in_schema=False)
PER_PAGE = 50

# form field -> (filter key, operator)
FIELDS = {
    "model": ("model", "eq"),
    "provider": ("provider", "eq"),
    "success": ("success", "eq"),
    "feedback": ("feedback", "eq"),
    "cost_above": ("cost", "gt"),
    "cost_below": ("cost", "lt"),
    "tokens_above": ("tokens", "gt"),
    "tokens_below": ("tokens", "lt"),
}


def filters_of(form: dict[str, str]) -> list[dict[str, Any]]:
    """The Cloudflare dataset filters, typed, that a filter form asks for (empty: none)."""
    out = []
    for field, (key, operator) in FIELDS.items():
        text = (form.get(field) or "").strip()
        if text:
            value = typed_value(key_type(key), text, True, field)  # a 400 naming the field
            out.append({"key": key, "operator": operator, "value": [value]})
    return out


@router.get("/logs")
def gateways_page(request: Request, hub: HubDep, viewer: Viewer) -> HTMLResponse:
    found, _ = gateways.list_gateways(
        hub, viewer.account_id, page=1, per_page=100, search=None, max_per_page=100
    )
    return page(request, "gateways.html", viewer=viewer, gateways=found)


@router.get("/logs/{gateway_id}")
def logs_page(request: Request, gateway_id: str, hub: HubDep, viewer: Viewer) -> HTMLResponse:
    form = {k: v for k, v in request.query_params.items() if k in FIELDS}
    current = decimal(request.query_params.get("page"), 9) or 1
    query = LogQuery(
        filters=parse_filters(filters_of(form)),
        page=current,
        per_page=PER_PAGE,
    )
    found, total = logs.list_logs(hub, viewer.account_id, gateway_id, query)
    return page(
        request,
        "logs.html",
        viewer=viewer,
        gateway=gateways.get_gateway(hub, viewer.account_id, gateway_id),
        logs=found,
        total=total,
        page_number=current,
        pages=max(1, -(-total // PER_PAGE)),
        form=form,
    )


@router.post("/logs/{gateway_id}/datasets")
async def make_dataset(
    request: Request,
    gateway_id: str,
    viewer: Viewer,
    name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    hub = get_hub(request)
    check_csrf(request, csrf)
    form = {k: str(v) for k, v in (await request.form()).items() if k in FIELDS}
    spec = log_datasets.DatasetSpec(name=name.strip(), enable=True, filters=filters_of(form))
    ds = await run_in_threadpool(log_datasets.create_log_dataset, hub, viewer, gateway_id, spec)
    return RedirectResponse(f"/ui/datasets/{ds.id}", status_code=303)
