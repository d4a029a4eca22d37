"""Benchmark: 1,000,000 chat rows (~460 MB of JSONL) from upload to a `succeeded` dataset,
next to DuckDB and Hugging Face `datasets` reading the same file in the same run.

Run from the repository root:

    .venv/bin/python bench/ingest.py                  # 1,000,000 rows
    .venv/bin/python bench/ingest.py --rows 20000     # smoke test
    .venv/bin/python bench/ingest.py --profile        # also py-spy the worker during the ingest

It generates OpenAI chat rows (`{"messages": [system, user, assistant]}` per line) into a temp
dir, starts a real `gristmill serve --no-worker` (SQLite + local blobs in a fresh data dir) and
a separate `gristmill worker` with the same environment, and samples both processes' RSS.
With the official `adaption` SDK it runs `datasets.upload_file` (create → PUT → complete) and
`datasets.wait_for_completion` (polling every 0.25 s), timing from the upload call to
`succeeded`, and checks the dataset's row count. Then, each in its own process
(`bench/references.py`), it times DuckDB `COPY (SELECT * FROM read_json(file)) TO x.parquet`
and `datasets.load_dataset('json', data_files=file)` with a fresh cache dir, and prints the
ratios, the memory and speed targets, and with `--profile` where the worker's time goes.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import adaption  # noqa: E402
import httpx  # noqa: E402
from bench.common import (  # noqa: E402
    MB,
    PROFILE_RATE,
    Generated,
    PhaseTimer,
    PySpy,
    RssSampler,
    WorkerProcess,
    cpu_seconds,
    frame_func,
    frame_name,
    generate_jsonl,
    interrupts_exit,
    mbps,
    note,
    start_local_server,
    start_worker,
    status_kb,
    stop_all,
    verdict,
)
from tests.support import LiveServer  # noqa: E402

RSS_TARGET_MB = 500.0
POLL_SECONDS = 0.25
REFERENCES = (
    ("duckdb", "DuckDB COPY read_json → parquet"),
    ("datasets", "datasets.load_dataset('json')"),
)
SPEED_REFERENCE = "datasets"

# --------------------------------------------------------------------------- what the client sees


def adaption_phase(request: httpx.Request) -> str:
    """The Adaption door call a request belongs to."""
    path = request.url.path.rstrip("/")
    if request.method == "POST" and path.endswith("/api/v1/datasets"):
        return "create"
    if path.endswith("/upload/complete"):
        return "complete"
    if path.endswith("/status"):
        return "status"
    return "other"


@dataclass(frozen=True)
class Poll:
    at: float  # time.perf_counter() when the answer arrived
    status: str
    done: int | None
    total: int | None


class StatusLog:
    """An httpx response hook that keeps every status answer the SDK's polling receives."""

    def __init__(self) -> None:
        self.polls: list[Poll] = []

    def on_response(self, response: httpx.Response) -> None:
        if adaption_phase(response.request) != "status" or response.status_code != 200:
            return
        response.read()
        body: dict[str, Any] = response.json()
        progress = body.get("progress") or {}
        self.polls.append(
            Poll(
                at=time.perf_counter(),
                status=str(body.get("status")),
                done=progress.get("processed_rows"),
                total=progress.get("total_rows"),
            )
        )

    def first(self, *, status: str | None = None, all_rows: bool = False) -> Poll | None:
        for poll in self.polls:
            if status is not None and poll.status != status:
                continue
            if all_rows and not (poll.total and poll.done == poll.total):
                continue
            return poll
        return None


_JOB_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) gristmill\.worker job (?P<job>\S+) "
    r"(?:\((?P<kind>\w+)\) attempt (?P<attempt>\d+) started|(?P<done>succeeded))"
)


