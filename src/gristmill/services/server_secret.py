"""The server's own secret, for what Gristmill signs: expiring links, viewer sessions and
their CSRF tokens.

The key is random, made once and kept in the blob store (`secrets/url-signing-key`), which
every server process and worker shares already. Each use signs a message that starts with
its own purpose, so a signature made for one purpose is never valid for another."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from gristmill.hub import Hub

KEY_BLOB = "secrets/url-signing-key"
_keys: dict[int, bytes] = {}


def ensure_key(hub: Hub) -> None:
    """Make the key before serving: processes that made it lazily at once could each keep
    their own."""
    _key(hub)


def _key(hub: Hub) -> bytes:
    found = _keys.get(id(hub.blobs))
    if found is None:
        if not hub.blobs.exists(KEY_BLOB):
            hub.blobs.put(KEY_BLOB, [secrets.token_bytes(32)])
        found = b"".join(hub.blobs.read(KEY_BLOB))  # what was stored, whoever stored it
        _keys[id(hub.blobs)] = found
    return found


def sign(hub: Hub, purpose: str, message: str) -> str:
    """HMAC-SHA256 (hex) of `message` for `purpose`."""
    return hmac.new(_key(hub), f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()


def verify(hub: Hub, purpose: str, message: str, signature: str) -> bool:
    """Whether `signature` is `message`'s for `purpose` (any text: a non-ASCII one is false)."""
    return hmac.compare_digest(sign(hub, purpose, message).encode(), signature.encode())
