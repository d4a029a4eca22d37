"""Exact and near duplicates: whole-dataset checks in two phases.

`sketch` runs per batch, wherever the batch is read; `merge` sees every batch's sketch
concatenated in row order (the runner spills them to disk, so memory stays flat) and flags
each row that repeats an earlier one, naming the earlier row.

- exact: the text (prompt and response) after Unicode NFC, case folding and collapsing
  white space, hashed to 64 bits.
- near: MinHash (`rensa`, 128 permutations) over word 3-gram shingles of the same
  normalised text; LSH with 16 bands of 8 finds candidates, and a candidate counts when
  its estimated Jaccard similarity is at least `NEAR_THRESHOLD` (0.8) and it is not an
  exact duplicate. Texts of fewer than `NEAR_MIN_WORDS` words are not compared.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np
import rensa

from gristmill.pipeline.base import CheckOutput, DatasetCheck, Flag, take
from gristmill.pipeline.text import TextBatch

NEAR_THRESHOLD = 0.8
NUM_PERM = 128
BANDS = 16
SHINGLE = 3
NEAR_MIN_WORDS = 8
SEED = 42
ID_BYTES = 40
GATHER = 4096  # candidate pairs verified at once (each maps a 4 KiB page of signatures)
_WORDS = re.compile(r"\w+")
# odd 64-bit multipliers that mix a band's 8 minhash values into one hash
_MIX = np.array(
    [(0x9E3779B97F4A7C15 + 2 * k * 0xBF58476D1CE4E5B9) % 2**64 for k in range(NUM_PERM // BANDS)],
    dtype=np.uint64,
)


def normalized(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def normalized_texts(texts: TextBatch) -> list[str]:
    return [normalized(t) for t in texts.full_texts]


def text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _where(lines: np.ndarray, ids: np.ndarray, j: int) -> str:
    line = int(lines[j])
    return f"line {line}" if line >= 0 else f"datapoint {ids[j].decode()}"


def _base_sketch(texts: TextBatch) -> dict[str, np.ndarray]:
    return {
        "ids": np.array(texts.ids, dtype=f"S{ID_BYTES}"),
        "lines": np.array([-1 if x is None else x for x in texts.lines], dtype=np.int64),
    }


def _earliest_equal(hashes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same hash."""
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    earliest: np.ndarray = first[inverse]
    return earliest


class ExactDuplicate(DatasetCheck):
    name = "exact_duplicate"
    describe = "repeat an earlier row exactly"

    def sketch(self, texts: TextBatch) -> dict[str, np.ndarray]:
        hashes = [text_hash(t) for t in texts.derived("normalized", normalized_texts)]
        return {**_base_sketch(texts), "exact": np.array(hashes, dtype=np.uint64)}

    def merge(self, sketch: Mapping[str, np.ndarray]) -> CheckOutput:
        ids, lines = sketch["ids"], sketch["lines"]
        out = CheckOutput(rows_checked=len(ids))
        if not len(ids):
            return out
        earliest = _earliest_equal(take(sketch["exact"], slice(None)))
        for j in map(int, np.nonzero(earliest != np.arange(len(ids)))[0]):
            first = int(earliest[j])
            detail = f"same text as {_where(lines, ids, first)}"
            out.flags.append(Flag(ids[j].decode(), _line(lines, j), detail))
        return out


def _line(lines: np.ndarray, j: int) -> int | None:
    line = int(lines[j])
    return line if line >= 0 else None


def words(text: str) -> list[str]:
    """Words of a normalised text (runs of letters and digits)."""
    return _WORDS.findall(text)


def shingles(tokens: list[str]) -> list[str]:
    if len(tokens) <= SHINGLE:
        return [" ".join(tokens)]
    return [" ".join(gram) for gram in zip(tokens, tokens[1:], tokens[2:], strict=False)]


class NearDuplicate(DatasetCheck):
    name = "near_duplicate"
    describe = "nearly repeat an earlier row"

    def params(self) -> dict[str, Any]:
        return {
            "threshold": NEAR_THRESHOLD,
            "num_perm": NUM_PERM,
            "bands": BANDS,
            "shingle_words": SHINGLE,
            "min_words": NEAR_MIN_WORDS,
        }

    def sketch(self, texts: TextBatch) -> dict[str, np.ndarray]:
        norm = texts.derived("normalized", normalized_texts)
        tokens = [words(t) for t in norm]
        shingled = [shingles(w) for w in tokens]
        eligible = np.array([len(w) >= NEAR_MIN_WORDS for w in tokens], dtype=bool)
        minhashes = rensa.RMinHash.from_token_sets(shingled, NUM_PERM, SEED)
        sig = np.array([m.digest() for m in minhashes], dtype=np.uint32).reshape(-1, NUM_PERM)
        rows = NUM_PERM // BANDS
        bands = (sig.reshape(-1, BANDS, rows).astype(np.uint64) * _MIX).sum(axis=2, dtype=np.uint64)
        return {
            **_base_sketch(texts),
            "exact": np.array([text_hash(t) for t in norm], dtype=np.uint64),
            "eligible": eligible,
            "sig": sig,
            "bands": bands,
        }

    def merge(self, sketch: Mapping[str, np.ndarray]) -> CheckOutput:
        ids, lines = sketch["ids"], sketch["lines"]
        n = len(ids)
        eligible = take(sketch["eligible"], slice(None))
        if n:
            eligible &= _earliest_equal(take(sketch["exact"], slice(None))) == np.arange(n)
        out = CheckOutput(rows_checked=int(eligible.sum()))
        sig = sketch["sig"]
        best = np.full(n, n, dtype=np.int64)  # earliest resembling row; n: none
        best_estimate = np.zeros(n, dtype=np.float32)
        for b in range(BANDS):
            i, j = _band_candidates(take(sketch["bands"], (slice(None), b)))
            keep = eligible[i] & eligible[j]
            i, j = i[keep], j[keep]
            for start in range(0, len(i), GATHER):  # bounded reads of the spilled signatures
                ci, cj = i[start : start + GATHER], j[start : start + GATHER]
                estimate = (take(sig, ci) == take(sig, cj)).mean(axis=1)
                ok = estimate >= NEAR_THRESHOLD
                np.minimum.at(best, cj[ok], ci[ok])  # a row may have several candidates
                hit = ok & (best[cj] == ci)
                best_estimate[cj[hit]] = estimate[hit]
        for row in map(int, np.nonzero(best < n)[0]):
            detail = (
                f"resembles {_where(lines, ids, int(best[row]))} "
                f"(estimated Jaccard {best_estimate[row]:.2f})"
            )
            out.flags.append(Flag(ids[row].decode(), _line(lines, row), detail))
        return out


def _band_candidates(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (earlier, later) of rows sharing this band's hash: each later row of a bucket
    against the bucket's first two rows, so a bucket of k rows costs 2k, not k²."""
    order = np.argsort(column, kind="stable")  # stable: a bucket's rows stay in row order
    ordered = column[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    start_of = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - start_of
    later = rank >= 1
    pairs_i = [order[start_of[later]]]
    pairs_j = [order[later]]
    second = rank >= 2
    pairs_i.append(order[start_of[second] + 1])
    pairs_j.append(order[second])
    return np.concatenate(pairs_i), np.concatenate(pairs_j)