def job_times(log_text: str) -> dict[str, float]:
    """Wall-clock times of the worker's ingest job, from its log: `started` (last attempt)
    and `succeeded`, plus `attempts`."""
    out: dict[str, float] = {}
    ingest_jobs: set[str] = set()
    for line in log_text.splitlines():
        m = _JOB_LINE.match(line)
        if m is None:
            continue
        # asctime is local time, like datetime.timestamp() assumes for a naive datetime
        at = datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if m["kind"] == "ingest":
            ingest_jobs.add(m["job"])
            out["started"] = at
            out["attempts"] = float(m["attempt"])
        elif m["done"] and m["job"] in ingest_jobs:
            out["succeeded"] = at
    return out


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    name: str
    label: str
    seconds: float
    import_seconds: float
    wall_seconds: float
    rows: int
    peak_rss_kb: int


def run_reference(name: str, label: str, file: Path, work: Path) -> Reference:
    """One reference in its own process, offline, with its caches inside `work`."""
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(work / "hf-home"),
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "TMPDIR": str(work),
    }
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "references.py"), name, str(file), str(work)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"reference {name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return Reference(
        name=name,
        label=label,
        seconds=float(out["seconds"]),
        import_seconds=float(out["import_seconds"]),
        wall_seconds=wall,
        rows=int(out["rows"]),
        peak_rss_kb=int(out["peak_rss_kb"]),
    )


# --------------------------------------------------------------------------- profile


# Where a sample of the ingest job goes: the first rule whose function is on the stack wins.
_CATEGORIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("count lines for progress total (estimate_total)", frozenset({"estimate_total"})),
    ("snapshot: SELECT rows back + ORM objects (iter_datapoints)", frozenset({"iter_datapoints"})),
    (
        "snapshot: JSON text + Arrow + Parquet + blob (write_snapshot)",
        frozenset({"write_snapshot"}),
    ),
    ("final commit: drop stale rows, version, status (_finalize)", frozenset({"_finalize"})),
    ("progress updates (_set_progress)", frozenset({"_set_progress"})),
    ("parse JSON lines (orjson, parse_line)", frozenset({"parse_line"})),
    ("read + split lines (jsonl_rows)", frozenset({"jsonl_rows"})),
    ("validate + shape rows (normalize)", frozenset({"normalize"})),
    ("reader bookkeeping (_batches, _mapped, _add)", frozenset({"_batches"})),
    ("build insert dicts + uuid7 (_datapoint_rows)", frozenset({"_datapoint_rows"})),
    ("SQL: COMMIT per batch", frozenset({"commit", "_commit_impl", "do_commit"})),
    ("SQL: ORM bulk INSERT of datapoints (Session.execute)", frozenset({"execute"})),
)


@dataclass
class Profile:
    samples: int = 0
    rate: int = PROFILE_RATE
    categories: Counter[str] = field(default_factory=Counter)
    category_leaves: dict[str, Counter[str]] = field(default_factory=dict)
    leaves: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def analyse(stacks: Counter[tuple[str, ...]], rate: int) -> Profile:
    """The ingest job's samples (the worker's stacks through `run_ingest`), by category,
    by leaf frame (self time) and by frame anywhere on the stack (inclusive time)."""
    prof = Profile(rate=rate)
    for stack, count in stacks.items():
        names = [frame_func(f) for f in stack]
        if "run_ingest" not in names:
            continue  # the idle poll loop, the heartbeat thread
        prof.samples += count
        on_stack = set(names)
        category = next(
            (label for label, funcs in _CATEGORIES if funcs & on_stack), "other (run_ingest)"
        )
        prof.categories[category] += count
        prof.category_leaves.setdefault(category, Counter())[_leaf(stack, names)] += count
        prof.leaves[stack[-1]] += count
        for frame in set(stack):
            prof.inclusive[frame] += count
    return prof


def _leaf(stack: tuple[str, ...], names: list[str]) -> str:
    """The innermost frame, or `import <package>` when the sample is inside an import."""
    if "_find_and_load" in names:
        start = names.index("_find_and_load")
        module = next((f for f in stack[start:] if frame_func(f) == "<module>"), None)
        if module is not None:
            return "import " + module.split(" (", 1)[1].split("/", 1)[0].rstrip(")")
    return frame_name(stack[-1])


