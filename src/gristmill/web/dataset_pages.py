"""The datasets list and a dataset's page: versions, grade card, histograms, flagged rows
by check and the work in progress (polled by the page as JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gristmill.api.deps import HubDep
from gristmill.services.datasets import activity, version_history
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.quality import reports
from gristmill.web import display
from gristmill.web.render import page
from gristmill.web.session import Viewer

router = APIRouter(include_in_schema=False)
PAGE = 25
STATUSES = ("pending", "running", "succeeded", "failed")


@router.get("/datasets")
def datasets_page(
    request: Request,
    hub: HubDep,
    viewer: Viewer,
    q: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    q, status = (q or "").strip() or None, status or None
    found, next_cursor = dataset_service.list_datasets_cursor(
        hub,
        viewer.account_id,
        dataset_service.DatasetFilter(q=q, status=status),
        cursor=cursor or None,
        limit=PAGE,
        sort="-updated_at",
    )
    return page(
        request,
        "datasets.html",
        viewer=viewer,
        datasets=found,
        next_cursor=next_cursor,
        q=q or "",
        status=status or "",
        statuses=STATUSES,
    )


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, hub: HubDep, viewer: Viewer) -> HTMLResponse:
    ds = dataset_service.get_dataset(hub, viewer.account_id, dataset_id)
    report = reports.dataset_report(hub, viewer.account_id, dataset_id)
    found, more = version_history.list_versions(
        hub, viewer.account_id, dataset_id, cursor=None, limit=20
    )
    stats: dict[str, Any] = report.get("stats") or {}
    return page(
        request,
        "dataset.html",
        viewer=viewer,
        ds=ds,
        report=report,
        versions=found,
        more_versions=more is not None,
        token_bars=display.histogram(stats, "tokens_"),
        turn_bars=display.histogram(stats, "turns_"),
        activity=activity.dataset_activity(hub, viewer.account_id, dataset_id),
    )


@router.get("/datasets/{dataset_id}/activity")
def dataset_activity(dataset_id: str, hub: HubDep, viewer: Viewer) -> dict[str, Any]:
    """The page's live progress: the work not yet finished, as JSON."""
    going = activity.dataset_activity(hub, viewer.account_id, dataset_id)
    return {"dataset_id": dataset_id, "activity": [a.view() for a in going]}
