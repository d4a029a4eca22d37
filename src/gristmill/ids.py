"""Identifier helpers: vendor-style prefixed ids and time-ordered UUIDv7s."""

from __future__ import annotations

import os
import secrets
import string
import threading
import time
import uuid

_ALPHABET = string.ascii_letters + string.digits


def prefixed(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


_last_ms = 0
_counter = 0
_lock = threading.Lock()


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7, monotonic within this process (a counter in rand_a), so ids sort in
    the order rows were made."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms, _counter = ms, 0
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
