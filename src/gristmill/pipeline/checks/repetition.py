"""Degenerate repetition in a response (a model stuck in a loop), with two of Gopher's
measures (Rae et al. 2021, as in datatrove's GopherRepetitionFilter): the fraction of
duplicate lines, and the share of characters in duplicated 5- and 10-grams.

Gopher tuned its limits (0.15 for 5-grams) on web pages; a good answer that restates an
argument list or a formula repeats phrases that much, so the limits here are doubled: a
flagged response repeats about a third of itself or more. Gopher's top-n-gram measures
are left out for the same reason. Responses under `MIN_WORDS` words are skipped (a short
answer may repeat a phrase), and so are responses whose words are mostly distinct
(`DISTINCT_SKIP`), which no limit below can reach.
"""

from __future__ import annotations

from typing import Any

from gristmill.pipeline.base import Check, CheckOutput, Flag
from gristmill.pipeline.text import TextBatch

MIN_WORDS = 50
DISTINCT_SKIP = 0.8
DUP_LINE_FRACTION = 0.3
DUP_NGRAM = ((5, 0.30), (10, 0.25))
# every ASCII byte but the white space `str.split` splits on
_ASCII_NOT_WHITE = bytes(b for b in range(128) if not chr(b).isspace())


def _dup_ngram_fraction(words: list[str], n: int, chars: int) -> float:
    seen: set[str] = set()
    repeated, i = 0, 0
    while i < len(words) - n + 1:
        gram = " ".join(words[i : i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / chars


def repetition(text: str) -> tuple[str, float, float] | None:
    """(measure, value, limit) of the first Gopher measure the text exceeds, or None."""
    # a text has at most one word more than white space characters, each of which is an
    # ASCII white space byte or holds a byte above 127 in UTF-8: counted so in C, a short
    # text is never split into words
    if len(text.encode().translate(None, _ASCII_NOT_WHITE)) < MIN_WORDS - 1:
        return None
    words = text.split()
    if len(words) < MIN_WORDS:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) >= 4:
        dup_lines = len(lines) - len(set(lines))
        if dup_lines / len(lines) > DUP_LINE_FRACTION:
            return "duplicate-line fraction", dup_lines / len(lines), DUP_LINE_FRACTION
    if len(set(words)) / len(words) > DISTINCT_SKIP:
        return None
    # a repeated n-gram starts with a repeated shortest n-gram: with none, every measure is 0
    shortest = min(n for n, _ in DUP_NGRAM)
    grams = list(zip(*(words[k:] for k in range(shortest)), strict=False))
    if len(set(grams)) == len(grams):
        return None
    chars = sum(len(w) for w in words) + len(words) - 1
    for n, limit in DUP_NGRAM:
        value = _dup_ngram_fraction(words, n, chars)
        if value > limit:
            return f"duplicate {n}-gram character fraction", value, limit
    return None


class Repetition(Check):
    name = "repetition"
    describe = "repeat themselves degenerately"

    def params(self) -> dict[str, Any]:
        return {
            "min_words": MIN_WORDS,
            "duplicate_line_fraction": DUP_LINE_FRACTION,
            "duplicate_ngram_fraction": {str(n): limit for n, limit in DUP_NGRAM},
        }

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        for i, row in enumerate(texts.rows):
            if row.response_field is None:
                continue
            out.rows_checked += 1
            found = repetition(row.response)
            if found:
                measure, value, limit = found
                detail = f"{measure} {value:.2f} (limit {limit:.2f})"
                out.flags.append(Flag.of_row(texts, i, detail))
                out.kinds[measure] += 1
        return out
