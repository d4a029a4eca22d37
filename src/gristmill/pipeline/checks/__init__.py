"""The quality checks, by API name. `default_checks()` is what every evaluation runs."""

from __future__ import annotations

from gristmill.pipeline.base import Check
from gristmill.pipeline.checks.duplicates import ExactDuplicate, NearDuplicate
from gristmill.pipeline.checks.language import LanguageMismatch
from gristmill.pipeline.checks.pii import Pii
from gristmill.pipeline.checks.repetition import Repetition
from gristmill.pipeline.checks.responses import (
    EmptyResponse,
    IdenticalPreference,
    Mojibake,
    Refusal,
)
from gristmill.pipeline.checks.too_long import TooLong


def default_checks(max_example_tokens: int) -> list[Check]:
    return [
        ExactDuplicate(),
        NearDuplicate(),
        Pii(),
        TooLong(max_example_tokens),
        EmptyResponse(),
        Refusal(),
        Repetition(),
        LanguageMismatch(),
        Mojibake(),
        IdenticalPreference(),
    ]


# Every check's name, `format` (ingest's rejections, scored with the others) first.
CHECK_NAMES = ("format", *(c.name for c in default_checks(1)))

__all__ = ["CHECK_NAMES", "default_checks"]
