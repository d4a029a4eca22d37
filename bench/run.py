"""Benchmark: an adaptation run of 10,000 rows against a model server that answers every call
in 200 ms, with 64 calls in flight: rows/s against the physical limit (64 / 0.2 s = 320
calls/s, one call per row) and against a bare httpx client making the same calls in the same
run, Gristmill's own CPU time per row, and the run's peak RSS at a fifth of the rows and at
all of them (flat is the goal; the peak is reset when the run starts, so the ingest and
evaluation before it do not count).

Run from the repository root:

    .venv/bin/python bench/run.py                 # 10,000 rows
    .venv/bin/python bench/run.py --rows 2000     # smoke test
    BENCH_PROFILE=/tmp/run.prof .venv/bin/python bench/run.py   # + cProfile of the run job

The model server is `bench/fast_model.py` (uvicorn, its own process: the suite's threaded
stub tops out near 200 calls/s by itself); the run runs in a fresh child process on SQLite +
local blobs, as a worker would run it: the ingest, its evaluation, then the run job, of which
only the run is timed.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import free_port, wait_for  # noqa: E402

CONCURRENCY = 64
LATENCY = 0.2

CHILD = """
import json, resource, sys, time
from pathlib import Path
from gristmill.hub import Hub
from gristmill.jobs.kinds import register_all
from gristmill.jobs.worker import Worker
from gristmill.services.accounts import Principal, issue_key
from gristmill.services.datasets import datasets
from gristmill.services.runs import runs
from gristmill.settings import Settings


def peak_mb():
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM")) / 1024


rows = int(sys.argv[1])
hub = Hub.open(Settings())
issued = issue_key(hub, account_name="bench")
caller = Principal(issued.account_id, issued.identity_id, "user", issued.key_id)
body = "".join(
    json.dumps({"prompt": f"Question {i}: how would you explain topic number {i} to a "
                f"new colleague in plain words?", "completion": f"Answer {i}."}) + "\\n"
    for i in range(rows)
).encode()
ds = datasets.create_dataset(hub, caller, name="bench", origin="native")
key = f"datasets/{caller.account_id}/{ds.id}/source/rows.jsonl"
hub.blobs.put(key, [body])
datasets.start_ingest(hub, caller.account_id, ds.id, blob_key=key, filename="rows.jsonl")
register_all()
worker = Worker(hub, "bench")
worker.run_once()  # the ingest
worker.run_once()  # its evaluation
started = runs.start_run(hub, caller.account_id, ds.id, {
    "column_mapping": {"prompt": "prompt", "completion": "completion"},
    "recipe_specification": {"recipes": {"prompt_rephrase": True, "deduplication": False}},
})
with open("/proc/self/clear_refs", "w") as fh:  # the peak RSS from here on is the run's
    fh.write("5")
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
t, t_wall = time.perf_counter(), time.time()
import os
if os.environ.get("BENCH_PROFILE"):
    import cProfile; cProfile.run("worker.run_once()", os.environ["BENCH_PROFILE"])
else:
    worker.run_once()  # the run
wall = time.perf_counter() - t
t_end = time.time()
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
run = runs.get_run(hub, caller.account_id, started.run.id)
from sqlalchemy import func, select
from gristmill.store.metadata.models import InferenceLog
with hub.db.session() as s:
    call_ms = s.scalar(select(func.avg(InferenceLog.duration_ms)))
    stamps = sorted(s.scalars(select(InferenceLog.created_at)))
    first_ms = s.scalar(select(InferenceLog.duration_ms).order_by(InferenceLog.created_at))
# the calls' own span: from the first answer written to the last (one wave of calls early)
calls_span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0.0
from datetime import UTC
def epoch(d):
    return d.replace(tzinfo=UTC).timestamp()
before = epoch(stamps[0]) - (first_ms or 0) / 1000 - t_wall if stamps else 0.0
after = t_end - epoch(stamps[-1]) if stamps else 0.0
print(json.dumps({
    "call_ms": float(call_ms or 0), "calls_span": calls_span, "calls_n": len(stamps),
    "before": before, "after": after,
    "rows": rows, "wall": wall, "status": run.status, "error": run.error,
    "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
    "calls": run.report["calls"] if run.report else None,
    "estimate_minutes": run.estimate["minutes"], "peak_mb": peak_mb(),
}))
"""


REFERENCE = """
import asyncio, json, sys, time
import httpx

