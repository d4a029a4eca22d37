"""Links that work without an API key until they expire: export files, served by the S3 store
when it can sign (its own presigned GET), else by Gristmill under `/native/v1/signed/…`.

Gristmill's own links carry an HMAC-SHA256 of the path and the expiry, signed with the
server's secret (`server_secret`); a link fails as soon as its time is up or its path is
altered."""

from __future__ import annotations

import time
from urllib.parse import quote

from gristmill.decimals import decimal
from gristmill.hub import Hub
from gristmill.services import server_secret
from gristmill.services.errors import Forbidden

PREFIX = "/native/v1/signed/"  # the native door serves these


PURPOSE = "link"


def _signed(path: str, expires: int) -> str:
    return f"{path}\n{expires}"


def signed_url(hub: Hub, base_url: str, key: str, path: str, filename: str) -> str:
    """A link to the blob at `key`; `path` is Gristmill's own route for it, under PREFIX."""
    ttl = hub.settings.export_url_expiry_seconds
    url = hub.blobs.presigned_get_url(key, ttl, filename)
    if url is not None:
        return url
    expires = int(time.time()) + ttl
    quoted = quote(path)
    base = (hub.settings.public_base_url or base_url).rstrip("/")
    signature = server_secret.sign(hub, PURPOSE, _signed(path, expires))
    return f"{base}{PREFIX}{quoted}?expires={expires}&signature={signature}"


def check(hub: Hub, path: str, expires: str | None, signature: str | None) -> None:
    """A signed link's path, expiry and signature, or a 403 that says which is wrong."""
    until = decimal(expires)
    if until is None or not signature:
        raise Forbidden("This link is not signed.", code="signature_missing")
    if until < time.time():
        raise Forbidden("This link has expired; ask for a new one.", code="link_expired")
    if not server_secret.verify(hub, PURPOSE, _signed(path, until), signature):
        raise Forbidden("This link's signature does not match.", code="signature_invalid")
