"""Benchmark: the quality evaluation of a version of 1,000,000 chat rows, against
references measured in the same run.

Run from the repository root:

    .venv/bin/python bench/evaluate.py                         # 1,000,000 rows
    .venv/bin/python bench/evaluate.py --rows 50000            # smoke test

It generates OpenAI chat rows (`bench.common.generate_jsonl`, the ingest bench's data),
writes them as a version snapshot with the code ingest uses (`SnapshotFile`), and then:

1. all checks: `run_local` (a process per core) in a fresh process, its wall time against
   tiktoken alone encoding the same texts (`o200k_base`, one thread, in the same run),
   rows/s per core, and the peak RSS of the run's processes at 1/10 of the rows and at
   all of them (flat in row count is the goal, 1 GB the ceiling);
2. the near-duplicate phase alone (sketch + merge, shingling included) on `--near-rows`
   rows against `datasketch` (MinHash + MinHashLSH, same permutations and threshold) and
   against rensa's raw hashing of the same shingles;
3. the Ray runner with 2 workers against 1 on `--ray-rows` rows.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench.common import generate_jsonl  # noqa: E402

from gristmill.ids import uuid7  # noqa: E402
from gristmill.pipeline.checks.duplicates import (  # noqa: E402
    BANDS,
    NEAR_THRESHOLD,
    NUM_PERM,
    PUNCTUATION,
    SEED,
    NearDuplicate,
    normalized,
)
from gristmill.pipeline.text import read_texts  # noqa: E402
from gristmill.pipeline.tokens import encoding  # noqa: E402
from gristmill.services.datasets.versions import SnapshotFile  # noqa: E402
from gristmill.store.metadata.models import utcnow  # noqa: E402

CORES = os.cpu_count() or 1

EVALUATE = """
import json, resource, sys, time
from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.local import run_local


def peak_mb():
    # VmHWM, not ru_maxrss, which keeps the forking process's peak across exec
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM")) / 1024

