"""Identifier helpers: vendor-style prefixed ids and time-ordered UUIDv7s."""

from __future__ import annotations

import os
import secrets
import string
import time
import uuid

_ALPHABET = string.ascii_letters + string.digits


def prefixed(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit millisecond timestamp, then random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
