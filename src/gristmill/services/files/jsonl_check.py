"""The upload-time check for fine-tune files: UTF-8 JSONL, one JSON object per line."""

from __future__ import annotations

import orjson

from gristmill.services.errors import InvalidRequest


class JsonlObjectLines:
    """Fed chunk by chunk; raises InvalidRequest naming the first bad line and why."""

    def __init__(self, param: str = "file"):
        self.param = param
        self.line_no = 0
        self.objects = 0
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        lines = data.split(b"\n")
        self._carry = lines.pop()
        for line in lines:
            self._check(line)

    def finish(self) -> None:
        if self._carry:
            self._check(self._carry)
            self._carry = b""
        if self.line_no == 0:
            raise InvalidRequest("The file is empty: it holds 0 bytes.", param=self.param)
        if self.objects == 0:
            raise InvalidRequest(
                "Invalid file format for fine-tune: the file holds no JSON lines.", param=self.param
            )

    def _check(self, line: bytes) -> None:
        self.line_no += 1
        if not line.strip():
            return
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as uexc:
                raise self._error(
                    f"it is not valid UTF-8 (invalid byte at offset {uexc.start})"
                ) from None
            raise self._error(f"it is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self._error(f"expected a JSON object, found {type(value).__name__}")
        self.objects += 1

    def _error(self, why: str) -> InvalidRequest:
        return InvalidRequest(
            f"Invalid file format for fine-tune: line {self.line_no}: {why}.", param=self.param
        )
