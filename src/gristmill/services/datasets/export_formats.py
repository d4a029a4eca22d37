"""Training formats: a stored row (as `records.record_of` gives it back) in the shape a
trainer reads. A row a format cannot hold raises `Inexpressible` with the reason; it is never
bent to fit (the export reports it, with its line).

=====================  ==========================================================  =========
format                 record                                                      from
=====================  ==========================================================  =========
openai-chat            {"messages": [...], "tools"?, "parallel_tool_calls"?}        chat,
                       (passes OpenAI's fine-tuning checks, or the row is skipped)  generation
openai-preference      {"input": {"messages", "tools"?}, "preferred_output": [...],  preference
                       "non_preferred_output": [...]}
prompt-completion      {"prompt": str, "completion": str}; a conversation ending    generation,
                       in an answer as TRL's conversational form (message lists)    chat
sharegpt               {"conversations": [{"from": "system|human|gpt|function_call  chat,
                       |observation", "value"}], "tools"?}  (LLaMA-Factory's)       generation
alpaca                 {"instruction", "input": "", "output", "system"?}            generation,
                                                                                    one-turn chat
tensorzero             a datapoint as TensorZero's bulk insert takes it             chat, json,
                                                                                    generation
=====================  ==========================================================  =========
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gristmill.ingest.openai_checks import check_messages, check_tools
from gristmill.services.datapoints.shapes import (
    DEFAULT_FUNCTION,
    view_chat_output,
    view_input,
    view_json_output,
)

Record = dict[str, Any]


class Inexpressible(Exception):
    """The row has no faithful form in the chosen format; the message says why."""


def _turns(record: Record, kind: str) -> list[dict[str, Any]]:
    if kind == "chat":
        return list(record["messages"])
    if kind == "generation":
        prompt, completion = record.get("prompt"), record.get("completion")
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise Inexpressible("its prompt or completion is not text")
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    raise Inexpressible(f"a {kind} row is not a conversation")


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = block.get("arguments", block.get("raw_arguments", {}))
    return {
        "id": str(block.get("id", "")),
        "type": "function",
        "function": {
            "name": str(block.get("name") or block.get("raw_name") or ""),
            "arguments": arguments
            if isinstance(arguments, str)
            else orjson.dumps(arguments).decode(),
        },
    }


def _openai_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message whose content may be TensorZero blocks, in OpenAI's shape (a tool result
    block becomes a `tool` message of its own)."""
    content = message.get("content")
    if not isinstance(content, list):
        return [message]
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in ("text", "raw_text"):
            texts.append(str(block.get("text", block.get("value", ""))))
        elif kind == "tool_call":
            calls.append(_tool_call(block))
        elif kind == "tool_result":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": str(block.get("id", "")),
                    "content": str(block.get("result", "")),
                }
            )
        elif kind in ("image_url", "input_audio", "file"):
            parts.append(block)  # already OpenAI's own part
        else:
            raise Inexpressible(f"a {kind or 'malformed'} content block has no OpenAI form")
    out: dict[str, Any] = {k: v for k, v in message.items() if k != "content"}
    if parts:
        out["content"] = [{"type": "text", "text": t} for t in texts] + parts
    elif texts or not calls:
        out["content"] = "".join(texts)
    else:
        out["content"] = None
    if calls:
        out["tool_calls"] = [*out.get("tool_calls", []), *calls]
    if results and not texts and not parts and not calls:
        return results  # a user turn of tool results only: OpenAI's tool messages
    return [*results, out]


def _openai_messages(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for turn in turns for m in _openai_message(turn)]


def _checked(problems: list[Any]) -> None:
    if problems:
        raise Inexpressible("; ".join(p["message"] for p in problems))


def _tools(record: Record, into: Record) -> Record:
    for key in ("tools", "parallel_tool_calls"):
        if record.get(key) is not None:
            into[key] = record[key]
    return into


def openai_chat(record: Record, kind: str) -> Record:
    if kind == "preference":
        given = record["input"]
        turns = [*given.get("messages", []), *record["preferred_output"]]
        source = given
    else:
        turns, source = _turns(record, kind), record
    out = _tools(source, {"messages": _openai_messages(turns)})
    _checked(check_messages(out["messages"]) + check_tools(out))
    return out


