"""What a page shows of a row, a diff or a histogram: plain data for the templates, which
escape every string (nothing here makes markup)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from gristmill.pipeline.text import content_text
from gristmill.store.metadata.models import Datapoint

PREVIEW = 600  # characters shown before "show more"
LIST_LIMIT = 20_000  # characters a list page holds of one text; the row's page has it all
ROW_LIMIT = 2_000_000
LIST_MESSAGES = 12  # messages a list page shows of one conversation


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


@dataclass(frozen=True)
class Text:
    """A text cut for showing: `head` at once, `rest` behind "show more", `hidden` chars
    not sent at all (the row's own page has them)."""

    head: str
    rest: str
    hidden: int

    @classmethod
    def of(cls, text: str, limit: int) -> Text:
        shown = text[:limit]
        return cls(shown[:PREVIEW], shown[PREVIEW:], max(0, len(text) - limit))


@dataclass(frozen=True)
class Message:
    role: str
    text: Text
    tool_calls: str | None
    name: str | None


def _message(m: Any, limit: int) -> Message:
    if not isinstance(m, dict):
        return Message("?", Text.of(pretty(m), limit), None, None)
    calls = m.get("tool_calls") or m.get("function_call")
    content = m.get("content")
    blocks = [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    tool_blocks = [p for p in blocks if p.get("type") in ("tool_call", "tool_result")]
    text = content_text(content) if content is not None else ""
    if not text and content is not None and not isinstance(content, str) and not tool_blocks:
        text = pretty(content)
    shown_calls = calls or tool_blocks or None
    return Message(
        str(m.get("role", "?")),
        Text.of(text, limit),
        pretty(shown_calls) if shown_calls else None,
        m.get("name") or m.get("tool_call_id"),
    )


def messages(value: Any, limit: int = LIST_LIMIT) -> list[Message]:
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    if not isinstance(value, list):
        return [] if value is None else [_message({"role": "assistant", "content": value}, limit)]
    if limit > LIST_LIMIT or len(value) <= LIST_MESSAGES:  # a row's own page shows all
        return [_message(m, limit) for m in value]
    # a list page keeps each row's share of the page small
    shown = [_message(m, limit) for m in value[:LIST_MESSAGES]]
    more = len(value) - LIST_MESSAGES
    shown.append(
        Message("…", Text(f"{more:,} more messages: open the row to read them.", "", 0), None, None)
    )
    return shown


@dataclass(frozen=True)
class RowView:
    """`shape` picks the template: conversation, generation, preference or json."""

    shape: str
    conversation: list[Message]
    prompt: Text | None = None
    completion: Text | None = None
    chosen: list[Message] | None = None
    rejected: list[Message] | None = None
    json: Text | None = None


def row_view(dp: Datapoint, limit: int = LIST_LIMIT) -> RowView:
    given = dp.input if isinstance(dp.input, dict) else {}
    if dp.kind == "chat":
        system = given.get("system")
        lead = [{"role": "system", "content": system}] if system is not None else []
        tail = dp.output if isinstance(dp.output, list) else [dp.output] if dp.output else []
        asked = given.get("messages")
        asked = asked if isinstance(asked, list) else []
        return RowView("conversation", messages([*lead, *asked, *tail], limit))
    if dp.kind == "generation":
        completion = dp.output if isinstance(dp.output, str) else pretty(dp.output)
        return RowView(
            "generation",
            [],
            prompt=Text.of(pretty(given.get("prompt", "")), limit),
            completion=Text.of(completion or "", limit),
        )
    if dp.kind == "preference":
        out = dp.output if isinstance(dp.output, dict) else {}
        return RowView(
            "preference",
            messages(given.get("messages"), limit),
            chosen=messages(out.get("preferred_output"), limit),
            rejected=messages(out.get("non_preferred_output"), limit),
        )
    body = {"input": dp.input, "output": dp.output}
    return RowView("json", [], json=Text.of(pretty(body), limit))


_WORDS = re.compile(r"\s*\S+\s*|\s+")  # a word with the space around it: few tokens
WORD_DIFF_LIMIT = 20_000  # characters; past it a field shows as removed and added whole


def word_diff(before: Any, after: Any) -> list[tuple[str, str]]:
    """(`same` | `del` | `ins`, text) segments from `before` to `after`, word by word (the
    matching is quadratic in the worst case, so long fields are not matched at all)."""
    old_text, new_text = pretty(before), pretty(after)
    if len(old_text) + len(new_text) > WORD_DIFF_LIMIT:
        return [("del", old_text), ("ins", new_text)]
    old, new = _WORDS.findall(old_text), _WORDS.findall(new_text)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("same", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(old[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(new[j1:j2])))
    return out


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    height: float  # 0-100, of the tallest bar


def histogram(stats: dict[str, Any], prefix: str) -> list[Bar]:
    """Bars from an evaluation's `<prefix>le_<edge>` counts (and `<prefix>gt_max_bucket`)."""
    edges: list[tuple[float, str, int]] = []  # PostgreSQL's JSONB keeps no key order
    for key, value in stats.items():
        if not key.startswith(prefix) or not isinstance(value, int):
            continue
        edge = key[len(prefix) :].removeprefix("le_")
        if edge == "gt_max_bucket":
            edges.append((float("inf"), "more", value))
        elif edge.isdigit():
            edges.append((int(edge), f"≤{int(edge):,}", value))
    bars = [Bar(label, count, 0.0) for _, label, count in sorted(edges)]
    top = max((b.count for b in bars), default=0)
    if top == 0:  # nothing counted (no conversations, say): no chart
        return []
    return [Bar(b.label, b.count, b.count * 100 / top) for b in bars]
