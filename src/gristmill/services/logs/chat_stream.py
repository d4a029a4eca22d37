"""Rebuild an OpenAI chat completion from the server-sent events of a streamed one.

The logging gateway passes each chunk to the client untouched and feeds a copy here, so the
log holds one `chat.completion` object whatever the transport: content and refusals
concatenated, tool calls merged by index, finish reasons, and the usage of the final chunk
(sent when the request asked for `stream_options.include_usage`).
"""

from __future__ import annotations

from typing import Any

import orjson


class ChatStream:
    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []
        self.head: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.error: Any = None
        self.done = False  # saw `data: [DONE]`

    def feed(self, chunk: bytes) -> None:
        """Take raw bytes as they arrive; events may be split across chunks anywhere."""
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._line(line.rstrip(b"\r").decode("utf-8", errors="replace"))

    def _line(self, line: str) -> None:
        if line == "":  # a blank line ends an event
            if self._data:
                self._event("\n".join(self._data))
            self._data = []
        elif line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))

    def _event(self, data: str) -> None:
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if "error" in event:
            self.error = event["error"]
            return
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if event.get(key) is not None:
                self.head[key] = event[key]
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        for choice in event.get("choices") or []:
            if isinstance(choice, dict):
                self._merge(choice)

    def _merge(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        slot = self.choices.setdefault(
            index if isinstance(index, int) else 0,
            {"message": {"role": "assistant", "content": None}, "finish_reason": None},
        )
        message = slot["message"]
        raw = choice.get("delta")
        delta: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if isinstance(delta.get("role"), str):
            message["role"] = delta["role"]
        for key in ("content", "refusal"):
            if isinstance(delta.get(key), str):
                message[key] = (message.get(key) or "") + delta[key]
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                self._merge_tool_call(message.setdefault("tool_calls", []), call)
        if choice.get("finish_reason") is not None:
            slot["finish_reason"] = choice["finish_reason"]

    @staticmethod
    def _merge_tool_call(calls: list[dict[str, Any]], part: dict[str, Any]) -> None:
        index = part.get("index", len(calls))
        if not isinstance(index, int) or not 0 <= index < 256:  # a bad upstream cannot balloon it
            return
        while len(calls) <= index:
            calls.append(
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
        call = calls[index]
        for key in ("id", "type"):
            if part.get(key):
                call[key] = part[key]
        raw = part.get("function")
        fn: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for key in ("name", "arguments"):
            if isinstance(fn.get(key), str):
                call["function"][key] += fn[key]

    def completion(self) -> dict[str, Any]:
        choices = [
            {"index": i, "message": slot["message"], "finish_reason": slot["finish_reason"]}
            for i, slot in sorted(self.choices.items())
        ]
        out: dict[str, Any] = {**self.head, "object": "chat.completion", "choices": choices}
        if self.usage is not None:
            out["usage"] = self.usage
        return out
