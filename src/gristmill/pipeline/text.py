"""The texts a check reads from a version's rows: prompt, response and the whole example.

A version's Parquet snapshot holds each row's `input` and `output` as JSON text, shaped by
kind (see `services.datasets.records`). Checks want plain text, so the first step of every
pipeline turns a record batch into a `TextBatch`; the checks after it never parse JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pyarrow as pa


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content list
    (OpenAI `{"type": "text", "text"}` parts and TensorZero text blocks alike)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return ""


_PROMPT_ROLES = ("user", "system", "developer")


def _prompt_text(messages: Any) -> tuple[str, str | None]:
    """The prompt (user, system and developer turns) of a conversation and its question,
    the user's turn that the response answers (`_question`), in one pass."""
    if not isinstance(messages, list):
        return "", None
    parts: list[str] = []
    user_turns: list[str] = []
    for m in messages:
        if isinstance(m, dict):
            role = m.get("role")
            if role in _PROMPT_ROLES:
                text = content_text(m.get("content"))
                if text:
                    parts.append(text)
                if role == "user":
                    user_turns.append(text)
    return "\n".join(parts), _question(user_turns)


def _response_text(messages: Any) -> tuple[str, bool]:
    """The assistant turns' text, and whether any turn is a tool call, in one pass."""
    if not isinstance(messages, list):
        return "", False
    texts: list[str] = []
    tool_call = False
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if m.get("role") == "assistant":
            text = content_text(content)
            if text:
                texts.append(text)
        if not tool_call:
            tool_call = bool(m.get("tool_calls") or m.get("function_call")) or (
                isinstance(content, list)
                and any(isinstance(p, dict) and p.get("type") == "tool_call" for p in content)
            )
    return "\n".join(texts), tool_call


QUESTION_MIN_LETTERS = 25  # a user turn shorter than this is read with the turns before it
_ASCII_NON_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())


def letter_count(text: str, enough: int | None = None) -> int:
    """The letters of `text`. With `enough`, a text whose ASCII letters alone reach it
    answers their count (at least `enough`) without looking at its other characters."""
    ascii_letters = len(text.encode("ascii", "ignore").translate(None, _ASCII_NON_LETTERS))
    if text.isascii() or (enough is not None and ascii_letters >= enough):
        return ascii_letters  # counted in C: the common case
    return sum(map(str.isalpha, text))


def _question(user_turns: list[str]) -> str | None:
    """The last user turn (None: there is none to tell from the prompt).

    A short last turn ("Ok merci beaucoup !") is too short to tell its language, so the
    user turns before it are prepended until the text holds `QUESTION_MIN_LETTERS`
    letters; a system prompt never is: it is often in English whatever the user writes."""
    if not user_turns:
        return None
    letters = 0
    for first in range(len(user_turns) - 1, -1, -1):
        text = user_turns[first]
        letters += letter_count(text[: 4 * QUESTION_MIN_LETTERS], QUESTION_MIN_LETTERS)
        if letters >= QUESTION_MIN_LETTERS:
            break
    return "\n".join(user_turns[first:])


def _count(messages: Any) -> int:
    return len(messages) if isinstance(messages, list) else 0


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class RowText:
    """`response_field` names what was read as the response (None: the row has none, as a
    reranking row); `tool_call` marks a response that is a tool call, never "empty";
    `question` is the user turn the response answers (None: the whole prompt is), for the
    checks that must not read a system prompt as the user's words."""

    prompt: str
    response: str
    response_field: str | None
    tool_call: bool = False
    turns: int = 0  # messages in a conversation (0: the row is not one)
    question: str | None = None

    @property
    def asked(self) -> str:
        return self.prompt if self.question is None else self.question


def row_text(kind: str, given: Any, output: Any) -> RowText:
    """A row with no output at all (an input-only datapoint) has no response to judge."""
    text = _row_text(kind, given, output)
    if output is None and text.response_field is not None:
        return RowText(text.prompt, "", None, turns=text.turns, question=text.question)
    return text


def _row_text(kind: str, given: Any, output: Any) -> RowText:
    given = given if isinstance(given, dict) else {}
    if kind == "chat":
        messages = given.get("messages")
        prompt, question = _prompt_text(messages)
        if given.get("system") is not None:  # a TensorZero input's own system field
            prompt = "\n".join(t for t in (content_text(given["system"]), prompt) if t)
        response, tool_call = _response_text(output)
        return RowText(
            prompt,
            response,
            "assistant message",
            tool_call,
            _count(messages) + (_count(output) if isinstance(output, list) else output is not None),
            question,
        )
    if kind == "generation":
        prompt = given.get("prompt")
        return RowText(
            prompt if isinstance(prompt, str) else "",
            output if isinstance(output, str) else _json_text(output),
            "completion",
        )
    if kind == "preference":
        out = output if isinstance(output, dict) else {}
        chosen = out.get("preferred_output")
        prompt, question = _prompt_text(given.get("messages"))
        response, tool_call = _response_text(chosen)
        return RowText(
            prompt,
            response,
            "preferred_output",
            tool_call,
            _count(given.get("messages")) + _count(chosen),
            question,
        )
    if kind == "reranking_questions":
        return RowText(_json_text(given.get("question")), _json_text(given.get("chunk")), None)
    if isinstance(output, dict) and set(output) <= {"raw", "parsed"} and "raw" in output:
        output = output.get("raw")  # a TensorZero json output: the model's own text
    return RowText(_json_text(given), _json_text(output), "output")


T = TypeVar("T")


@dataclass
class TextBatch:
    """One record batch of a version, read for checks. Lists are index-aligned."""

    ids: list[str]
    lines: list[int | None]
    kinds: list[str]
    rows: list[RowText]
    outputs: list[Any]  # decoded `output`
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def derived(self, name: str, make: Callable[[TextBatch], T]) -> T:
        """A value computed from this batch once, however many checks ask for it."""
        if name not in self._derived:
            self._derived[name] = make(self)
        value: T = self._derived[name]
        return value

    @property
    def prompts(self) -> list[str]:
        return [r.prompt for r in self.rows]

    @property
    def questions(self) -> list[str]:
        return [r.asked for r in self.rows]

    @property
    def responses(self) -> list[str]:
        return [r.response for r in self.rows]

    @property
    def full_texts(self) -> list[str]:
        """Prompt and response of each row, built once per batch for every check."""
        return self.derived("full_texts", _joined)

    @property
    def full_text_array(self) -> pa.LargeStringArray:
        """`full_texts` as one Arrow array, for the checks that scan them with RE2."""
        return self.derived("full_text_array", _full_text_array)


def _full_text_array(texts: TextBatch) -> pa.LargeStringArray:
    return pa.array(texts.full_texts, type=pa.large_string())


def _joined(texts: TextBatch) -> list[str]:
    return [f"{r.prompt}\n{r.response}" if r.prompt else r.response for r in texts.rows]


def _decoded(raw: str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def read_texts(batch: pa.RecordBatch) -> TextBatch:
    cols = batch.to_pydict()
    kinds: list[str] = cols["kind"]
    outputs = [_decoded(o) for o in cols["output"]]
    rows = [
        row_text(kind, _decoded(i), o)
        for kind, i, o in zip(kinds, cols["input"], outputs, strict=True)
    ]
    return TextBatch(
        ids=cols["id"], lines=cols["source_line"], kinds=kinds, rows=rows, outputs=outputs
    )
