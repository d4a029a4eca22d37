"""Benchmark: 1,000,000 chat datapoints through the TensorZero door, read and written by 32
concurrent clients, next to Datasette serving the same rows from a SQLite file.

Run from the repository root:

    .venv/bin/python bench/datapoints.py                              # 1,000,000 rows, 20 s each
    .venv/bin/python bench/datapoints.py --rows 20000 --seconds 5     # smoke test
    .venv/bin/python bench/datapoints.py --profile always             # py-spy the server's reads

It generates OpenAI chat rows (`bench.common.generate_jsonl`), turns each into a TensorZero chat
datapoint, starts a real `gristmill serve --processes P` (P: `--processes`, by default the
machine's cores; SQLite + local blobs in a fresh temp data dir) and
loads the rows with `POST /v1/datasets/{name}/datapoints` in bulk requests of 10,000, timing
the load. It copies the same rows out of `<data dir>/gristmill.db` into a reference SQLite
file (`datapoints`: id, function_name, input, output, tags, created_at) and serves it with
`datasette serve -i` (immutable). Then, for each operation in turn, N clients (threads, one
keep-alive httpx connection each) send requests for a fixed time (and at most a fixed count):

    list    Gristmill  POST /v1/datasets/{name}/list_datapoints  {"limit": 100, "offset": r}
            Datasette  GET /ref/datapoints.json?_size=100&_shape=objects&_nocount=1&_nofacet=1
                           &_next=<id>    (keyset paging, Datasette's own; r and <id> are random
                           in the first 10,000 rows; `_nocount` and `_nofacet` make it rows
                           only, like Gristmill's list, instead of a count(*) of the table)
    get     Gristmill  POST /v1/datasets/{name}/get_datapoints  {"ids": [random id]}
            Datasette  GET /ref/datapoints/<random id>.json?_shape=objects
    create  Gristmill  POST /v1/datasets/{name}/datapoints  with 1 datapoint; Datasette: n/a

and prints requests, throughput, p50/p99 latency and the Gristmill/Datasette read ratios. With
`--profile auto` (the default) it re-runs Gristmill's reads under `py-spy record` when they miss
the target, and prints where the server's time goes. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import orjson  # noqa: E402
from bench.common import (  # noqa: E402
    MB,
    PySpy,
    generate_jsonl,
    interrupts_exit,
    note,
    start_local_server,
    stop_all,
    tree_cpu_seconds,
    verdict,
)
from bench.datasette_ref import (  # noqa: E402
    Datasette,
    build_reference,
    datasette_version,
    sample_ids,
    start_datasette,
)
from bench.read_profile import analyse, print_profile  # noqa: E402
from tests.support import LiveServer  # noqa: E402

DATASET = "bench-datapoints"
FUNCTION = "bench_chat"
REF_DB = "ref"  # the Datasette database name is the file's stem
PAGE = 100
LIST_WINDOW = 10_000  # random list offsets (and _next keys) in the first rows
GET_SAMPLE = 20_000  # random ids sampled for gets
REQUEST_TIMEOUT = 300.0
JSON = {"content-type": "application/json"}

# --------------------------------------------------------------------------- the rows


def datapoint(line: bytes, n: int) -> dict[str, Any]:
    """One generated `{"messages": [system, user, assistant]}` row as a TensorZero chat
    datapoint of `POST /v1/datasets/{name}/datapoints`."""
    system, user, assistant = orjson.loads(line)["messages"]
    return {
        "type": "chat",
        "function_name": FUNCTION,
        "input": {
            "system": system["content"],
            "messages": [{"role": "user", "content": [{"type": "text", "text": user["content"]}]}],
        },
        "output": [{"type": "text", "text": assistant["content"]}],
        "tags": {"split": "test" if n % 10 == 0 else "train", "source": "bench"},
    }


def bulk_bodies(path: Path, batch: int) -> Iterator[tuple[int, bytes]]:
    """(rows, JSON body) of each bulk request, read from the generated JSONL file."""
    points: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            points.append(datapoint(line, n))
            if len(points) == batch:
                yield len(points), orjson.dumps({"datapoints": points})
                points = []
    if points:
        yield len(points), orjson.dumps({"datapoints": points})


@dataclass
class Load:
    rows: int
    requests: int
    seconds: float
    server_cpu: float


def load_rows(server: LiveServer, key: str, path: Path, batch: int, senders: int) -> Load:
    """POST the file's rows in bulk requests; `senders` requests in flight while the next
    bodies are built. Raises on the first failed request."""
    todo: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=senders + 1)
    done = {"rows": 0, "requests": 0}
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send() -> None:
        headers = {"Authorization": f"Bearer {key}", **JSON}
        with httpx.Client(
            base_url=server.base_url, headers=headers, timeout=REQUEST_TIMEOUT
        ) as client:
            while (item := todo.get()) is not None:
                if stop.is_set():
                    continue  # drain the queue so the producer never blocks
                rows, body = item
                try:
                    r = client.post(f"/v1/datasets/{DATASET}/datapoints", content=body)
                    ok = r.status_code == 200 and len(r.json()["ids"]) == rows
                    why = "" if ok else f"{r.status_code}: {r.text[:500]}"
                except Exception as exc:  # any failure stops the load; the thread lives on
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                if not ok:
                    failures.append(why)
                    stop.set()
                    continue
                with lock:
                    done["rows"] += rows
                    done["requests"] += 1

    threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
    cpu0 = tree_cpu_seconds(server.proc.pid)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    try:
        for item in bulk_bodies(path, batch):
            if stop.is_set():
                break
            todo.put(item)
    finally:
        for _ in threads:
            todo.put(None)
        for t in threads:
            t.join()
    seconds = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"bulk insert failed: {failures[0]}")
    return Load(done["rows"], done["requests"], seconds, tree_cpu_seconds(server.proc.pid) - cpu0)


# --------------------------------------------------------------------------- the clients

Send = Callable[[httpx.Client, random.Random], httpx.Response]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: int = 0
    first_error: str = ""
    wall: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server used while measured

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.wall if self.wall > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def hammer(
    base_url: str,
    headers: dict[str, str],
    send: Send,
    clients: int,
    seconds: float,
    max_requests: int,
    seed: int,
) -> Result:
    """`clients` threads, one keep-alive connection each, send requests until `seconds` have
    passed or each has sent `max_requests`; a request in flight at the deadline finishes."""
    result = Result()
    lock = threading.Lock()
    clock = {"start": 0.0}
    barrier = threading.Barrier(
        clients, action=lambda: clock.update(start=time.perf_counter()), timeout=60
    )
    ends: list[float] = []

    def run(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        latencies: list[float] = []
        errors, first_error = 0, ""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(
            base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT, limits=limits
        ) as client:
            barrier.wait()
            deadline = clock["start"] + seconds
            for _ in range(max_requests):
                t0 = time.perf_counter()
                if t0 >= deadline:
                    break
                try:
                    r = send(client, rng)
                    ok = r.status_code == 200
                    why = "" if ok else f"{r.status_code}: {r.text[:300]}"
                except Exception as exc:  # counted as a failed request
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
                    first_error = first_error or why
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors
            result.first_error = result.first_error or first_error
            ends.append(time.perf_counter())

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = max(ends) - clock["start"] if ends else 0.0
    return result


@dataclass
class Target:
    """One server's requests for each operation, and a check that each returns real rows."""

    name: str
    pid: int
    base_url: str
    headers: dict[str, str]
    ops: dict[str, Send]
    check: Callable[[httpx.Client], None]


