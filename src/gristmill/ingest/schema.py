"""Schema type names, and telling a row's type from its fields."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gristmill.ingest.errors import IngestError

CHAT = "chat"
GENERATION = "generation"
PREFERENCE = "preference"
RERANKING = "reranking_questions"
JSON = "json"
SCHEMA_TYPES = (CHAT, GENERATION, PREFERENCE, RERANKING, JSON)

# Signatures listed in the error when nothing matches.
_SIGNATURES = (
    "messages (chat)",
    "prompt/completion or input/output text (generation)",
    "input/preferred_output/non_preferred_output (preference)",
    "question/chunk/positive (reranking_questions)",
    "input/output (json)",
)


def parse_schema_type(name: str | None) -> str | None:
    """Canonical lower-case name; Scale GP's GENERATION and RERANKING_QUESTIONS are accepted."""
    if name is None:
        return None
    canonical = name.strip().lower()
    if canonical not in SCHEMA_TYPES:
        raise IngestError(
            f"Unknown schema type '{name}': expected one of {', '.join(SCHEMA_TYPES)}.",
            param="schema_type",
        )
    return canonical


def classify(row: Any) -> str | None:
    """The schema type a row's keys point to, or None. Order matters: a DPO row also has
    `input`, and a chat row may carry a `prompt`-like extra field."""
    if not isinstance(row, dict):
        return None
    if "preferred_output" in row or "non_preferred_output" in row:
        return PREFERENCE
    if "messages" in row:
        return CHAT
    if "question" in row and "chunk" in row:
        return RERANKING
    if "prompt" in row or "completion" in row or _is_text_pair(row):
        return GENERATION
    if "output_schema" in row or ("input" in row and "output" in row):
        return JSON
    return None


def _is_text_pair(row: dict[str, Any]) -> bool:
    """Scale GP's generation item, `{"input": text, "output": text}`; a json row's input is an
    object, which a table cell holds as JSON text."""
    given, output = row.get("input"), row.get("output")
    return (
        isinstance(given, str)
        and isinstance(output, str)
        and "output_schema" not in row
        and not given.lstrip().startswith("{")
    )


class SchemaVote:
    """Detection over the first rows: a few stray rows should not decide a whole file.

    Counts every row towards the window, objects or not, so that rows held back while
    voting stay bounded in number.
    """

    def __init__(self, wanted: int = 20, window: int = 1000):
        self.wanted = wanted
        self.window = window
        self.votes: Counter[str] = Counter()
        self.seen = 0
        self.objects = 0

    def add(self, row: Any) -> None:
        self.seen += 1
        if isinstance(row, dict):
            self.objects += 1
            kind = classify(row)
            if kind is not None:
                self.votes[kind] += 1

    @property
    def settled(self) -> bool:
        return sum(self.votes.values()) >= self.wanted or self.seen >= self.window

    def decide(self) -> str | None:
        """The winning type; None while no object has been seen (nothing to decide on)."""
        if not self.votes:
            if not self.objects:
                self.seen = 0
                return None
            raise IngestError(
                f"Could not detect the schema type: none of the first {self.objects} objects has "
                f"the fields of a known type ({'; '.join(_SIGNATURES)}). Pass schema_type.",
                param="schema_type",
            )
        # most_common keeps first-seen order among ties.
        return self.votes.most_common(1)[0][0]
