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

A word is a run of non-space characters with punctuation trimmed from both ends, so
"don't" and "x=1" stay whole. Words and shingles are hashed batch-wise (Arrow splits the
texts, rensa hashes each distinct word once, numpy combines three word hashes into a
shingle hash) and rensa digests the flat shingle hashes: no Python string per shingle.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from itertools import chain
from typing import Any, NamedTuple, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
GATHER = 16_384  # candidate pairs verified at once: 8 MiB of signatures read per side
# every Unicode punctuation character of the Basic Multilingual Plane (categories P*)
PUNCTUATION = "".join(c for c in map(chr, range(0x10000)) if unicodedata.category(c)[0] == "P")
# odd 64-bit multipliers that mix a band's 8 minhash values into one hash
_MIX = np.array(
    [(0x9E3779B97F4A7C15 + 2 * k * 0xBF58476D1CE4E5B9) % 2**64 for k in range(NUM_PERM // BANDS)],
    dtype=np.uint64,
)
_SPLITMIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def normalized(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def normalized_texts(texts: TextBatch) -> list[str]:
    return [normalized(t) for t in texts.full_texts]


def text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def exact_hashes(texts: TextBatch) -> np.ndarray:
    """The 64-bit hash of each row's normalised text (both duplicate checks read it)."""
    norm = texts.derived("normalized", normalized_texts)
    return np.array([text_hash(t) for t in norm], dtype=np.uint64)


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
        return {**_base_sketch(texts), "exact": texts.derived("exact_hashes", exact_hashes)}

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


def word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every word of normalised texts, flat in text order, and the
    number of words of each text."""
    parts = pc.split_pattern(pa.array(texts, type=pa.large_string()), pattern=" ")
    flat = cast(pa.LargeStringArray, pc.utf8_trim(parts.flatten(), characters=PUNCTUATION))
    keep = pc.binary_length(flat).to_numpy() > 0
    parent = pc.list_parent_indices(parts).to_numpy()[keep]
    encoded = flat.filter(keep).dictionary_encode()
    [vocabulary] = rensa.RMinHash.hash_token_sets([encoded.dictionary.to_pylist()])
    hashes = np.array(vocabulary, dtype=np.uint64)[encoded.indices.to_numpy()]
    return hashes, np.bincount(parent, minlength=len(texts))


def _mixed(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the input moves about half the output bits."""
    x = (x ^ (x >> np.uint64(30))) * _SPLITMIX[0]
    x = (x ^ (x >> np.uint64(27))) * _SPLITMIX[1]
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def shingle_hashes(words: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of each text's word `SHINGLE`-grams (order matters), flat, and the row
    offsets into them that rensa's flat digest takes. A text of fewer words has none."""
    ends = np.repeat(np.cumsum(counts), counts)
    starts = np.flatnonzero(np.arange(len(words)) + (SHINGLE - 1) < ends)
    shingle = _mixed(words[starts])
    for k in range(1, SHINGLE):
        shingle = _mixed(shingle ^ words[starts + k])
    offsets = np.zeros(len(counts) + 1, dtype=np.uint64)
    np.cumsum(np.maximum(counts - (SHINGLE - 1), 0), out=offsets[1:])
    return shingle, offsets


def signatures(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each normalised text's MinHash signature (rows by `NUM_PERM`, uint32) and its
    number of words."""
    words, counts = word_hashes(texts)
    return minhash_rows(*shingle_hashes(words, counts)), counts


def minhash_rows(shingles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """rensa's MinHash signature of each row's shingle hashes (rows by `NUM_PERM`, uint32),
    read out of rensa's matrix (rensa 0.5 hands it back as Python lists only)."""
    rows = len(offsets) - 1
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets, NUM_PERM, SEED)
    values = chain.from_iterable(matrix.to_rows())
    flat = np.fromiter(values, dtype=np.uint32, count=rows * NUM_PERM)
    return flat.reshape(rows, NUM_PERM)


class BandMatches(NamedTuple):
    """What one part of the near-duplicate merge found: per row, the earliest row it
    resembles (the row count: none) and that pair's estimate; and how many rows it compared."""

    best: np.ndarray
    estimate: np.ndarray
    compared: int


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
        sig, counts = signatures(norm)
        rows = NUM_PERM // BANDS
        bands = (sig.reshape(-1, BANDS, rows).astype(np.uint64) * _MIX).sum(axis=2, dtype=np.uint64)
        return {
            **_base_sketch(texts),
            "exact": texts.derived("exact_hashes", exact_hashes),
            "eligible": counts >= NEAR_MIN_WORDS,
            "sig": sig,
            "bands": bands,
        }

    merge_parts = 2  # the bands, split between two processes

    def merge_part(self, sketch: Mapping[str, np.ndarray], part: int, parts: int) -> BandMatches:
        """Over the bands `part`, `part + parts`, …: for each row the earliest row it
        resembles (`n`: none) and that pair's estimate."""
        n = len(sketch["ids"])
        eligible = _eligible(sketch)
        sig = sketch["sig"]
        best = np.full(n, n, dtype=np.int64)  # earliest resembling row; n: none
        best_estimate = np.zeros(n, dtype=np.float32)
        for b in range(part, BANDS, parts):
            i, j = _band_candidates(take(sketch["bands"], (slice(None), b)))
            # a pair whose later row already resembles this or an earlier row (found in a
            # band before) cannot change the result: not verified again
            keep = eligible[i] & eligible[j] & (best[j] > i)
            # in (earlier, later) order, so each chunk's earlier rows are read in runs
            pairs = np.sort(i[keep].astype(np.int64) * n + j[keep])
            for start in range(0, len(pairs), GATHER):  # bounded reads of the signatures
                ci, cj = np.divmod(pairs[start : start + GATHER], n)
                both = take(sig, np.concatenate([ci, cj]))  # a row on both sides: read once
                estimate = (both[: len(ci)] == both[len(ci) :]).mean(axis=1)
                ok = estimate >= NEAR_THRESHOLD
                np.minimum.at(best, cj[ok], ci[ok])  # a row may have several candidates
                hit = ok & (best[cj] == ci)
                best_estimate[cj[hit]] = estimate[hit]
        return BandMatches(best, best_estimate, int(eligible.sum()))

    def combine(self, sketch: Mapping[str, np.ndarray], results: list[BandMatches]) -> CheckOutput:
        ids, lines = sketch["ids"], sketch["lines"]
        n = len(ids)
        out = CheckOutput(rows_checked=results[0].compared)  # every part compares the same rows
        best = np.full(n, n, dtype=np.int64)
        best_estimate = np.zeros(n, dtype=np.float32)
        for found in results:  # a pair has one estimate, whichever part found it
            better = found.best < best
            best[better] = found.best[better]
            best_estimate[better] = found.estimate[better]
        for row in map(int, np.nonzero(best < n)[0]):
            detail = (
                f"resembles {_where(lines, ids, int(best[row]))} "
                f"(estimated Jaccard {best_estimate[row]:.2f})"
            )
            out.flags.append(Flag(ids[row].decode(), _line(lines, row), detail))
        return out


def _eligible(sketch: Mapping[str, np.ndarray]) -> np.ndarray:
    """The rows compared: long enough, and not an exact duplicate of an earlier row."""
    eligible = take(sketch["eligible"], slice(None))
    if len(eligible):
        first = _earliest_equal(take(sketch["exact"], slice(None)))
        eligible &= first == np.arange(len(eligible))
    return eligible


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