def print_profile(prof: Profile, top: int = 12, per_category: int = 3) -> None:
    if not prof.samples:
        print("profile: py-spy saw no samples of the ingest job")
        return
    total = prof.samples
    print(
        f"worker profile (py-spy {prof.rate} Hz, idle stacks included, "
        f"{total} samples ≈ {total / prof.rate:.1f} s of the ingest job):"
    )
    for label, n in prof.categories.most_common():
        print(f"  {100 * n / total:5.1f}%  {n / prof.rate:7.1f} s  {label}")
        leaves = prof.category_leaves[label].most_common(per_category)
        print("                    in: " + ", ".join(f"{f} {100 * k / n:.0f}%" for f, k in leaves))
    print(f"  top {top} functions by self time:")
    for frame, n in prof.leaves.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {frame}")
    print(f"  top {top} gristmill functions by inclusive time (below the job's entry):")
    ours = [(f, n) for f, n in prof.inclusive.most_common() if "gristmill/" in f and n < total]
    for frame, n in ours[:top]:
        print(f"    {100 * n / total:5.1f}%  {frame}")


# --------------------------------------------------------------------------- the run


@dataclass
class Processes:
    """Everything this run started, stopped in reverse order whatever happens."""

    server: LiveServer | None = None
    worker: WorkerProcess | None = None
    spy: PySpy | None = None

    def stop(self) -> None:
        stop_all(self.spy, self.worker, self.server)


