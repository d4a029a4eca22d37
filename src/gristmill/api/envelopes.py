"""Each door renders errors in its vendor's envelope; the app picks the door by path prefix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gristmill.services.errors import ServiceError


@dataclass(frozen=True)
class Problem:
    status: int
    message: str
    param: str | None
    code: str


Renderer = Callable[[Problem], dict[str, Any]]


def default_renderer(p: Problem) -> dict[str, Any]:
    return {"error": {"message": p.message, "code": p.code, "param": p.param}}


PageResponder = Callable[[Request, Problem], Response]


class Doors:
    """Prefix → envelope renderer; the longest matching prefix wins. The viewer's pages
    answer an error with a page, not an envelope (`register_pages`)."""

    def __init__(self) -> None:
        self._doors: list[tuple[str, Renderer]] = []
        self._pages: list[tuple[str, PageResponder]] = []

    def register_pages(self, prefix: str, responder: PageResponder) -> None:
        self._pages.append((prefix, responder))

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._doors.append((prefix, renderer))
        self._doors.sort(key=lambda d: len(d[0]), reverse=True)

    def renderer_for(self, path: str) -> Renderer:
        for prefix, renderer in self._doors:
            if path.startswith(prefix):
                return renderer
        return default_renderer

    def respond(self, request: Request, problem: Problem) -> Response:
        for prefix, responder in self._pages:
            if request.url.path == prefix or request.url.path.startswith(prefix + "/"):
                return responder(request, problem)
        body = self.renderer_for(request.url.path)(problem)
        headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
        return JSONResponse(body, status_code=problem.status, headers=headers)


def _validation_problem(exc: RequestValidationError) -> Problem:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "header")]
    param = ".".join(loc) or None
    msg = first.get("msg", "Invalid request")
    where = f" for parameter '{param}'" if param else ""
    return Problem(400, f"Invalid value{where}: {msg}.", param, "invalid_request")


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def install(app: Any, doors: Doors) -> None:
    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return doors.respond(request, Problem(exc.status, exc.message, exc.param, exc.code))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return doors.respond(request, _validation_problem(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"Unknown path: {request.method} {request.url.path}"
        return doors.respond(request, Problem(exc.status_code, message, None, code))

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
