"""The local and Ray runners give the same report on the same version, and the local
runner's memory stays flat as the version grows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.local import run_local
from gristmill.pipeline.runners.ray_runner import run_ray
from gristmill.pipeline.runners.tasks import PipelineOutput
from tests.quality.planted import CHECKS, plant, snapshot
from tests.support import REPO


def comparable(out: PipelineOutput) -> dict[str, object]:
    return {
        name: (
            o.rows_checked,
            [(f.datapoint_id, f.line, f.detail) for f in o.flags],
            dict(o.kinds),
            dict(o.stats),
        )
        for name, o in out.outputs.items()
    }


def test_local_and_ray_agree(tmp_path: Path) -> None:
    rows, planted = plant(400, {check: 5 for check in CHECKS})
    path = snapshot(rows, tmp_path, row_group=50)
    checks = default_checks(1000)
    # tasks of 100 rows, so both runners really split the work (local: in two processes)
    local = run_local(path, checks, processes=2, task_rows=100, inline_rows=0)
    try:
        on_ray = run_ray(path, checks, address="auto", workers=2, task_rows=100)
    finally:
        import ray

        ray.shutdown()  # its workers would idle beside the rest of the suite
    assert local.rows == on_ray.rows == 400
    assert comparable(on_ray) == comparable(local)
    assert {f.line for f in local.outputs["pii"].flags} == planted["pii"]


BUILD = """
import sys, uuid, random
from datetime import datetime, UTC
from gristmill.services.datasets.versions import SnapshotFile
from tests.quality.corpus import documented

n, target = int(sys.argv[1]), sys.argv[2]
pool, rng = documented(), random.Random(n)
snap = SnapshotFile()
for start in range(0, n, 5000):
    batch = []
    for i in range(start, min(n, start + 5000)):
        name, answer = pool[i % len(pool)]
        words = answer.split()
        rng.shuffle(words)
        messages = [{"role": "user", "content": f"Row {i}: what is {name}?"},
                    {"role": "assistant", "content": " ".join(words)}]
        batch.append({"id": str(uuid.uuid4()), "kind": "chat", "source_line": i + 1,
                      "input": {"messages": messages[:1]}, "output": messages[1:],
                      "created_at": datetime.now(UTC)})
    snap.add(batch)
snap._close_writer()
snap.path.rename(target)
"""

EVALUATE = """
import json, resource, sys
from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.local import run_local


def peak_mb():
    # VmHWM, not ru_maxrss, which keeps the forking process's peak across exec
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM")) / 1024


out = run_local(sys.argv[1], default_checks(65536), processes=2, task_rows=10_000, inline_rows=0)
print(json.dumps({
    "rows": out.rows,
    "parent_mb": peak_mb(),
    "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def peak_rss(rows: int, tmp_path: Path) -> dict[str, float]:
    path = tmp_path / f"{rows}.parquet"
    python(BUILD, str(rows), str(path))
    result: dict[str, float] = json.loads(python(EVALUATE, str(path)).strip().splitlines()[-1])
    assert result["rows"] == rows
    return result


def test_memory_stays_flat_from_20k_to_200k_rows(tmp_path: Path) -> None:
    """Ten times the rows: each worker holds one task of 10,000 rows at a time, so workers
    stay flat; the parent keeps the sketches on disk and reads them back a band at a time,
    so it grows by a few hundred bytes per row at most (the near-duplicate merge's sort)."""
    small, large = peak_rss(20_000, tmp_path), peak_rss(200_000, tmp_path)
    assert large["child_mb"] < small["child_mb"] * 1.15 + 20, (small, large)
    per_row = (large["parent_mb"] - small["parent_mb"]) * 2**20 / 180_000
    assert per_row < 600, (small, large)


def test_spilled_sketches_read_back_exactly(tmp_path: Path) -> None:
    """The merge reads spilled sketch arrays with `pread`, not through their memory map:
    random rows (repeated, in any order), a column of a 2-D array, and the whole array come
    back equal to what was spilled, across more than one read block."""
    import numpy as np

    from gristmill.pipeline import base
    from gristmill.pipeline.runners.tasks import SketchSpill

    spill = SketchSpill(tmp_path)
    rng = np.random.default_rng(7)
    rows = base.READ_ROWS + 1234
    arrays = {
        "sig": rng.integers(0, 2**32, size=(rows, 8), dtype=np.uint32),
        "ids": np.array([f"dp_{i}".encode() for i in range(rows)], dtype="S40"),
        "lines": np.arange(rows, dtype=np.int64),
    }
    half = rows // 2  # appended in two tasks, as a runner does
    spill.add({"near": {k: v[:half] for k, v in arrays.items()}})
    spill.add({"near": {k: v[half:] for k, v in arrays.items()}})
    read = spill.read("near")
    wanted = np.concatenate([rng.integers(0, rows, 500), [0, 0, rows - 1, 5, 6, 7, 4]])
    for key, expected in arrays.items():
        assert isinstance(read[key], np.memmap)
        assert (base.take(read[key], wanted) == expected[wanted]).all()
        assert (base.take(read[key], slice(None)) == expected).all()
    assert (base.take(read["sig"], (slice(None), 3)) == arrays["sig"][:, 3]).all()


def test_a_spilled_read_out_of_range_is_an_error(tmp_path: Path) -> None:
    import numpy as np
    import pytest

    from gristmill.pipeline import base

    path = tmp_path / "a"
    np.arange(10, dtype=np.int64).tofile(path)
    spilled = np.memmap(path, dtype=np.int64, mode="r", shape=(10,))
    for rows in ([10], [-1], [3, 12]):
        with pytest.raises(IndexError):
            base.take(spilled, np.array(rows))
    assert base.take(spilled, np.array([9, 0])).tolist() == [9, 0]
    assert base.take(spilled, slice(2, 5)).tolist() == [2, 3, 4]
    assert base.take(spilled, slice(None, None, 3)).tolist() == [0, 3, 6, 9]