def line(label: str, text: str) -> None:
    print(f"  {label:<34} {text}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


@dataclass
class GristmillRun:
    """What one upload → succeeded measured. `marks` are seconds from the upload_file() call."""

    total_s: float
    marks: dict[str, float]
    cpu: dict[str, float]
    idle_kb: dict[str, int]
    hwm_kb: dict[str, int]
    rss: dict[str, RssSampler]
    t0: float  # time.perf_counter() of the upload_file() call
    checks: list[str]
    ok: bool
    stacks: Counter[tuple[str, ...]] | None


def ingest_with_gristmill(
    args: argparse.Namespace, gen: Generated, work: Path, procs: Processes
) -> GristmillRun:
    spool = work / "spool"  # every temp file of both processes stays in the work dir
    spool.mkdir()
    procs.server = server = start_local_server(
        work / "data", extra_env={"TMPDIR": str(spool)}, worker=False
    )
    procs.worker = worker = start_worker(server, "bench")
    pids = {"server": server.proc.pid, "worker": worker.pid}
    idle_kb = {role: status_kb(pid, "VmRSS") for role, pid in pids.items()}
    phases = PhaseTimer(adaption_phase)
    statuses = StatusLog()
    hooks = phases.hooks()
    hooks["response"].append(statuses.on_response)
    client = adaption.Adaption(
        api_key=server.admin_key,
        base_url=server.base_url,
        timeout=600,
        max_retries=0,
        http_client=adaption.DefaultHttpxClient(event_hooks=hooks),
    )
    if args.profile:
        procs.spy = PySpy(worker.pid, work / "worker-profile.txt", idle=True)
        time.sleep(0.5)  # let py-spy attach before the clock starts
    os.sync()  # no dirty pages left from writing the file
    cpu0 = {role: cpu_seconds(pid) for role, pid in pids.items()}
    note(args, f"uploading {gen.path.name} through the Adaption door of {server.base_url}")
    with RssSampler(pids["server"]) as server_rss, RssSampler(pids["worker"]) as worker_rss:
        wall0, t0 = time.time(), time.perf_counter()
        created = client.datasets.upload_file(gen.path, name="bench-chat")
        note(args, f"uploaded in {time.perf_counter() - t0:.1f} s; waiting for the ingest")
        final = client.datasets.wait_for_completion(
            created.dataset_id,
            initial_interval=POLL_SECONDS,
            max_interval=POLL_SECONDS,
            timeout=args.timeout,
        )
        total_s = time.perf_counter() - t0
    stacks = None
    if procs.spy is not None:
        procs.spy.stop()
        stacks = procs.spy.stacks()
    cpu = {role: cpu_seconds(pid) - cpu0[role] for role, pid in pids.items()}
    hwm_kb = {role: status_kb(pid, "VmHWM") for role, pid in pids.items()}
    hwm_kb["client"] = status_kb(os.getpid(), "VmHWM")  # upload_file reads the whole file
    note(args, f"{created.dataset_id} {final.status} after {total_s:.1f} s")

    checks: list[str] = []
    same = final.status == "succeeded" and final.row_count == gen.rows
    checks.append(
        f"status {final.status}, row_count {final.row_count} (generated {gen.rows}): "
        f"{'OK' if same else 'FAIL'}"
    )
    got = client.datasets.get(created.dataset_id)
    same_get = got.row_count == gen.rows
    checks.append(f"get(): row_count {got.row_count}: {'OK' if same_get else 'FAIL'}")
    if final.status != "succeeded":
        checks.append(f"error: {final.error_data!r}")

    marks = {"start": 0.0, "succeeded (client)": total_s}
    if (span := phases.first("create")) is not None:
        marks["create answered"] = span[1] - t0
    if (span := phases.first("complete")) is not None:
        marks["complete sent"] = span[0] - t0
        marks["complete answered"] = span[1] - t0
    times = job_times(worker.log_text())
    for key in ("started", "succeeded"):
        if key in times:
            marks[f"job {key}"] = times[key] - wall0
    all_rows = statuses.first(status="running", all_rows=True) or statuses.first(status="succeeded")
    if all_rows is not None:
        marks["all rows in (poll)"] = all_rows.at - t0
    return GristmillRun(
        total_s=total_s,
        marks=marks,
        cpu=cpu,
        idle_kb=idle_kb,
        hwm_kb=hwm_kb,
        rss={"server": server_rss, "worker": worker_rss},
        t0=t0,
        checks=checks,
        ok=same and same_get,
        stacks=stacks,
    )


def report(
    gen: Generated,
    gen_s: float,
    run: GristmillRun,
    refs: list[Reference],
    loads: tuple[float, float],
) -> bool:
    """Prints the figures; False when a reference read a different number of rows."""
    ok = True
    total_s, marks = run.total_s, run.marks
    print(
        f"gristmill ingest benchmark: {gen.rows:,} chat rows, {gen.bytes / MB:.1f} MB JSONL "
        f"(generated in {gen_s:.1f} s); {os.cpu_count()} CPUs, "
        f"load avg {loads[0]:.2f} before / {loads[1]:.2f} after"
    )
    print(
        "gristmill (serve --no-worker + 1 worker, SQLite + local blobs; adaption SDK "
        f"upload_file + wait_for_completion polling every {POLL_SECONDS} s):"
    )
    line(
        "upload_file() → succeeded:",
        f"{total_s:8.2f} s  ({gen.rows / total_s:,.0f} rows/s, "
        f"{mbps(gen.bytes, total_s):.1f} MB/s)",
    )

    def between(label: str, start: str, end: str, rows: bool = False) -> None:
        if start in marks and end in marks:
            seconds = marks[end] - marks[start]
            extra = f"  ({gen.rows / seconds:,.0f} rows/s)" if rows and seconds > 0 else ""
            line(f"  {label}", f"{seconds:8.2f} s{extra}")

    between("create", "start", "create answered")
    if "create answered" in marks and "complete sent" in marks:
        put_s = marks["complete sent"] - marks["create answered"]
        line(
            "  PUT (incl. SDK read + sha256)",
            f"{put_s:8.2f} s  ({mbps(gen.bytes, put_s):.0f} MB/s)",
        )
    between("complete (size + sha256 check)", "complete sent", "complete answered")
    between("queued until a worker claims", "complete answered", "job started")
    between("job: read, validate, insert", "job started", "all rows in (poll)", rows=True)
    between("job: snapshot + final commit", "all rows in (poll)", "job succeeded")
    between("job in total (worker log)", "job started", "job succeeded", rows=True)
    between("until the client saw it", "job succeeded", "succeeded (client)")
    line(
        "CPU used during the run:",
        f"worker {run.cpu['worker']:.1f} s, server {run.cpu['server']:.1f} s",
    )
    if "job started" in marks and "job succeeded" in marks:
        job_s = marks["job succeeded"] - marks["job started"]
        line("  worker CPU / job wall time:", f"{100 * run.cpu['worker'] / job_s:.0f}%")
    line(
        "client VmHWM (this process):",
        f"{run.hwm_kb['client'] / 1024:.0f} MB (the SDK's upload_file reads the file into memory)",
    )
    for check in run.checks:
        print(f"  verify: {check}")

    print("references (same file, each in its own process; time of the call only):")
    for ref in refs:
        rows_ok = ref.rows == gen.rows
        ok &= rows_ok
        line(
            f"{ref.label}:",
            f"{ref.seconds:8.2f} s  gristmill/{ref.name} = {ratio(total_s, ref.seconds)}"
            f"  [{ref.rows} rows {'OK' if rows_ok else 'FAIL'}, "
            f"peak RSS {ref.peak_rss_kb / 1024:.0f} MB, import {ref.import_seconds:.1f} s]",
        )

    print(f"targets (memory < {RSS_TARGET_MB:.0f} MB per process):")
    for role, what in (("server", "serve --no-worker"), ("worker", "worker")):
        sampler = run.rss[role]
        line(
            f"{role} peak RSS ({what}):",
            f"{sampler.peak_mb:6.0f} MB  {verdict(sampler.peak_mb < RSS_TARGET_MB)}  [VmHWM "
            f"{run.hwm_kb[role] / 1024:.0f} MB, idle {run.idle_kb[role] / 1024:.0f} MB, "
            f"peak at +{sampler.peak_at - run.t0:.1f} s]",
        )
    speed_ref = next(r for r in refs if r.name == SPEED_REFERENCE)
    fast = total_s <= speed_ref.seconds
    line(
        f"speed (≤ {speed_ref.label}):",
        f"{total_s:.2f} s vs {speed_ref.seconds:.2f} s = "
        f"{ratio(total_s, speed_ref.seconds)}  {verdict(fast)}",
    )
    if run.stacks is not None:
        print_profile(analyse(run.stacks, PROFILE_RATE))
    elif not fast:
        print("  (run with --profile to see where the worker's time goes)")
    return ok


def run(args: argparse.Namespace) -> int:
    base = Path(args.tmp_dir) if args.tmp_dir else None
    work = Path(tempfile.mkdtemp(prefix="gristmill-bench-ingest-", dir=base))
    procs = Processes()
    try:
        need = args.rows * 475 * 7  # file, blob, SQLite + WAL, snapshot, references' outputs
        free = shutil.disk_usage(work).free
        if free < need:
            print(
                f"warning: {free / MB:.0f} MB free under {work}, "
                f"the run needs about {need / MB:.0f} MB",
                file=sys.stderr,
            )
        load_start = os.getloadavg()[0]
        t0 = time.perf_counter()
        gen = generate_jsonl(work / "chat.jsonl", rows=args.rows)
        gen_s = time.perf_counter() - t0
        note(args, f"generated {gen.bytes / MB:.1f} MB, {gen.rows} rows in {gen_s:.1f} s")

        measured = ingest_with_gristmill(args, gen, work, procs)
        procs.stop()  # the references get the machine to themselves

        refs: list[Reference] = []
        for name, label in REFERENCES:
            os.sync()
            note(args, f"reference: {label}")
            refs.append(run_reference(name, label, gen.path, work / f"ref-{name}"))
        ok = report(gen, gen_s, measured, refs, (load_start, os.getloadavg()[0]))
        return 0 if ok and measured.ok else 1
    except Exception:
        for role, proc in (("server", procs.server), ("worker", procs.worker)):
            if proc is not None:
                print(f"--- {role} log tail ---\n{proc.log_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        procs.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (1,000,000)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the worker during the ingest and print where its time goes",
    )
    parser.add_argument(
        "--timeout", type=float, default=4 * 3600, help="seconds to wait for the ingest (4 h)"
    )
    parser.add_argument("--tmp-dir", help="where to create the temp dir (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir afterwards")
    parser.add_argument("--progress", action="store_true", help="progress notes on stderr")
    args = parser.parse_args(argv)
    if args.rows <= 0:
        parser.error("--rows must be positive")
    with interrupts_exit():
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
