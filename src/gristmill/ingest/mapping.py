"""Column mapping for tabular sources, as in the Adaption API's `configured_column_mapping`:
`prompt` and `completion` name text columns (generation rows), `chat` names a column holding
a messages list, JSON-encoded or already structured (chat rows; it wins over prompt), and
`context` lists columns carried along under the row's `context` field. It applies to JSON
objects too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gristmill.ingest.errors import IngestError
from gristmill.ingest.model import Reason, reason
from gristmill.ingest.schema import CHAT, GENERATION

_KEYS = ("prompt", "completion", "chat", "context")


def _bad(message: str) -> IngestError:
    return IngestError(f"Invalid column_mapping: {message}.", param="column_mapping")


@dataclass(frozen=True)
class ColumnMapping:
    prompt: str | None = None
    completion: str | None = None
    chat: str | None = None
    context: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Mapping[str, Any] | ColumnMapping | None) -> ColumnMapping | None:
        """None when nothing is mapped, so an all-null mapping means "use the row as it is"."""
        if value is None or isinstance(value, ColumnMapping):
            return value if value is None or value.columns else None
        if not isinstance(value, Mapping):
            raise _bad("expected an object")
        unknown = [key for key in value if key not in _KEYS]
        if unknown:
            raise _bad(f"unknown key(s) {', '.join(map(repr, unknown))}; expected {_KEYS}")
        names: dict[str, str | None] = {}
        for key in ("prompt", "completion", "chat"):
            name = value.get(key)
            if name is not None and (not isinstance(name, str) or not name):
                raise _bad(f"'{key}' must be a column name")
            names[key] = name
        context = value.get("context") or ()
        if isinstance(context, str) or not all(isinstance(c, str) and c for c in context):
            raise _bad("'context' must be a list of column names")
        if names["completion"] and not names["prompt"] and not names["chat"]:
            raise _bad("'completion' needs a 'prompt' column")
        mapping = cls(names["prompt"], names["completion"], names["chat"], tuple(context))
        return mapping if mapping.columns else None

    @property
    def columns(self) -> list[str]:
        named = [self.prompt, self.completion, self.chat, *self.context]
        return list(dict.fromkeys(name for name in named if name))

    @property
    def kind(self) -> str:
        return CHAT if self.chat else GENERATION

    def apply(self, row: Any, *, tabular: bool) -> tuple[Any, Reason | None]:
        """The row rewritten to schema fields, or a reason it cannot be.

        In a table every column exists and a missing value is a null; in JSON a mapped key
        that is absent is the row's fault.
        """
        if not isinstance(row, dict):
            return row, None
        if not tabular:
            missing = [name for name in self.columns if name not in row]
            if missing:
                names = ", ".join(repr(m) for m in missing)
                return None, reason("missing_column", f"the row has no field {names} (mapped)")
        out: dict[str, Any] = {}
        if self.chat and row.get(self.chat) is not None:
            chat = row[self.chat]
            if isinstance(chat, str):
                try:
                    chat = orjson.loads(chat)
                except orjson.JSONDecodeError as exc:
                    why = f"column {self.chat!r} does not hold JSON: {exc.msg}"
                    return None, reason("invalid_chat_column", why)
            # A whole chat row stored in one column brings its tools along.
            if isinstance(chat, dict) and "messages" in chat:
                out.update(chat)
            else:
                out["messages"] = chat
        for key, name in (("prompt", self.prompt), ("completion", self.completion)):
            if name and row.get(name) is not None:
                out[key] = row[name]
        if self.context:
            out["context"] = {name: row.get(name) for name in self.context}
        return out, None
