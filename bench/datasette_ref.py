"""The reference side of `bench/datapoints.py`: the same rows copied out of Gristmill's
SQLite file into a plain table, served by `datasette serve -i`."""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench.common import stop_process
from tests.support import free_port

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def build_reference(gristmill_db: Path, ref: Path, dataset: str) -> int:
    """Copy the dataset's live rows out of Gristmill's SQLite file (read-only) into a fresh
    SQLite file, in id order; returns the row count."""
    con = sqlite3.connect(ref.as_uri(), uri=True)  # URI mode, so that ATTACH takes ?mode=ro
    try:
        con.execute("ATTACH DATABASE ? AS gm", (f"{gristmill_db.as_uri()}?mode=ro",))
        con.execute(
            "CREATE TABLE datapoints (id TEXT PRIMARY KEY, function_name TEXT, input TEXT, "
            "output TEXT, tags TEXT, created_at TEXT)"
        )
        (dataset_id,) = con.execute(
            "SELECT id FROM gm.datasets WHERE name = ? ORDER BY created_at DESC LIMIT 1",
            (dataset,),
        ).fetchone()
        con.execute(
            "INSERT INTO datapoints SELECT id, function_name, input, output, tags, created_at "
            "FROM gm.datapoints WHERE dataset_id = ? AND staled_at IS NULL ORDER BY id",
            (dataset_id,),
        )
        con.commit()
        con.execute("DETACH DATABASE gm")
        (count,) = con.execute("SELECT count(*) FROM datapoints").fetchone()
        return int(count)
    finally:
        con.close()


def sample_ids(
    ref: Path, rows: int, rng: random.Random, window: int, sample: int
) -> tuple[list[str], list[str]]:
    """Random ids over the whole table (for gets), and the first `window` ids in key order
    (Datasette's `_next` keys: the page after each starts at that row)."""
    con = sqlite3.connect(f"{ref.as_uri()}?mode=ro", uri=True)
    try:
        rowids = rng.sample(range(1, rows + 1), min(sample, rows))
        marks = ",".join("?" * len(rowids))
        any_ids = [
            r[0] for r in con.execute(f"SELECT id FROM datapoints WHERE rowid IN ({marks})", rowids)
        ]
        first = [
            r[0] for r in con.execute("SELECT id FROM datapoints ORDER BY id LIMIT ?", (window,))
        ]
    finally:
        con.close()
    rng.shuffle(any_ids)
    if not all(UUID_RE.match(i) for i in any_ids[:100] + first[:100]):
        raise RuntimeError("ids are not UUIDs: Datasette's paths would need tilde-encoding")
    return any_ids, first


@dataclass
class Datasette:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        stop_process(self.proc)


def start_datasette(ref: Path, log_path: Path, timeout: float = 60.0) -> Datasette:
    exe = shutil.which("datasette") or str(Path(sys.executable).parent / "datasette")
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [exe, "serve", "-i", str(ref), "--host", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ds = Datasette(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            ds.stop()
            raise RuntimeError(f"datasette did not start:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{ds.base_url}/-/versions.json", timeout=1.0).status_code == 200:
                return ds
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def datasette_version() -> str:
    try:
        from importlib.metadata import version

        return version("datasette")
    except Exception:
        return "?"
