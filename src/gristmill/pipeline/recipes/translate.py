"""Language expansion: a translated (or localised) copy of a sampled row per target."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from gristmill.pipeline.recipes.base import Answer, Ask, Example, Rejected, checked_json, tokens_of

# The languages a run translates into: code -> English name. Codes are ISO 639-1, with
# three letters where there is no two-letter code, and script tags for Chinese.
LANGUAGES: dict[str, str] = {
    "ar": "Arabic", "bn": "Bengali", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish",
    "fil": "Filipino", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "ms": "Malay",
    "nb": "Norwegian Bokmål", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
    "yue": "Cantonese", "zh-Hans": "Chinese (Simplified)", "zh-Hant": "Chinese (Traditional)",
}  # fmt: skip
ALIASES = {"zh": "zh-Hans", "no": "nb"}
SYSTEM = (
    "Translate every string value of the user's JSON object into {target}. Keep the keys, "
    "the meaning, the formatting and any code unchanged. Reply with the JSON object only."
)


def language_code(value: str) -> str | None:
    """The supported code `value` names (case-insensitive; bare zh is zh-Hans), or None."""
    lowered = value.strip().lower()
    lowered = ALIASES.get(lowered, lowered).lower()
    return next((code for code in LANGUAGES if code.lower() == lowered), None)


def sampled(row_id: str, target: str, rate: float) -> bool:
    """Whether this row is expanded into this target: a stable draw, the same on a retry."""
    digest = hashlib.blake2b(f"{row_id}\0{target}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * 2**64


@dataclass
class Translate:
    language: str  # a code of LANGUAGES
    country: str | None = None  # localize: an ISO 3166-1 alpha-2 code
    name: str = "translate"

    @property
    def target(self) -> str:
        return f"{self.language}-{self.country}" if self.country else self.language

    def ask(self, ex: Example) -> Ask | None:
        where = f" as written for readers in {self.country}" if self.country else ""
        system = SYSTEM.format(target=LANGUAGES[self.language] + where)
        fields = {"prompt": ex.prompt, **({"completion": ex.completion} if ex.completion else {})}
        return Ask((("system", system), ("user", orjson.dumps(fields).decode())), 4096, json=True)

    def accept(self, ex: Example, answer: Answer) -> bool:
        keys = ("prompt", "completion") if ex.completion else ("prompt",)
        value = checked_json(answer, keys)
        if value["prompt"].strip() == ex.prompt.strip() and self.language != "en":
            raise Rejected("the translation is the prompt unchanged")
        ex.prompt = value["prompt"].strip()
        if ex.completion:
            ex.completion = value["completion"].strip()
        ex.language = self.target
        return True

    def expected_tokens(self, ex: Example) -> int:
        return tokens_of(ex.prompt) + (tokens_of(ex.completion) if ex.completion else 0) + 10