def gristmill_target(server: LiveServer, key: str, ids: list[str]) -> Target:
    base = f"/v1/datasets/{DATASET}"
    one = orjson.dumps(
        {
            "datapoints": [
                {
                    "type": "chat",
                    "function_name": FUNCTION,
                    "input": {
                        "system": "You are a helpful assistant.",
                        "messages": [
                            {"role": "user", "content": [{"type": "text", "text": "Hi there?"}]}
                        ],
                    },
                    "output": [{"type": "text", "text": "Hello."}],
                    "tags": {"split": "train", "source": "bench-create"},
                }
            ]
        }
    )

    def list_(c: httpx.Client, rng: random.Random) -> httpx.Response:
        body = orjson.dumps({"limit": PAGE, "offset": rng.randrange(LIST_WINDOW)})
        return c.post(f"{base}/list_datapoints", content=body)

    def get(c: httpx.Client, rng: random.Random) -> httpx.Response:
        return c.post(f"{base}/get_datapoints", content=orjson.dumps({"ids": [rng.choice(ids)]}))

    def create(c: httpx.Client, rng: random.Random) -> httpx.Response:
        return c.post(f"{base}/datapoints", content=one)

    def check(c: httpx.Client) -> None:
        rng = random.Random(1)
        page = list_(c, rng).json()["datapoints"]
        got = get(c, rng).json()["datapoints"]
        if len(page) != PAGE or len(got) != 1 or got[0]["id"] not in ids:
            raise RuntimeError(f"Gristmill reads look wrong: {len(page)} listed, {got!r:.300}")

    return Target(
        "gristmill",
        server.proc.pid,
        server.base_url,
        {"Authorization": f"Bearer {key}", **JSON},
        {"list": list_, "get": get, "create": create},
        check,
    )


