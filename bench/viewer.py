"""Benchmark: the web viewer's pages on a 1,000,000-row dataset (goal: every page under
300 ms), against Datasette's HTML pages over the same rows, measured in the same run.

Run from the repository root:

    .venv/bin/python bench/viewer.py                  # 1,000,000 rows
    .venv/bin/python bench/viewer.py --rows 50000     # smoke test

It starts a real server (SQLite + local blobs), uploads generated OpenAI chat rows
(`bench.common.generate_jsonl`), waits for the ingest and the evaluation, edits one row and
cuts a second version (so the diff page has something to show), records 100,000 gateway
logs, signs in through the sign-in form like a browser, then requests each page `--repeat`
times one after another and prints the median and the 95th percentile of the wall time
(loopback: the server's time plus well under a millisecond). The reference is Datasette
(`datasette serve -i`) over a plain copy of the same rows: its table page, a page deep in
its keyset (`_next`), and a row's page.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from bench.common import generate_jsonl, start_local_server  # noqa: E402
from bench.datasette_ref import build_reference, sample_ids, start_datasette  # noqa: E402

import gristmill  # noqa: E402

GOAL_MS = 300.0
LOGS = 100_000


def timed(http: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    """Median and p95 in ms, and the body size of the last answer."""
    walls = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        reply = http.get(path)
        walls.append((time.perf_counter() - t) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: {reply.status_code} {reply.text[:500]}")
        size = len(reply.content)
    walls.sort()
    return statistics.median(walls), walls[min(len(walls) - 1, int(len(walls) * 0.95))], size


def sign_in(base_url: str, api_key: str) -> httpx.Client:
    web = httpx.Client(base_url=base_url, timeout=600)
    form = web.get("/ui/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token
    done = web.post("/ui/sign-in", data={"api_key": api_key, "csrf": token[1]})
    if done.status_code != 303:
        raise RuntimeError(f"sign-in failed: {done.status_code}")
    return web


def record_logs(http: httpx.Client, n: int) -> None:
    batch = []
    for i in range(n):
        batch.append(
            {
                "gateway_id": "prod",
                "provider": "openai",
                "model": ("gpt-4o-mini", "gpt-4o", "o3-mini")[i % 3],
                "request": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
                "response": {"choices": [{"message": {"role": "assistant", "content": "A."}}]},
                "success": i % 17 != 0,
                "tokens_in": 20 + i % 200,
                "tokens_out": 10 + i % 50,
                "cost": (i % 100) / 10_000,
                "feedback": (1, -1, None)[i % 3],
            }
        )
        if len(batch) == 1000:
            http.post("/native/v1/logs", json={"logs": batch}).raise_for_status()
            batch = []
    if batch:
        http.post("/native/v1/logs", json={"logs": batch}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = generate_jsonl(work / "chats.jsonl", rows=args.rows)
        print(f"{data.rows:,} chat rows, {data.bytes / 1e6:,.0f} MB of JSONL")
        server = start_local_server(work / "server")
        ref_server = None
        try:
            t = time.perf_counter()
            with gristmill.Client(server.base_url, server.admin_key, timeout=3600) as gm:
                ds = gm.datasets.upload(data.path, name="chats", timeout=7200)
                report = gm.datasets.evaluation(ds["id"], wait=True, timeout=7200)
            print(f"upload + ingest + evaluation: {time.perf_counter() - t:,.0f} s")
            api = httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {server.admin_key}"},
                timeout=600,
            )
            dataset_id = ds["id"]
            rows = api.get(f"/native/v1/datasets/{dataset_id}/rows", params={"limit": 3}).json()
            first_id = rows["data"][0]["id"]
            renamed = api.patch(  # a change keeps the id: the diff shows it word by word
                f"{server.base_url}/v1/datasets/chats/datapoints/metadata",
                json={"datapoints": [{"id": first_id, "name": "renamed"}]},
            )
            renamed.raise_for_status()
            api.post(f"/native/v1/datasets/{dataset_id}/versions").raise_for_status()
            t = time.perf_counter()
            with gristmill.Client(server.base_url, server.admin_key, timeout=3600) as gm:
                gm.datasets.evaluation(dataset_id, wait=True, timeout=7200)  # and its diff
            print(f"second version evaluated (and diffed) in {time.perf_counter() - t:,.0f} s")
            t = time.perf_counter()
            record_logs(api, LOGS)
            print(f"{LOGS:,} gateway logs recorded in {time.perf_counter() - t:,.0f} s")

            ref = work / "ref.db"
            build_reference(work / "server" / "gristmill.db", ref, "chats")
            any_ids, _ = sample_ids(ref, data.rows, random.Random(7), 50, 1000)
            deep_id = any_ids[0]
            flagged = max(report["checks"], key=lambda c: c["flagged"])
            web = sign_in(server.base_url, server.admin_key)
            base = f"/ui/datasets/{dataset_id}"
            pages = {
                "datasets": "/ui/datasets",
                "dataset (grade card, histograms, versions)": base,
                "rows, first page": f"{base}/rows",
                "rows, a page deep in the keyset": f"{base}/rows?after={deep_id}",
                f"rows flagged by {flagged['check']} ({flagged['flagged']:,})": (
                    f"{base}/rows?flag={flagged['check']}"
                ),
                "rows of a kind (count capped)": f"{base}/rows?kind=chat",
                "rows, text search (a common word)": f"{base}/rows?q=the",
                "rows, text search (no row has it: one window)": f"{base}/rows?q=zqxjvw",
                "a row's page": f"{base}/rows/{deep_id}",
                "diff of the two versions": f"{base}/diff",
                "runs": f"{base}/runs",
                f"logs ({LOGS:,})": "/ui/logs/prod",
                "logs, filtered": "/ui/logs/prod?model=gpt-4o&success=true&cost_above=0.005",
            }
            ref_server = start_datasette(ref, work / "datasette.log")
            ref_http = httpx.Client(base_url=ref_server.base_url, timeout=600)
            references = {
                "table page": "/ref/datapoints?_size=50",
                "a page deep in the keyset": f"/ref/datapoints?_size=50&_next={deep_id}",
                "a row's page": f"/ref/datapoints/{deep_id}",
            }
            print(f"\n{'page':48} {'median':>9} {'p95':>9} {'size':>9}  goal < {GOAL_MS:.0f} ms")
            worst = 0.0
            for label, path in pages.items():
                median, p95, size = timed(web, path, args.repeat)
                worst = max(worst, p95)
                mark = "met" if p95 < GOAL_MS else "MISSED"
                print(f"{label:48} {median:7.1f}ms {p95:7.1f}ms {size / 1e3:7.0f}kB  {mark}")
            print("\nDatasette over the same rows (reference):")
            ref_times = {}
            for label, path in references.items():
                median, p95, size = timed(ref_http, path, args.repeat)
                ref_times[label] = median
                print(f"{label:48} {median:7.1f}ms {p95:7.1f}ms {size / 1e3:7.0f}kB")
            ours = {
                "table page": timed(web, f"{base}/rows", args.repeat)[0],
                "a page deep in the keyset": timed(web, f"{base}/rows?after={deep_id}", 5)[0],
                "a row's page": timed(web, f"{base}/rows/{deep_id}", args.repeat)[0],
            }
            print("\nratio to Datasette (median):")
            for label, ref_ms in ref_times.items():
                print(f"  {label:46} {ours[label] / ref_ms:5.2f}x")
            print(f"\nslowest p95: {worst:.1f} ms (goal < {GOAL_MS:.0f} ms: "
                  f"{'met' if worst < GOAL_MS else 'missed'})")  # fmt: skip
        finally:
            if ref_server is not None:
                ref_server.stop()
            server.stop()


if __name__ == "__main__":
    main()
