"""A dataset's runs and one run: recipe, progress, cost, estimate against actual, the
grade of the version it read and of the version it made."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gristmill.api.deps import HubDep
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.quality import reports
from gristmill.services.runs import runs
from gristmill.web.render import page
from gristmill.web.session import Viewer

router = APIRouter(include_in_schema=False)


@router.get("/datasets/{dataset_id}/runs")
def runs_page(request: Request, dataset_id: str, hub: HubDep, viewer: Viewer) -> HTMLResponse:
    ds = dataset_service.get_dataset(hub, viewer.account_id, dataset_id)
    found = runs.list_runs(hub, viewer.account_id, dataset_id)
    return page(request, "runs.html", viewer=viewer, ds=ds, runs=[runs.run_view(r) for r in found])


@router.get("/datasets/{dataset_id}/runs/{run_id}")
def run_page(
    request: Request, dataset_id: str, run_id: str, hub: HubDep, viewer: Viewer
) -> HTMLResponse:
    ds = dataset_service.get_dataset(hub, viewer.account_id, dataset_id)
    run = runs.get_dataset_run(hub, viewer.account_id, dataset_id, run_id)
    grades = reports.evaluations_of(
        hub, viewer.account_id, [run.source_version_id, run.result_version_id or ""]
    )
    return page(
        request,
        "run.html",
        viewer=viewer,
        ds=ds,
        run=runs.run_view(run),
        before=grades.get(run.source_version_id),
        after=grades.get(run.result_version_id or ""),
        result_is_head=run.result_version_id is not None
        and run.result_version_id == ds.head_version_id,
    )