def datasette_target(ds: Datasette, ids: list[str], first: list[str]) -> Target:
    def list_(c: httpx.Client, rng: random.Random) -> httpx.Response:
        params = {
            "_size": str(PAGE),
            "_shape": "objects",
            "_nocount": "1",
            "_nofacet": "1",
            "_next": rng.choice(first),
        }
        return c.get(f"/{REF_DB}/datapoints.json", params=params)

    def get(c: httpx.Client, rng: random.Random) -> httpx.Response:
        return c.get(f"/{REF_DB}/datapoints/{rng.choice(ids)}.json", params={"_shape": "objects"})

    def check(c: httpx.Client) -> None:
        rng = random.Random(1)
        page = list_(c, rng).json()["rows"]
        got = get(c, rng).json()["rows"]
        if len(page) != PAGE or len(got) != 1 or got[0]["id"] not in ids:
            raise RuntimeError(f"Datasette reads look wrong: {len(page)} listed, {got!r:.300}")
        orjson.loads(got[0]["input"])  # the stored JSON text, as Gristmill keeps it

    return Target("datasette", ds.proc.pid, ds.base_url, {}, {"list": list_, "get": get}, check)


# --------------------------------------------------------------------------- the run


@dataclass
class Processes:
    """Everything this run started, stopped in reverse order whatever happens."""

    server: LiveServer | None = None
    datasette: Datasette | None = None
    spies: list[PySpy] = field(default_factory=list)

    def stop(self) -> None:
        stop_all(*self.spies, self.datasette, self.server)


def measure(args: argparse.Namespace, target: Target, op: str, seed: int) -> Result:
    send = target.ops[op]
    if args.warmup > 0:
        hammer(target.base_url, target.headers, send, args.clients, args.warmup, 1_000_000, seed)
    note(args, f"{target.name} {op}: {args.clients} clients for {args.seconds:g} s")
    cpu0 = tree_cpu_seconds(target.pid)
    result = hammer(
        target.base_url,
        target.headers,
        send,
        args.clients,
        args.seconds,
        args.max_requests,
        seed + 1,
    )
    result.server_cpu = tree_cpu_seconds(target.pid) - cpu0
    if result.errors:
        print(
            f"warning: {target.name} {op}: {result.errors} failed requests, first: "
            f"{result.first_error}",
            file=sys.stderr,
        )
    return result


