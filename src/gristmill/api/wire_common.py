"""Small wire helpers more than one flavor uses."""

from __future__ import annotations

from typing import Any

# The fields of a log that a feedback edit may set (null clears one).
LOG_EDIT_FIELDS = ("feedback", "score", "metadata")


def log_edits(body: dict[str, Any]) -> dict[str, Any]:
    """The log edits a request body asks for: only the fields it names, nulls kept."""
    return {k: body[k] for k in LOG_EDIT_FIELDS if k in body}