def openai_preference(record: Record, kind: str) -> Record:
    if kind != "preference":
        raise Inexpressible(f"a {kind} row has no rejected answer")
    given = record["input"]
    out_input = _tools(given, {"messages": _openai_messages(given.get("messages", []))})
    _checked(check_messages(out_input["messages"], where="input.", require_assistant=False))
    return {
        "input": out_input,
        "preferred_output": _openai_messages(record["preferred_output"]),
        "non_preferred_output": _openai_messages(record["non_preferred_output"]),
    }


def _split_answer(record: Record, kind: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    turns = _openai_messages(_turns(record, kind))
    if len(turns) < 2 or turns[-1].get("role") != "assistant":
        raise Inexpressible("it does not end in an assistant answer")
    return turns[:-1], turns[-1]


def prompt_completion(record: Record, kind: str) -> Record:
    if kind == "generation":
        _turns(record, kind)  # both sides text
        return {"prompt": record["prompt"], "completion": record["completion"]}
    prompt, answer = _split_answer(record, kind)
    return {"prompt": prompt, "completion": [answer]}


SHAREGPT_ROLES = {"system": "system", "developer": "system", "user": "human", "assistant": "gpt"}


def sharegpt(record: Record, kind: str) -> Record:
    conversations: list[dict[str, str]] = []
    for m in _openai_messages(_turns(record, kind)):
        role, content = m.get("role"), m.get("content")
        if content is not None and not isinstance(content, str):
            raise Inexpressible("a message holds non-text parts (images, audio or files)")
        if role == "tool":
            conversations.append({"from": "observation", "value": content or ""})
            continue
        if role not in SHAREGPT_ROLES:
            raise Inexpressible(f"ShareGPT has no role {role!r}")
        if content:
            conversations.append({"from": SHAREGPT_ROLES[role], "value": content})
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {})
            value = orjson.dumps({"name": fn.get("name"), "arguments": fn.get("arguments")})
            conversations.append({"from": "function_call", "value": value.decode()})
    return _tools(record, {"conversations": conversations})


def alpaca(record: Record, kind: str) -> Record:
    if kind == "generation":
        _turns(record, kind)
        return {"instruction": record["prompt"], "input": "", "output": record["completion"]}
    prompt, answer = _split_answer(record, kind)
    system = [m for m in prompt if m.get("role") in ("system", "developer")]
    users = [m for m in prompt if m not in system]
    if len(users) != 1 or users[0].get("role") != "user" or len(system) > 1:
        raise Inexpressible("Alpaca holds one instruction and one answer, not a conversation")
    texts = [users[0].get("content"), answer.get("content"), *(m.get("content") for m in system)]
    if not all(isinstance(t, str) for t in texts):
        raise Inexpressible("a message holds tool calls or non-text parts")
    out = {"instruction": users[0]["content"], "input": "", "output": answer["content"]}
    if system:
        out["system"] = system[0]["content"]
    return out


def tensorzero(record: Record, kind: str, row: Record) -> Record:
    out: Record = {"function_name": row.get("function_name") or DEFAULT_FUNCTION}
    if kind == "json":
        out["input"] = view_input(row.get("input"))
        out["output"] = view_json_output(row.get("output"), bool(row.get("is_custom")))
        if row.get("output_schema") is not None:
            out["output_schema"] = row["output_schema"]
    else:
        turns = _turns(record, kind)
        last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=None)
        if last is None:
            raise Inexpressible("it has no assistant answer")
        out["input"] = view_input({"messages": turns[:last]})
        out["output"] = view_chat_output(turns[last:])
    for key in ("name", "tags"):
        if row.get(key):
            out[key] = row[key]
    return out


Converter = Callable[[Record, str, Record], Record]


def _record_only(fn: Callable[[Record, str], Record]) -> Converter:
    return lambda record, kind, _row: fn(record, kind)


CONVERTERS: dict[str, Converter] = {
    "openai-chat": _record_only(openai_chat),
    "openai-preference": _record_only(openai_preference),
    "prompt-completion": _record_only(prompt_completion),
    "sharegpt": _record_only(sharegpt),
    "alpaca": _record_only(alpaca),
    "tensorzero": tensorzero,
}