def print_table(results: dict[tuple[str, str], Result]) -> None:
    """One line per operation and server; `server CPU` is the server process's CPU time over
    the measured wall time (1.00 = one core busy)."""
    print(
        f"  {'operation':<10}{'server':<11}{'requests':>9}{'errors':>8}{'req/s':>10}"
        f"{'p50 ms':>10}{'p99 ms':>10}{'server CPU':>15}"
    )
    for op in ("list", "get", "create"):
        for system in ("gristmill", "datasette"):
            r = results.get((op, system))
            if r is None:
                na = "n/a"
                print(f"  {op:<10}{system:<11}{na:>9}{'':>8}{na:>10}{na:>10}{na:>10}{na:>15}")
                continue
            cores = r.server_cpu / r.wall if r.wall > 0 else 0.0
            print(
                f"  {op:<10}{system:<11}{r.requests:>9,}{r.errors:>8,}{r.throughput:>10,.1f}"
                f"{r.percentile_ms(0.50):>10.1f}{r.percentile_ms(0.99):>10.1f}"
                f"{cores:>9.2f} cores"
            )


def profile_reads(
    args: argparse.Namespace, server: LiveServer, target: Target, procs: Processes, work: Path
) -> None:
    """Gristmill's reads again, each for `--profile-seconds` under two py-spy recordings."""
    for op in ("list", "get"):
        note(args, f"profiling gristmill {op} for {args.profile_seconds:g} s")
        seconds = args.profile_seconds
        spies = [
            PySpy(
                server.proc.pid,
                work / f"profile-{op}-busy.txt",
                seconds,
                nonblocking=True,
                subprocesses=args.processes > 1,
            ),
            PySpy(
                server.proc.pid,
                work / f"profile-{op}-gil.txt",
                seconds,
                gil=True,
                nonblocking=True,
                subprocesses=args.processes > 1,
            ),
        ]
        procs.spies = spies
        time.sleep(0.5)  # let py-spy attach first
        load = threading.Thread(
            target=hammer,
            args=(target.base_url, target.headers, target.ops[op], args.clients),
            kwargs={"seconds": seconds, "max_requests": args.max_requests, "seed": 900 + len(op)},
            daemon=True,
        )
        cpu0 = tree_cpu_seconds(server.proc.pid)
        load.start()
        time.sleep(seconds)  # py-spy's window; the requests in flight then finish
        cpu = tree_cpu_seconds(server.proc.pid) - cpu0
        load.join()
        for spy in spies:
            spy.wait(60)
        procs.spies = []
        busy, gil = (analyse(spy.stacks(), spy.rate, seconds, cpu) for spy in spies)
        print()
        print_profile(f"{op} with {args.clients} clients", busy, gil)


