"""Viewer sessions and CSRF tokens.

Signing in with an API key sets an HttpOnly, SameSite=Lax cookie that holds the key's
SHA-256 hash (never the key), an expiry and the server's signature of both. Every request
checks the signature and asks the store whether the key is still live, so a revoked key
ends its sessions on their next request.

Forms carry a CSRF token: the server's signature of a random per-browser seed kept in its
own cookie and of the session's key hash. A cross-site page can make a browser post a form,
but it can read neither the seed nor the token, so its post is refused."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import Depends, Request

from gristmill.api.deps import get_hub
from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.services import server_secret
from gristmill.services.accounts import Principal, authenticate_hash
from gristmill.services.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "gm_session"
CSRF_COOKIE = "gm_csrf"


class SignInRequired(Exception):
    """No live session: the viewer answers with the sign-in page."""


def session_value(hub: Hub, key_hash: str) -> str:
    expires = int(time.time() + hub.settings.viewer_session_hours * 3600)
    body = f"{key_hash}.{expires}"
    return f"{body}.{server_secret.sign(hub, 'session', body)}"


def principal_of(hub: Hub, value: str | None) -> Principal | None:
    """The session's caller, or None when it is forged, expired or its key is revoked."""
    if not value or value.count(".") != 2:
        return None
    key_hash, expires, signature = value.split(".")
    body = f"{key_hash}.{expires}"
    until = decimal(expires)
    if until is None or until < time.time():
        return None
    if not server_secret.verify(hub, "session", body, signature):
        return None
    try:
        return authenticate_hash(hub, key_hash)
    except Unauthenticated:
        return None


def new_seed() -> str:
    return secrets.token_urlsafe(24)


def _session_of(request: Request) -> str:
    """The key hash the request's session names (checked where the session is used)."""
    return (request.cookies.get(SESSION_COOKIE) or "").split(".", 1)[0]


def csrf_token(request: Request, seed: str) -> str:
    """A form's token: bound to the browser's seed and to who is signed in, so a token
    fetched by someone else (with a session of their own, or none) is no good here."""
    return server_secret.sign(get_hub(request), "csrf", f"{seed}.{_session_of(request)}")


def check_csrf(request: Request, token: str | None) -> None:
    seed = request.cookies.get(CSRF_COOKIE)
    message = f"{seed}.{_session_of(request)}"
    if not seed or not token or not server_secret.verify(get_hub(request), "csrf", message, token):
        raise Forbidden(
            "This form has expired or came from another site; reload the page and try again.",
            param="csrf",
            code="csrf_failed",
        )


def _viewer(request: Request) -> Principal:
    found = principal_of(get_hub(request), request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise SignInRequired
    return found


Viewer = Annotated[Principal, Depends(_viewer)]
