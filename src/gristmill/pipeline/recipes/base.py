"""What a recipe asks a model, what it gets back, and how an answer is judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from gristmill.pipeline.checks.duplicates import normalized
from gristmill.pipeline.checks.responses import refusal_phrase
from gristmill.pipeline.tokens import encoding


@dataclass(frozen=True)
class Ask:
    """One chat-completions request a recipe wants for a row."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    max_tokens: int
    json: bool = False  # ask for a JSON object (response_format json_object)

    def prompt_tokens(self) -> int:
        """The request's tokens as OpenAI counts chat input: each message's tokens, 3 that
        frame it, and 3 that prime the reply."""
        return sum(tokens_of(c) + 3 for _, c in self.messages) + 3

    def body(self, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }
        if self.json:
            body["response_format"] = {"type": "json_object"}
        return body


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str | None = None


class Rejected(Exception):
    """The model's answer cannot be used; the row keeps its content. `reason` is for people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Example:
    """A row under adaptation, as the recipes see it: plain texts, whatever the row's shape."""

    prompt: str
    completion: str | None = None
    system: str | None = None
    context: str = ""  # the mapped context columns, as "name: value" lines
    rejected: str | None = None  # preference pairs: the worse answer
    language: str | None = None  # set on a translated copy
    annotations: dict[str, Any] = field(default_factory=dict)

    def request_text(self) -> str:
        """The prompt as a model should read it: the context first, when there is one."""
        return f"{self.context}\n\n{self.prompt}" if self.context else self.prompt


class Recipe(Protocol):
    name: str

    def ask(self, ex: Example) -> Ask | None:
        """The request for this row, or None when the recipe has nothing to do on it."""

    def accept(self, ex: Example, answer: Answer) -> bool:
        """Write the answer into `ex` (True if the row changed), or raise Rejected."""

    def expected_tokens(self, ex: Example) -> int:
        """About how many tokens the answer will hold, for estimates."""


def checked_text(answer: Answer, *, echo_of: str | None = None) -> str:
    """The answer's text, unless it is empty, cut off, a refusal, or an echo of its input."""
    text = answer.text.strip()
    if answer.finish_reason == "length":
        raise Rejected("the answer was cut off at its token limit (finish_reason: length)")
    if not text:
        raise Rejected("the model answered with empty text")
    phrase = refusal_phrase(text)
    if phrase:
        raise Rejected(f'the model refused ("{phrase}")')
    if echo_of is not None and normalized(text) == normalized(echo_of):
        raise Rejected("the model echoed its input back")
    return text


def checked_json(answer: Answer, required: tuple[str, ...]) -> dict[str, Any]:
    """The answer as a JSON object holding non-empty text under every `required` key."""
    text = checked_text(answer).removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Rejected("the answer is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected("the answer is JSON but not an object")
    for key in required:
        if not isinstance(value.get(key), str) or not value[key].strip():
            raise Rejected(f'the answer has no text under "{key}"')
    return value


def tokens_of(text: str) -> int:
    return len(encoding().encode_ordinary(text))
