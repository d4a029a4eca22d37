"""Examples longer than a model's context: tokens counted with tiktoken `o200k_base`.

The check also keeps the shape of the data for the report's histograms: tokens per example
and turns (messages) per conversation."""

from __future__ import annotations

from typing import Any

from gristmill.pipeline.base import Check, CheckOutput, Flag
from gristmill.pipeline.text import TextBatch
from gristmill.pipeline.tokens import ENCODING, count_tokens

# Histogram edges (tokens) of the example-length distribution kept in the report's stats.
TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
TURN_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


class TooLong(Check):
    name = "too_long"
    describe = "are longer than the token limit"

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "encoding": ENCODING}

    def check(self, texts: TextBatch) -> CheckOutput:
        counts = count_tokens(texts.full_texts)
        out = CheckOutput(rows_checked=len(texts))
        out.stats["tokens"] = sum(counts)
        out.stats["max_tokens"] = max(counts, default=0)
        for edge in (*TOKEN_BUCKETS, None):
            label = f"tokens_le_{edge}" if edge else "tokens_gt_max_bucket"
            out.stats[label] = 0
        _count_turns(texts, out.stats)
        for i, n in enumerate(counts):
            bucket = next((b for b in TOKEN_BUCKETS if n <= b), None)
            out.stats[f"tokens_le_{bucket}" if bucket else "tokens_gt_max_bucket"] += 1
            if n > self.max_tokens:
                detail = f"{n:,} tokens (limit {self.max_tokens:,})"
                out.flags.append(Flag.of_row(texts, i, detail))
        return out


def _count_turns(texts: TextBatch, stats: dict[str, int]) -> None:
    """`turns_le_<edge>` counts of the conversations in the batch (other rows have none)."""
    for edge in (*TURN_BUCKETS, None):
        stats[f"turns_le_{edge}" if edge else "turns_gt_max_bucket"] = 0
    for row in texts.rows:
        if row.turns:
            bucket = next((b for b in TURN_BUCKETS if row.turns <= b), None)
            stats[f"turns_le_{bucket}" if bucket else "turns_gt_max_bucket"] += 1
