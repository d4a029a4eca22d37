"""Viewer sessions and CSRF tokens.

Signing in with an API key sets an HttpOnly, SameSite=Lax cookie that holds the key's
SHA-256 hash (never the key), an expiry and the server's signature of both. Every request
checks the signature and asks the store whether the key is still live, so a revoked key
ends its sessions on their next request.

Forms carry a CSRF token: the server's signature of a random per-browser seed kept in its
own cookie. A cross-site page can make a browser post a form, but it can read neither the
seed nor the token, so its post is refused."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import Depends, Request

from gristmill.api.deps import get_hub
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
    if not expires.isdigit() or int(expires) < time.time():
        return None
    if not server_secret.verify(hub, "session", body, signature):
        return None
    try:
        return authenticate_hash(hub, key_hash)
    except Unauthenticated:
        return None


def new_seed() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(hub: Hub, seed: str) -> str:
    return server_secret.sign(hub, "csrf", seed)


def check_csrf(hub: Hub, seed: str | None, token: str | None) -> None:
    if not seed or not token or not server_secret.verify(hub, "csrf", seed, token):
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
