"""Benchmark: exports of a 1,000,000-row version and `load_dataset` through the Hub door,
against references measured in the same run.

Run from the repository root:

    .venv/bin/python bench/export.py                  # 1,000,000 rows
    .venv/bin/python bench/export.py --rows 50000     # smoke test

It starts a real server (SQLite + local blobs), uploads generated OpenAI chat rows
(`bench.common.generate_jsonl`) and waits for the ingest, then:

1. exports the version as `openai-chat` JSONL and as Parquet with the native door's export
   job, and measures each job's wall time and the server's peak RSS;
2. has DuckDB `COPY` the same version snapshot to JSON lines and to Parquet (the reference;
   the goal is an export within 2x of it);
3. loads the dataset with `datasets.load_dataset("<account>/<name>")` through the Hub door
   (`HF_ENDPOINT`), against `load_dataset("parquet", data_files=...)` of the same Parquet
   file from local disk, each in a fresh process with an empty cache, three alternating runs
   of each after one process has imported `datasets` (goal: the medians within 1.5x).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import adaption  # noqa: E402
import httpx  # noqa: E402
from bench.common import generate_jsonl, start_local_server, status_kb  # noqa: E402

GOAL_EXPORT, GOAL_LOAD = 2.0, 1.5
LOAD_RUNS = 3


def _wait_export(http: httpx.Client, dataset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    export = http.post(f"/native/v1/datasets/{dataset_id}/exports", json=body).json()
    while export["status"] in ("pending", "running"):
        time.sleep(0.2)
        export = http.get(f"/native/v1/datasets/{dataset_id}/exports/{export['id']}").json()
    if export["status"] != "succeeded":
        raise RuntimeError(f"export failed: {export}")
    export["wall"] = time.perf_counter() - t
    return export


def _duckdb(snapshot: Path, out: Path, fmt: str) -> float:
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_parquet('{snapshot}')) TO '{out}' (FORMAT {fmt})")
    return time.perf_counter() - t


LOAD = """
import json, sys, time
t = time.perf_counter()
import datasets
if sys.argv[1] == "hub":
    ds = datasets.load_dataset(sys.argv[2], split="train")
else:
    ds = datasets.load_dataset("parquet", data_files=sys.argv[2], split="train")
print(json.dumps({"rows": len(ds), "wall": time.perf_counter() - t}))
"""


def _load(kind: str, target: str, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        run_env = {**os.environ, **env, "HF_HOME": home, "HF_UPDATE_DOWNLOAD_COUNTS": "0"}
        run_env["HF_HUB_DISABLE_TELEMETRY"] = "1"
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(LOAD), kind, target],
            capture_output=True, text=True, env=run_env,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = generate_jsonl(work / "chats.jsonl", rows=args.rows)
        print(f"{data.rows:,} chat rows, {data.bytes / 1e6:,.0f} MB of JSONL")
        server = start_local_server(work / "server")
        try:
            client = adaption.Adaption(
                api_key=server.admin_key, base_url=server.base_url, max_retries=0, timeout=3600
            )
            t = time.perf_counter()
            dataset_id = client.datasets.upload_file(data.path, name="chats").dataset_id
            ds = client.datasets.wait_for_completion(dataset_id, initial_interval=1, timeout=7200)
            print(f"upload + ingest: {time.perf_counter() - t:,.1f} s ({ds.status})")
            # the export job queues behind the version's evaluation on the one worker
            client.datasets.wait_for_evaluation(dataset_id, initial_interval=1, timeout=7200)
            http = httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {server.admin_key}"},
                timeout=600,
            )
            version = http.get(f"/native/v1/datasets/{dataset_id}/versions").json()["data"][0]
            snapshot = next((work / "server" / "blobs" / "versions").rglob(f"{version['id']}*"))
            rss_before = status_kb(server.proc.pid, "VmRSS") / 1024
            # forget the ingest's and the evaluation's peak: the exports' own is measured
            Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")
            results = {}
            for fmt, duck in (("openai-chat", "JSON"), ("parquet", "PARQUET")):
                export = _wait_export(http, dataset_id, {"format": fmt})
                ref = _duckdb(snapshot, work / f"duck.{duck.lower()}", duck)
                results[fmt] = (export, ref)
                ratio = export["wall"] / ref
                print(
                    f"{fmt:12} export {export['wall']:7.1f} s "
                    f"({export['rows_written'] / export['wall']:,.0f} rows/s, "
                    f"{export['files'][0]['bytes'] / 1e6:,.0f} MB) | DuckDB COPY {duck:7} "
                    f"{ref:6.1f} s | {ratio:.2f}x (goal <= {GOAL_EXPORT}x: "
                    f"{'met' if ratio <= GOAL_EXPORT else 'missed'})"
                )
            peak = status_kb(server.proc.pid, "VmHWM") / 1024
            print(
                f"server RSS: {rss_before:,.0f} MB before the exports, "
                f"peak during them {peak:,.0f} MB"
            )

            parquet_url = results["parquet"][0]["files"][0]["url"]
            local = work / "local.parquet"
            local.write_bytes(httpx.get(parquet_url, timeout=600).content)
            hub_env = {"HF_ENDPOINT": f"{server.base_url}/hf", "HF_TOKEN": server.admin_key}
            # the exports and DuckDB left about a GB of dirty pages: flushed now, the kernel's
            # writeback does not compete with the first loads' writes to their caches
            os.sync()
            # the first process to import `datasets` reads its modules from a cold page
            # cache (seconds on a slow disk): warm it, or the first side measured pays for both
            subprocess.run([sys.executable, "-c", "import datasets"], check=True)
            # alternating runs, each in a fresh process: one load varies by a few tenths
            hub_walls, disk_walls = [], []
            for _ in range(LOAD_RUNS):
                via_hub = _load("hub", "default/chats", hub_env)
                hub_walls.append(via_hub["wall"])
                disk_walls.append(_load("local", str(local), {})["wall"])
            hub_s, disk_s = statistics.median(hub_walls), statistics.median(disk_walls)
            ratio = hub_s / disk_s
            print(
                f"load_dataset via the Hub door {hub_s:6.2f} s ({via_hub['rows']:,} rows)"
                f" | from local Parquet {disk_s:6.2f} s | {ratio:.2f}x "
                f"(goal <= {GOAL_LOAD}x: {'met' if ratio <= GOAL_LOAD else 'missed'}); medians "
                f"of {LOAD_RUNS} runs each, hub {', '.join(f'{w:.2f}' for w in hub_walls)}, "
                f"local {', '.join(f'{w:.2f}' for w in disk_walls)}"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
