"""Checks on the response alone: empty, a refusal, mojibake, and chosen == rejected."""

from __future__ import annotations

import re
from typing import Any

import ftfy
import orjson

from gristmill.pipeline.base import Check, CheckOutput, Flag, matching_rows
from gristmill.pipeline.text import TextBatch


class EmptyResponse(Check):
    """The assistant turn, completion, chosen answer or output is empty or blank. A
    response that is a tool call is not empty."""

    name = "empty_response"
    describe = "have an empty response"

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        for i, row in enumerate(texts.rows):
            if row.response_field is None:
                continue
            out.rows_checked += 1
            if not row.response.strip() and not row.tool_call:
                out.flags.append(Flag.of_row(texts, i, f"the {row.response_field} is empty"))
                out.kinds[row.response_field] += 1
        return out


# Refusals and AI boilerplate, as they open a response. Matched case-insensitively within
# the first `REFUSAL_WINDOW` characters, so a long answer that quotes one is not flagged.
REFUSAL_PATTERNS = [
    r"i(?:'| a)?m (?:so |very |really )?sorry,? (?:but )?i (?:can'?t|cannot|am unable|won't)",
    r"i apologi[sz]e,? (?:but )?i (?:can'?t|cannot|am unable|won't)",
    r"i (?:can'?t|cannot|won't|am unable to|'m unable to|am not able to) "
    r"(?:help|assist|comply|fulfil|provide|do that|answer|create|generate|engage)",
    r"as an ai(?: language model| assistant| model)?,",
    r"as an ai language model",
    r"as a large language model",
    r"i'm (?:just )?an ai(?: language model)?(?:,| and| so)",
    r"i must (?:respectfully )?(?:decline|refuse)",
    r"(?:this|that|your) request (?:goes against|violates) (?:my|the) (?:guidelines|policies)",
]
REFUSAL_WINDOW = 300
_REFUSAL_RE2 = "|".join(f"(?:{p})" for p in REFUSAL_PATTERNS)
_REFUSAL = re.compile(_REFUSAL_RE2, re.IGNORECASE)
# Where ftfy could find mojibake of the usual kind (UTF-8 read as Latin-1 or Windows-1252):
# a lead byte's character followed by a continuation byte's; only such rows are given to ftfy.
_MOJIBAKE_RE2 = (
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)


def refusal_phrase(text: str) -> str | None:
    """The refusal or boilerplate phrase that opens `text`, if one does."""
    found = _REFUSAL.search(text[:REFUSAL_WINDOW].replace("\u2019", "'"))
    return found.group(0) if found else None


class Refusal(Check):
    name = "refusal"
    describe = "are refusals or AI boilerplate"

    def params(self) -> dict[str, Any]:
        return {"window_chars": REFUSAL_WINDOW}

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        # typographic apostrophes read as plain ones
        openings = [r.response[:REFUSAL_WINDOW].replace("\u2019", "'") for r in texts.rows]
        candidates = set(matching_rows(openings, _REFUSAL_RE2, ignore_case=True))
        for i, row in enumerate(texts.rows):
            if row.response_field is None or not row.response.strip():
                continue
            out.rows_checked += 1
            found = _REFUSAL.search(openings[i]) if i in candidates else None
            if found:
                phrase = found.group(0)
                out.flags.append(Flag.of_row(texts, i, f'the response says "{phrase}"'))
                out.kinds[phrase.lower()] += 1
        return out


class Mojibake(Check):
    """Text that ftfy can repair: UTF-8 read as Latin-1 or Windows-1252 ("cafÃ©"). Rows
    with no character pair of that kind (RE2, batch-wise) are not given to ftfy."""

    name = "mojibake"
    describe = "hold mojibake (mis-decoded text)"

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput(rows_checked=len(texts))
        candidates = matching_rows(texts.full_text_array, _MOJIBAKE_RE2)
        for i in candidates:
            row = texts.rows[i]
            for field, text in (("prompt", row.prompt), ("response", row.response)):
                # is_bad is ftfy's own detector, quiet on clean text
                if text and ftfy.badness.is_bad(text):
                    fixed = ftfy.fix_text(text)
                    if fixed != text:
                        out.flags.append(Flag.of_row(texts, i, f"the {field} holds mojibake"))
                        out.kinds[field] += 1
                        break
        return out


class IdenticalPreference(Check):
    """A preference row whose chosen and rejected answers are the same teaches nothing."""

    name = "identical_preference"
    describe = "have the same chosen and rejected answer"

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        for i, kind in enumerate(texts.kinds):
            if kind != "preference":
                continue
            out.rows_checked += 1
            pair = texts.outputs[i] if isinstance(texts.outputs[i], dict) else {}
            chosen, rejected = pair.get("preferred_output"), pair.get("non_preferred_output")
            if chosen is not None and _same(chosen, rejected):
                out.flags.append(
                    Flag.of_row(texts, i, "the chosen and rejected answers are identical")
                )
                out.kinds["identical"] += 1
        return out


def _same(a: Any, b: Any) -> bool:
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b, option=orjson.OPT_SORT_KEYS
    )
