"""The row browser, a row's own page and the diff of two versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gristmill.api.deps import HubDep
from gristmill.pipeline.checks import CHECK_NAMES
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import row_browser, version_diff, version_history
from gristmill.web import display
from gristmill.web.render import page
from gristmill.web.session import Viewer

router = APIRouter(include_in_schema=False)
KINDS = ("chat", "generation", "preference", "json", "reranking_questions")
DIFF_PAGE = 50


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/datasets/{dataset_id}/rows")
def rows_page(
    request: Request,
    dataset_id: str,
    hub: HubDep,
    viewer: Viewer,
    q: str | None = None,
    flag: str | None = None,
    tag: str | None = None,
    function: str | None = None,
    kind: str | None = None,
    after: str | None = None,
) -> HTMLResponse:
    query = row_browser.RowQuery(
        search=_blank(q),
        flag=_blank(flag),
        tag=_blank(tag),
        function=_blank(function),
        kind=_blank(kind),
        after=_blank(after),
        window=hub.settings.viewer_search_window,
    )
    found = row_browser.browse_rows(hub, viewer.account_id, dataset_id, query)
    return page(
        request,
        "rows.html",
        viewer=viewer,
        ds=found.dataset,
        query=query,
        found=found,
        views={r.id: display.row_view(r) for r in found.rows},
        checks=CHECK_NAMES,
        kinds=KINDS,
        window=query.window,
    )


@router.get("/datasets/{dataset_id}/rows/{row_id}")
def row_page(
    request: Request, dataset_id: str, row_id: str, hub: HubDep, viewer: Viewer
) -> HTMLResponse:
    ds, row, flags = row_browser.get_row(hub, viewer.account_id, dataset_id, row_id)
    return page(
        request,
        "row.html",
        viewer=viewer,
        ds=ds,
        row=row,
        flags=flags,
        view=display.row_view(row, display.ROW_LIMIT),
    )


@router.get("/datasets/{dataset_id}/diff")
def diff_page(
    request: Request,
    dataset_id: str,
    hub: HubDep,
    viewer: Viewer,
    a: str | None = None,
    b: str = "main",
    cursor: str | None = None,
) -> HTMLResponse:
    ds = dataset_service.get_dataset(hub, viewer.account_id, dataset_id)
    found, _ = version_history.list_versions(
        hub, viewer.account_id, dataset_id, cursor=None, limit=100
    )
    if a is None:  # the version before `b`, when there is one
        with_b = version_history.get_version(hub, viewer.account_id, dataset_id, b)
        before = [v for v in found if v["number"] < with_b["number"]]
        a = before[0]["id"] if before else with_b["id"]
    diff = version_diff.diff_versions(
        hub, viewer.account_id, dataset_id, a, b, cursor=_blank(cursor), limit=DIFF_PAGE
    )
    words = {
        c["datapoint_id"]: {
            name: display.word_diff(change["before"], change["after"])
            for name, change in c.get("fields", {}).items()
        }
        for c in diff["changes"]
    }
    return page(
        request,
        "diff.html",
        viewer=viewer,
        ds=ds,
        diff=diff,
        words=words,
        versions=found,
        a=a,
        b=b,
        b_is_head=diff["to_version_id"] == ds.head_version_id,
    )