url, n, concurrency, per_client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 8
body = json.dumps({"model": "stub-model", "max_tokens": 100, "messages": [
    {"role": "system", "content": "Rewrite the user's prompt."},
    {"role": "user", "content": "Question 1: how would you explain topic number 1?"}]}).encode()


async def main():
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    clients = [httpx.AsyncClient(limits=limits) for _ in range(-(-concurrency // per_client))]
    slots = asyncio.Semaphore(concurrency)

    async def one(i):
        async with slots:
            r = await clients[i % len(clients)].post(
                url + "/chat/completions", content=body,
                headers={"content-type": "application/json"})
            r.json()

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    print(json.dumps({"rate": n / (time.perf_counter() - t)}))

asyncio.run(main())
"""


def model_env(url: str) -> dict[str, str]:
    return {
        "GRISTMILL_UPSTREAMS": json.dumps({"openai": {"base_url": url}}),
        "GRISTMILL_GATEWAY_TIMEOUT_SECONDS": "30",
        "GRISTMILL_RUN_MODEL": "openai/stub-model",
        "GRISTMILL_MODEL_PRICES": json.dumps({"stub-model": [1.0, 2.0]}),
    }


def measure(rows: int, url: str, work: Path) -> dict[str, Any]:
    data = work / f"data-{rows}"
    env = {
        **os.environ,
        **model_env(url),
        "GRISTMILL_DATA_DIR": str(data),
        "GRISTMILL_RUN_CONCURRENCY": str(CONCURRENCY),
        "PYTHONPATH": str(REPO / "src"),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(rows)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000)
    args = p.parse_args()
    limit = CONCURRENCY / LATENCY
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fast_model.py"), str(port), str(LATENCY)]
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(f"http://127.0.0.1:{port}/", server)
        with tempfile.TemporaryDirectory() as tmp:
            small = measure(max(args.rows // 5, 100), url, Path(tmp))
            full = measure(args.rows, url, Path(tmp))
        ref = subprocess.run(
            [sys.executable, "-c", REFERENCE, url, str(args.rows), str(CONCURRENCY)],
            capture_output=True,
            text=True,
            check=True,
        )
        reference = json.loads(ref.stdout)["rate"]
    finally:
        server.terminate()
        server.wait(10)
    for r in (small, full):
        assert r["status"] == "succeeded", r
    rate = full["rows"] / full["wall"]
    print(
        f"run: {full['rows']:,} rows, one model call each, {CONCURRENCY} in flight, "
        f"model answers in {LATENCY * 1000:.0f} ms"
    )
    print(
        f"  wall {full['wall']:.1f} s = {rate:,.0f} rows/s; physical limit {limit:,.0f} "
        f"calls/s; ratio {rate / limit:.2f}x (goal >= 0.9x)"
    )
    print(
        f"  reference: a bare httpx client making the same number of calls, 64 in flight: "
        f"{reference:,.0f} calls/s ({reference / limit:.2f}x the limit); Gristmill "
        f"{rate / reference:.2f}x of it"
    )
    print(
        f"  Gristmill's own CPU: {full['cpu'] / full['rows'] * 1000:.2f} ms per row "
        f"({full['cpu']:.1f} s over the run, 2 cores)"
    )
    print(
        f"  a call takes {full['call_ms']:.0f} ms on average as the gateway sees it "
        f"(the model answers in {LATENCY * 1000:.0f} ms)"
    )
    if full["calls_span"]:
        steady = (full["calls_n"] - 1) / full["calls_span"]
        print(
            f"  between the first answer and the last: {steady:,.0f} calls/s "
            f"({steady / limit:.2f}x the limit); before the first call "
            f"{full['before']:.2f} s, after the last answer {full['after']:.2f} s"
        )
    print(
        f"  estimate said {full['estimate_minutes'] * 60:.1f} s at the configured seconds per call"
    )
    print(
        f"  peak RSS: {small['peak_mb']:.0f} MB at {small['rows']:,} rows, "
        f"{full['peak_mb']:.0f} MB at {full['rows']:,} rows (flat is the goal)"
    )


if __name__ == "__main__":
    main()