t = time.perf_counter()
out = run_local(sys.argv[1], default_checks(65536))
wall = time.perf_counter() - t
print(json.dumps({
    "rows": out.rows, "wall": wall,
    "flagged": {k: len(v.flags) for k, v in out.outputs.items()},
    "parent_mb": peak_mb(),
    "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""

RAY = """
import json, sys, time
from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.ray_runner import run_ray, _ensure_ray
_ensure_ray("auto", int(sys.argv[2]))
t = time.perf_counter()
out = run_ray(sys.argv[1], default_checks(65536), workers=int(sys.argv[2]), task_rows=20000)
print(json.dumps({"rows": out.rows, "wall": time.perf_counter() - t}))
"""


def build_snapshot(jsonl: Path, target: Path, limit: int | None = None) -> int:
    """The generated rows as a version snapshot: stored as ingest stores chat rows."""
    snap = SnapshotFile()
    rows, batch = 0, []
    with open(jsonl, "rb") as fh:
        for line in fh:
            messages = orjson.loads(line)["messages"]
            rows += 1
            batch.append(
                {
                    "id": str(uuid7()),
                    "kind": "chat",
                    "input": {"messages": messages[:-1]},
                    "output": messages[-1:],
                    "source_line": rows,
                    "created_at": utcnow(),
                }
            )
            if len(batch) == 5000:
                snap.add(batch)
                batch = []
            if limit is not None and rows >= limit:
                break
    snap.add(batch)
    snap._close_writer()
    snap.path.rename(target)
    snap.close()
    return rows


def python(code: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def full_texts(path: Path) -> list[str]:
    texts: list[str] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
        texts.extend(read_texts(batch).full_texts)
    return texts


def tiktoken_alone(texts: list[str]) -> float:
    encode = encoding().encode_ordinary
    t = time.perf_counter()
    for text in texts:
        encode(text)
    return time.perf_counter() - t


def python_shingles(text: str) -> list[str]:
    """The check's words and 3-gram shingles, built the usual way: a Python string each."""
    words = [w for w in (w.strip(PUNCTUATION) for w in normalized(text).split(" ")) if w]
    return [" ".join(gram) for gram in zip(words, words[1:], words[2:], strict=False)]


def near_phase(path: Path, rows: int) -> dict[str, float]:
    """Our sketch + merge, rensa's raw hashing, and datasketch, on the same rows."""
    import numpy as np
    import rensa
    from datasketch import MinHash, MinHashLSH

    from gristmill.pipeline.runners.tasks import TaskResult  # noqa: F401 (same module set)

    batches = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
        batches.append(read_texts(batch))
        if sum(len(b) for b in batches) >= rows:
            break
    check = NearDuplicate()
    t = time.perf_counter()
    sketches = [check.sketch(b) for b in batches]
    merged = {k: np.concatenate([s[k] for s in sketches]) for k in sketches[0]}
    flagged = len(check.merge(merged).flags)
    ours = time.perf_counter() - t

    t = time.perf_counter()
    shingled = [python_shingles(t) for b in batches for t in b.full_texts]
    shingling = time.perf_counter() - t
    t = time.perf_counter()
    rensa.RMinHash.digest_matrix_from_token_sets(shingled, NUM_PERM, SEED)
    raw = time.perf_counter() - t

    t = time.perf_counter()
    lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=NUM_PERM, params=(BANDS, NUM_PERM // BANDS))
    theirs_flagged = 0
    for i, tokens in enumerate(shingled):
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch([s.encode() for s in tokens])
        if lsh.query(m):
            theirs_flagged += 1
        lsh.insert(str(i), m)
    theirs = time.perf_counter() - t
    return {
        "rows": len(shingled),
        "ours": ours,
        "rensa_raw": raw,
        "rensa_shingled": shingling + raw,
        "datasketch": theirs,
        "flagged": flagged,
        "datasketch_candidates": theirs_flagged,
    }


def library_floor(path: Path, rows: int) -> dict[str, float]:
    """The library calls the checks cannot do without, each timed alone on one thread over
    the first `rows` rows (the code around them untimed): decoding each row's JSON
    (orjson), counting its tokens (tiktoken, too_long), hashing its shingles into MinHash
    signatures and reading them out (rensa, near_duplicate), and fastText's language ID
    of exactly the samples the language check asks it about. Their sum over tiktoken's
    time is the least any evaluation built on these libraries can cost."""
    from gristmill.pipeline.checks import language
    from gristmill.pipeline.checks.duplicates import (
        minhash_rows,
        normalized,
        shingle_hashes,
        word_hashes,
    )

    spent = {"orjson": 0.0, "tiktoken": 0.0, "rensa": 0.0, "fasttext": 0.0, "rows": 0.0}
    predict = language._predict

    def timed_predict(sample: str) -> tuple[str, float]:
        t = time.perf_counter()
        try:
            return predict(sample)
        finally:
            spent["fasttext"] += time.perf_counter() - t

    encode = encoding().encode_ordinary
    language._predict = timed_predict
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
            cols = batch.to_pydict()
            t = time.perf_counter()
            for raw in (*cols["input"], *cols["output"]):
                orjson.loads(raw)
            spent["orjson"] += time.perf_counter() - t
            texts = read_texts(batch)
            full = texts.full_texts
            t = time.perf_counter()
            for text in full:
                encode(text)
            spent["tiktoken"] += time.perf_counter() - t
            shingles, offsets = shingle_hashes(*word_hashes([normalized(x) for x in full]))
            t = time.perf_counter()
            minhash_rows(shingles, offsets)
            spent["rensa"] += time.perf_counter() - t
            language.LanguageMismatch().check(texts)
            spent["rows"] += len(full)
            if spent["rows"] >= rows:
                break
    finally:
        language._predict = predict
    return spent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--near-rows", type=int, default=100_000)
    p.add_argument("--ray-rows", type=int, default=200_000)
    p.add_argument("--tmp-dir")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="gristmill-bench-eval-") as tmp:
        work = Path(tmp)
        jsonl = work / "rows.jsonl"
        generate_jsonl(jsonl, rows=args.rows)
        full, tenth = work / "full.parquet", work / "tenth.parquet"
        t = time.perf_counter()
        build_snapshot(jsonl, full)
        build_snapshot(jsonl, tenth, limit=max(1, args.rows // 10))
        print(
            f"evaluate: {args.rows:,} chat rows (snapshots written in "
            f"{time.perf_counter() - t:.1f} s), {CORES} cores"
        )

        texts = full_texts(full)
        reference = tiktoken_alone(texts)
        mb = sum(len(x) for x in texts) / 1e6
        del texts
        run = python(EVALUATE, str(full))
        small = python(EVALUATE, str(tenth))
        ratio = run["wall"] / reference
        print(
            f"all checks: {run['wall']:.1f} s wall = {run['rows'] / run['wall']:,.0f} rows/s "
            f"({run['rows'] / run['wall'] / CORES:,.0f} rows/s per core)"
        )
        print(
            f"  reference: tiktoken o200k_base alone on the same {mb:,.0f} MB of text, one "
            f"thread: {reference:.1f} s; ratio {ratio:.2f}x (goal <= 1.5x)"
        )
        print(f"  flagged: {run['flagged']}")
        print(
            f"  peak RSS: parent {run['parent_mb']:.0f} MB, largest worker "
            f"{run['child_mb']:.0f} MB at {run['rows']:,} rows; parent "
            f"{small['parent_mb']:.0f} MB, worker {small['child_mb']:.0f} MB at "
            f"{small['rows']:,} rows (goal <= 1 GB, flat)"
        )

        near = near_phase(full, args.near_rows)
        print(
            f"near duplicates, {near['rows']:,} rows: ours (sketch + merge, shingling "
            f"included) {near['ours']:.1f} s; datasketch {near['datasketch']:.1f} s "
            f"({near['datasketch'] / near['ours']:.1f}x, goal >= 10x); rensa with Python "
            f"shingling {near['rensa_shingled']:.1f} s "
            f"({near['rensa_shingled'] / near['ours']:.2f}x, goal >= 0.5x), of which rensa's "
            f"hashing alone {near['rensa_raw']:.1f} s ({near['rensa_raw'] / near['ours']:.2f}x)"
        )

        floor = library_floor(full, args.near_rows)
        needed = sum(v for k, v in floor.items() if k != "rows")
        floor_ratio = needed / floor["tiktoken"]
        parts = ", ".join(
            f"{name} {floor[key]:.2f} s"
            for name, key in (
                ("orjson", "orjson"),
                ("tiktoken", "tiktoken"),
                ("rensa (digest + read-out)", "rensa"),
                ("fastText", "fasttext"),
            )
        )
        print(
            f"library floor, {floor['rows']:,.0f} rows, one thread: {parts}: {needed:.2f} s = "
            f"{floor_ratio:.2f}x tiktoken on one core, so at best {floor_ratio / CORES:.2f}x on "
            f"{CORES} cores with nothing else done (all checks: {ratio:.2f}x)"
        )

        ray_rows = work / "ray.parquet"
        build_snapshot(jsonl, ray_rows, limit=args.ray_rows)
        one = python(RAY, str(ray_rows), "1")
        two = python(RAY, str(ray_rows), "2")
        print(
            f"ray runner, {one['rows']:,} rows: 1 worker {one['wall']:.1f} s, 2 workers "
            f"{two['wall']:.1f} s ({one['wall'] / two['wall']:.2f}x)"
        )


if __name__ == "__main__":
    main()
