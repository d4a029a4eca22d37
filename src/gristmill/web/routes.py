"""Mount the viewer at `/ui` (and `/` → `/ui/datasets`): sign-in, sign-out, the static
assets, the HTML error pages, and each domain's pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import get_hub
from gristmill.api.envelopes import Doors, Problem
from gristmill.services.accounts import authenticate, hash_key
from gristmill.services.errors import Unauthenticated
from gristmill.web import dataset_pages, log_pages, row_pages, run_pages
from gristmill.web.render import HERE, page, set_cookie
from gristmill.web.session import (
    SESSION_COOKIE,
    SignInRequired,
    check_csrf,
    session_value,
)

PREFIX = "/ui"
router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path of the viewer itself: `next` must never send a user to another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith(PREFIX + "//"):
        return target
    return PREFIX + "/datasets"


@router.get(PREFIX + "/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return page(request, "sign_in.html", next=_safe_next(next), error=None)


@router.post(PREFIX + "/sign-in")
async def sign_in(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    hub = get_hub(request)
    check_csrf(request, csrf)
    key = api_key.strip()
    try:
        await run_in_threadpool(authenticate, hub, key or None)
    except Unauthenticated as exc:
        return page(request, "sign_in.html", 401, next=_safe_next(next), error=exc.message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(response, SESSION_COOKIE, session_value(hub, hash_key(key)), request)
    return response


@router.post(PREFIX + "/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse(PREFIX + "/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/")
@router.get(PREFIX)
@router.get(PREFIX + "/")
def home() -> Response:
    return RedirectResponse(PREFIX + "/datasets", status_code=303)


def _error_page(request: Request, problem: Problem) -> Response:
    if problem.status == 401:
        return _to_sign_in(request)
    # the navigation only needs to know a session may exist: no store read on the event loop
    signed_in = SESSION_COOKIE in request.cookies
    return page(request, "error.html", problem.status, problem=problem, viewer=signed_in)


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303)


def mount(app: FastAPI, doors: Doors) -> None:
    app.include_router(router)
    for module in (dataset_pages, row_pages, run_pages, log_pages):
        app.include_router(module.router, prefix=PREFIX)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="viewer-static")
    doors.register_pages(PREFIX, _error_page)

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        return _to_sign_in(request)

    app.add_exception_handler(SignInRequired, on_sign_in_required)
