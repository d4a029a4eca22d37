"""Pages from Jinja2 templates, autoescaped, with headers that keep a page to itself:
a Content-Security-Policy that runs only the viewer's own script file (so markup that
slipped past escaping still could not run a script), no framing, no sniffing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gristmill.api.deps import get_hub
from gristmill.services.datasets.row_browser import COUNT_CAP
from gristmill.web import display
from gristmill.web.session import CSRF_COOKIE, csrf_token, new_seed

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—" if value is None else str(value)


def capped(value: int | None, is_capped: bool = False) -> str:
    if value is None:
        return "—"
    return f"{COUNT_CAP:,}+" if is_capped else f"{value:,}"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(number=number, capped=capped, when=when, money=money, pretty=display.pretty)
env.globals.update(display=display)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page; a browser without a CSRF seed gets one with it."""
    seed = request.cookies.get(CSRF_COOKIE)
    fresh = seed is None
    if seed is None:
        seed = new_seed()
    context.setdefault("viewer", None)
    body = env.get_template(template).render(
        request=request, csrf=csrf_token(request, seed), **context
    )
    response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
    if fresh:
        set_cookie(response, CSRF_COOKIE, seed, request)
    return response


def set_cookie(response: Any, name: str, value: str, request: Request) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(get_hub(request).settings.viewer_session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/ui",
    )
