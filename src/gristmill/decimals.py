"""Whole numbers read from text a caller sent (a cursor, an expiry, a length, a page).

`str.isdigit()` is true for "²" and "٣", which `int()` then refuses or reads as another
number, and a long enough run of digits overflows a 64-bit SQL integer: every such value
goes through here, and what is not a plain ASCII decimal reads as None."""

from __future__ import annotations

MAX_DIGITS = 18  # fits a signed 64-bit integer


def decimal(text: str | None, max_digits: int = MAX_DIGITS) -> int | None:
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
