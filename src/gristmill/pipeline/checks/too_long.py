"""Examples longer than a model's context: tokens counted with tiktoken `o200k_base`.

The check also keeps the shape of the data for the report's histograms: tokens per example
and turns (messages) per conversation."""

from __future__ import annotations

from typing import Any

import numpy as np

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
        out.stats.update(_buckets("tokens", counts, TOKEN_BUCKETS))
        out.stats.update(_buckets("turns", [r.turns for r in texts.rows if r.turns], TURN_BUCKETS))
        for i in np.flatnonzero(np.array(counts, dtype=np.int64) > self.max_tokens).tolist():
            detail = f"{counts[i]:,} tokens (limit {self.max_tokens:,})"
            out.flags.append(Flag.of_row(texts, i, detail))
        return out


def _buckets(prefix: str, values: list[int], edges: tuple[int, ...]) -> dict[str, int]:
    """`<prefix>_le_<edge>` counts of the values (each in its smallest edge at or above it)
    and `<prefix>_gt_max_bucket`; every key present, zero or not."""
    per_bucket = np.bincount(np.searchsorted(edges, values), minlength=len(edges) + 1)
    keys = [f"{prefix}_le_{edge}" for edge in edges] + [f"{prefix}_gt_max_bucket"]
    return dict(zip(keys, per_bucket.tolist(), strict=True))
