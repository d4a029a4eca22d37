"""A row's training record seen through a run's column mapping, and written back.

Modes, as the Adaption SDK documents `column_mapping`:

- chat: one column holds the conversation; the prompt is its last user turn and the
  completion the assistant turn after it (appended when there is none);
- prompt: a prompt column, optionally a completion column and context columns;
- universal prompt: one instruction for every row, with context columns telling rows apart.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson

from gristmill.pipeline.recipes.base import Example
from gristmill.pipeline.text import content_text


@dataclass(frozen=True)
class ColumnMapping:
    prompt: str | None = None
    completion: str | None = None
    chat: str | None = None
    context: tuple[str, ...] = ()
    universal_prompt: str | None = None

    def columns(self) -> list[tuple[str, str]]:
        """(role, column) of every column this mapping reads."""
        named = [("prompt", self.prompt), ("completion", self.completion), ("chat", self.chat)]
        return [(r, c) for r, c in named if c] + [("context", c) for c in self.context]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    text = content_text(value)
    return text if text or not value else orjson.dumps(value).decode()


def _last_user(messages: list[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], dict) and messages[i].get("role") == "user":
            return i
    return None


def _answer_after(messages: list[Any], i: int) -> int | None:
    for j in range(i + 1, len(messages)):
        if isinstance(messages[j], dict) and messages[j].get("role") == "assistant":
            return j
    return None


def example_of(record: dict[str, Any], m: ColumnMapping) -> Example:
    context = "\n".join(f"{c}: {_text(record.get(c))}" for c in m.context)
    if m.chat:
        messages = record.get(m.chat)
        messages = messages if isinstance(messages, list) else []
        system = next(
            (_text(x.get("content")) for x in messages if isinstance(x, dict)
             and x.get("role") in ("system", "developer")),
            None,
        )  # fmt: skip
        user = _last_user(messages)
        if user is None:
            return Example(prompt="", system=system, context=context)
        answer = _answer_after(messages, user)
        completion = _text(messages[answer].get("content")) if answer is not None else None
        prompt = _text(messages[user].get("content"))
        return Example(prompt=prompt, completion=completion, system=system, context=context)
    prompt = m.universal_prompt if m.universal_prompt else _text(record.get(m.prompt or ""))
    completion = _text(record.get(m.completion)) if m.completion else None
    return Example(prompt=prompt, completion=completion, context=context)


def record_with(
    record: dict[str, Any], ex: Example, m: ColumnMapping, *, preference: bool
) -> dict[str, Any]:
    """A copy of `record` holding the example's texts (a preference record when asked)."""
    extra = {**ex.annotations, **({"language": ex.language} if ex.language else {})}
    if preference:
        turns = [{"role": "system", "content": ex.system}] if ex.system else []
        turns.append({"role": "user", "content": ex.request_text()})
        return {
            "input": {"messages": turns},
            "preferred_output": [{"role": "assistant", "content": ex.completion}],
            "non_preferred_output": [{"role": "assistant", "content": ex.rejected}],
            **extra,
        }
    out = copy.deepcopy(record)
    out.update(extra)
    if m.chat:
        messages = out.get(m.chat)
        if not isinstance(messages, list):
            return out
        user = _last_user(messages)
        if user is None:
            return out
        messages[user] = {**messages[user], "content": ex.prompt}
        if ex.completion is not None:
            answer = _answer_after(messages, user)
            turn = {"role": "assistant", "content": ex.completion}
            if answer is None:
                messages.insert(user + 1, turn)
            else:
                messages[answer] = turn  # a rewritten answer drops the old one's tool calls
        return out
    if not m.universal_prompt and m.prompt:
        out[m.prompt] = ex.prompt
    if ex.completion is not None:
        out[m.completion or "completion"] = ex.completion
    return out