def run(args: argparse.Namespace) -> int:
    base = Path(args.tmp_dir) if args.tmp_dir else None
    work = Path(tempfile.mkdtemp(prefix="gristmill-bench-datapoints-", dir=base))
    procs = Processes()
    rng = random.Random(args.seed)
    try:
        t0 = time.perf_counter()
        gen = generate_jsonl(work / "chat.jsonl", rows=args.rows, seed=args.seed)
        note(
            args,
            f"generated {gen.rows:,} rows ({gen.bytes / MB:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s",
        )

        procs.server = server = start_local_server(work / "data", processes=args.processes)
        key = server.new_key("bench")["api_key"]
        note(args, f"gristmill serve on {server.base_url} (pid {server.proc.pid}); loading")
        load = load_rows(server, key, gen.path, args.batch, args.load_clients)
        note(args, f"loaded {load.rows:,} rows in {load.seconds:.1f} s")

        t0 = time.perf_counter()
        ref = work / f"{REF_DB}.db"
        ref_rows = build_reference(server.data_dir / "gristmill.db", ref, DATASET)
        ref_s = time.perf_counter() - t0
        if ref_rows != load.rows:
            raise RuntimeError(f"the reference holds {ref_rows} rows, Gristmill {load.rows}")
        ids, first = sample_ids(ref, ref_rows, rng, LIST_WINDOW, GET_SAMPLE)
        procs.datasette = ds = start_datasette(ref, work / "datasette.log")
        note(args, f"datasette on {ds.base_url} (pid {ds.proc.pid})")

        targets = [gristmill_target(server, key, ids), datasette_target(ds, ids, first)]
        for target in targets:
            with httpx.Client(
                base_url=target.base_url, headers=target.headers, timeout=REQUEST_TIMEOUT
            ) as c:
                target.check(c)

        results: dict[tuple[str, str], Result] = {}
        seed = args.seed * 100
        for op in ("list", "get", "create"):
            for target in targets:
                if op in target.ops:
                    seed += 10
                    results[(op, target.name)] = measure(args, target, op, seed)

        print(
            f"datapoints: {load.rows:,} chat rows, {args.clients} concurrent clients "
            f"(one keep-alive connection each), {args.seconds:g} s per operation "
            f"(+{args.warmup:g} s warm-up); gristmill serve --processes {args.processes} "
            f"on {os.cpu_count()} cores"
        )
        print(
            f"load: POST /v1/datasets/{{name}}/datapoints, {load.requests} requests of "
            f"{args.batch:,}, {args.load_clients} in flight: {load.rows:,} rows in "
            f"{load.seconds:.1f} s = {load.rows / load.seconds:,.0f} rows/s "
            f"(server CPU {load.server_cpu:.1f} s)"
        )
        print(
            f"reference: Datasette {datasette_version()} (datasette serve -i) on a SQLite file "
            f"of the same {ref_rows:,} rows ({ref.stat().st_size / MB:.0f} MB, copied in "
            f"{ref_s:.1f} s)"
        )
        print_table(results)
        ratios: dict[str, float] = {}
        for op in ("list", "get"):
            g, d = results[(op, "gristmill")], results[(op, "datasette")]
            ratios[op] = g.throughput / d.throughput if d.throughput > 0 else 0.0
        print(
            "read throughput Gristmill/Datasette: "
            + ", ".join(f"{op} {r:.2f}x" for op, r in ratios.items())
        )
        errors = sum(r.errors for r in results.values())
        passed = all(r >= 1.0 for r in ratios.values()) and errors == 0
        print(f"read throughput at least Datasette's: {verdict(passed)}")
        if errors:
            print(f"({errors} requests failed: see the warnings above)")
        sys.stdout.flush()

        if args.profile == "always" or (args.profile == "auto" and not passed):
            profile_reads(args, server, targets[0], procs, work)
        return 0 if passed else 1
    finally:
        procs.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="datapoints to load")
    p.add_argument("--clients", type=int, default=32, help="concurrent clients")
    p.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="gristmill serve --processes (default: the machine's cores)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per operation")
    p.add_argument(
        "--max-requests", type=int, default=100_000, help="at most this many requests per client"
    )
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    p.add_argument("--batch", type=int, default=10_000, help="datapoints per bulk request")
    p.add_argument("--load-clients", type=int, default=2, help="bulk requests in flight")
    p.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="py-spy the server's reads afterwards (auto: when they miss the target)",
    )
    p.add_argument("--profile-seconds", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tmp-dir", help="where to make the temp dir (default: the system's)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--progress", action="store_true", help="progress notes on stderr")
    args = p.parse_args(argv)
    if args.rows < LIST_WINDOW + PAGE:
        p.error(f"--rows must be at least {LIST_WINDOW + PAGE}")
    if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1 or args.batch < 1:
        p.error("--clients, --seconds, --max-requests and --batch must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with interrupts_exit():
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
