"""OpenAI's fine-tuning format checks, after the cookbook "Data preparation and analysis for
chat model fine-tuning", widened to today's message shapes (tools, developer role, content
parts). Codes are the cookbook's; each problem is reported once, with the message number."""

from __future__ import annotations

from typing import Any

from gristmill.ingest.model import Reason, reason

MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight", "refusal"}
)
ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _content_problem(content: Any) -> str | None:
    if isinstance(content, str):
        return None if content else "has empty content"
    if isinstance(content, list):
        if not content:
            return "has empty content"
        for i, part in enumerate(content, 1):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                return f"has content part {i} without a 'type'"
        return None
    return f"has content that is {type_name(content)}, not a string or a list of parts"


def check_message(message: Any, label: str) -> list[Reason]:
    if not isinstance(message, dict):
        return [reason("data_type", f"{label} is {type_name(message)}, not an object")]
    out: list[Reason] = []
    role = message.get("role")
    if "role" not in message:
        out.append(reason("message_missing_key", f"{label} has no 'role'"))
    elif role not in ROLES:
        out.append(reason("unrecognized_role", f"{label} has unrecognized role {role!r}"))
    unknown = [key for key in message if key not in MESSAGE_KEYS]
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        out.append(reason("message_unrecognized_key", f"{label} has unrecognized key(s) {keys}"))
    # An assistant turn that only calls tools (or refuses) may have null or no content.
    no_text_needed = role == "assistant" and bool(
        message.get("tool_calls") or message.get("function_call") or message.get("refusal")
    )
    content = message.get("content")
    if "content" not in message:
        if not no_text_needed:
            out.append(reason("message_missing_key", f"{label} has no 'content'"))
    elif not (no_text_needed and content is None):
        problem = _content_problem(content)
        if problem:
            out.append(reason("missing_content", f"{label} {problem}"))
    return out


def _plainly_valid(message: Any) -> bool:
    """The common case (known role and keys, non-empty text), decided without building
    labels; anything else gets the full check."""
    if type(message) is not dict:
        return False
    content = message.get("content")
    return (
        type(content) is str
        and bool(content)
        and message.get("role") in ROLES
        and message.keys() <= MESSAGE_KEYS
    )


def check_messages(
    messages: Any, *, where: str = "", require_assistant: bool = True
) -> list[Reason]:
    if not isinstance(messages, list) or not messages:
        if messages is None:
            why = f"{where}messages is missing"
        elif isinstance(messages, list):
            why = f"{where}messages is an empty list"
        else:
            why = f"{where}messages is {type_name(messages)}, not a list"
        return [reason("missing_messages_list", why)]
    out: list[Reason] = []
    has_assistant = False
    for i, message in enumerate(messages, 1):
        if not _plainly_valid(message):
            out.extend(check_message(message, f"{where}message {i}"))
        if not has_assistant and isinstance(message, dict):
            has_assistant = message.get("role") == "assistant"
    if require_assistant and not has_assistant:
        out.append(
            reason(
                "example_missing_assistant_message", f"{where}messages have no assistant message"
            )
        )
    return out


def check_tools(row: dict[str, Any], *, where: str = "") -> list[Reason]:
    out: list[Reason] = []
    tools = row.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            out.append(reason("invalid_tools", f"{where}tools is {type_name(tools)}, not a list"))
        else:
            for i, tool in enumerate(tools, 1):
                if not isinstance(tool, dict) or not (
                    isinstance(tool.get("function"), dict) or isinstance(tool.get("name"), str)
                ):
                    out.append(
                        reason("invalid_tools", f"{where}tool {i} is not a function definition")
                    )
    parallel = row.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        out.append(
            reason(
                "invalid_parallel_tool_calls",
                f"{where}parallel_tool_calls is {type_name(parallel)}, not a boolean",
            )
        )
    return out
