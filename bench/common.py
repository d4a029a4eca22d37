"""Shared parts of the benchmark scripts: chat JSONL generation, /proc sampling of a process's
memory and CPU, request phase timing, starting a real `gristmill serve` / `gristmill worker`
on SQLite + local blobs, stopping what a run started (also on SIGTERM / SIGINT), `py-spy`
recordings and their stacks, progress notes and number formatting.

The scripts put the repository root on `sys.path` and import this as `bench.common`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

import httpx
from tests.support import GRISTMILL, LiveServer, start_server

MB = 1024 * 1024
SAMPLE_SECONDS = 0.05
PROFILE_RATE = 100  # py-spy samples per second
_CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------- data generation

_SYSTEM = [
    "You are a helpful assistant.",
    "You are a concise support agent for an online bookshop.",
    "You are a senior Python reviewer. Answer with short, concrete suggestions.",
    "You translate English into French. Keep the register of the original.",
    "You are a friendly tutor who explains maths step by step.",
    "Tu es un assistant qui répond en français, poliment et brièvement.",
]
_TOPICS = [
    "a refund for order",
    "the delivery date of parcel",
    "a bug in ticket",
    "invoice",
    "the password reset for account",
    "the warranty of item",
    "a late payment on contract",
    "the shipping cost to zone",
    "a broken link on page",
    "the API quota of project",
]
_VERBS = [
    "Can you help me with",
    "What is the status of",
    "Please explain",
    "I have a question about",
    "Why did you change",
    "How do I fix",
    "Could you summarise",
    "Tell me more about",
]
_WORD_TEXT = (
    "the of and to in is that for it as with was on be by this are from at or an have not "
    "which but all were when we there can been has more if will would so what out up into "
    "data model train token batch epoch loss value answer customer order refund delivery "
    "python function return error request server file upload part chunk stream memory "
    "disk naïve café résumé 東京 données über"
)
_WORDS = _WORD_TEXT.split()


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(lo, hi))
    return " ".join(words).capitalize() + "."


def _pools(rng: random.Random, size: int) -> tuple[list[str], list[str], list[str]]:
    """Pre-serialised JSON strings for the three turns, mixed per row for variety."""
    systems = [json.dumps(s, ensure_ascii=False) for s in _SYSTEM]
    users = [
        json.dumps(
            f"{rng.choice(_VERBS)} {rng.choice(_TOPICS)} {{n}}? " + _sentence(rng, 4, 24),
            ensure_ascii=False,
        )
        for _ in range(size)
    ]
    answers = [
        json.dumps(
            " ".join(_sentence(rng, 6, 18) for _ in range(rng.randint(1, 5))), ensure_ascii=False
        )
        for _ in range(size)
    ]
    return systems, users, answers


@dataclass(frozen=True)
class Generated:
    path: Path
    bytes: int
    rows: int
    sha256: str


def generate_jsonl(
    path: Path, *, size_bytes: int | None = None, rows: int | None = None, seed: int = 7
) -> Generated:
    """Stream OpenAI chat rows (`{"messages": [system, user, assistant]}` per line) into
    `path`, hashing on the way. Stops after `rows` rows, or once the file holds at least
    `size_bytes` (trimmed to whole lines near the target); give exactly one of the two."""
    if (size_bytes is None) == (rows is None):
        raise ValueError("give exactly one of size_bytes and rows")
    rng = random.Random(seed)
    systems, users, answers = _pools(rng, 4096)
    digest = hashlib.sha256()
    written = count = 0
    batch_rows = 4096
    with open(path, "wb") as fh:
        while (written < size_bytes) if size_bytes is not None else (count < (rows or 0)):
            n = batch_rows if rows is None else min(batch_rows, rows - count)
            lines = []
            for _ in range(n):
                count += 1
                user = users[rng.randrange(len(users))].replace("{n}", str(count))
                lines.append(
                    '{"messages":[{"role":"system","content":'
                    + systems[count % len(systems)]
                    + '},{"role":"user","content":'
                    + user
                    + '},{"role":"assistant","content":'
                    + answers[rng.randrange(len(answers))]
                    + "}]}\n"
                )
            block = "".join(lines).encode()
            if size_bytes is not None and written + len(block) > size_bytes:
                # trim to whole lines near the target
                cut = block.rfind(b"\n", 0, size_bytes - written) + 1
                if cut > 0:
                    count -= block[cut:].count(b"\n")
                    block = block[:cut]
                else:  # the target is inside the first line: keep that one line
                    first = block.index(b"\n") + 1
                    count -= block[first:].count(b"\n")
                    block = block[:first]
            fh.write(block)
            digest.update(block)
            written += len(block)
    return Generated(path=path, bytes=written, rows=count, sha256=digest.hexdigest())


# --------------------------------------------------------------------------- /proc sampling


def status_kb(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM, ...); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def io_bytes(pid: int) -> dict[str, int]:
    """/proc/<pid>/io: rchar/wchar (every read()/write(), sockets too) and block-level bytes."""
    try:
        with open(f"/proc/{pid}/io") as fh:
            return {k: int(v) for k, v in (line.split(":") for line in fh)}
    except (FileNotFoundError, PermissionError):
        return {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    # after "pid (comm)": state is fields[0], so utime (14th) and stime (15th) are 11 and 12
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` summed over `pid` and the processes below it (a multi-process server)."""
    return sum(cpu_seconds(p) for p in descendants(pid))


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc/<pid>/task/<tid>/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except FileNotFoundError:
                continue
    return out


class RssSampler:
    """Polls the summed VmRSS of a process tree every ~50 ms in a daemon thread."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.peak_at = 0.0  # time.perf_counter() of the peak sample
        self.samples = 0
        self.max_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = descendants(self.pid)
            total = sum(status_kb(p, "VmRSS") for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_at = total, time.perf_counter()
            self.max_procs = max(self.max_procs, len(pids))
            self.samples += 1
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- request phases


class PhaseTimer:
    """httpx event hooks: seconds from sending each request to its response headers, summed
    by phase; `classify` names a request's phase. `spans` keeps every request's
    (phase, start, end) in `time.perf_counter()` seconds."""

    def __init__(self, classify: Callable[[httpx.Request], str]) -> None:
        self.classify = classify
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.spans: list[tuple[str, float, float]] = []
        self._started: dict[int, float] = {}

    def on_request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.perf_counter()

    def on_response(self, response: httpx.Response) -> None:
        started = self._started.pop(id(response.request), None)
        if started is None:
            return
        now = time.perf_counter()
        name = self.classify(response.request)
        self.seconds[name] = self.seconds.get(name, 0.0) + now - started
        self.counts[name] = self.counts.get(name, 0) + 1
        self.spans.append((name, started, now))

    def first(self, name: str) -> tuple[float, float] | None:
        """(start, end) of the first request of a phase."""
        return next(((s, e) for n, s, e in self.spans if n == name), None)

    def hooks(self) -> dict[str, list[Callable[..., object]]]:
        return {"request": [self.on_request], "response": [self.on_response]}


# --------------------------------------------------------------------------- processes

# Empty values mean the defaults: SQLite + local blobs inside the data dir.
LOCAL_BACKEND = {"GRISTMILL_DATABASE_URL": "", "GRISTMILL_BLOB_URL": ""}


def start_local_server(
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    worker: bool = True,
    processes: int = 1,
) -> LiveServer:
    """A real `gristmill serve` on a free 127.0.0.1 port, SQLite + local blobs in `data_dir`
    (fresh), with its admin key read back; `worker=False` adds `--no-worker`."""
    args = ("--processes", str(processes), *(() if worker else ("--no-worker",)))
    server = start_server(data_dir, LOCAL_BACKEND, extra_env=extra_env, args=args)
    if not server.admin_key:
        server.stop()
        raise RuntimeError(f"the server wrote no admin key to {data_dir / 'admin-key'}")
    return server


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        # a worker finishes its current job on SIGTERM: do not wait for a long ingest
        stop_process(self.proc, timeout=5.0)


def start_worker(server: LiveServer, name: str, timeout: float = 30.0) -> WorkerProcess:
    """A standalone `gristmill worker` with exactly the server's environment (same data dir,
    database and blob store), once it says it is polling for jobs."""
    log_path = server.data_dir / f"worker-{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*GRISTMILL, "worker", "--name", name],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(proc=proc, log_path=log_path)
    deadline = time.monotonic() + timeout
    while "polling for jobs" not in worker.log_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"the worker did not start:\n{worker.log_text()[-4000:]}")
        time.sleep(0.05)
    return worker


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_all(*procs: Stoppable | None) -> None:
    """Stops each of `procs` that was started (not None), in the order given; stopping one
    that has already stopped does nothing."""
    for proc in procs:
        if proc is not None:
            proc.stop()


@contextmanager
def interrupts_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit and SIGINT KeyboardInterrupt (even when the shell started
    this in the background with SIGINT ignored), so `finally` blocks stop the processes and
    drop the temp dir."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    old_term = signal.signal(signal.SIGTERM, on_term)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def note(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr when the script runs with `--progress`."""
    if args.progress:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- profiling


class PySpy:
    """`py-spy record` attached to a running process; raw (collapsed) stacks, without line
    numbers. Open-ended unless `seconds` is given (`--duration`). `idle` includes idle stacks
    (time spent waiting on the disk, like SQLite commits and fsync, is seen too), `gil` keeps
    only the thread holding the GIL (where the Python CPU goes; C code that released the GIL,
    like SQLite's, is not there), `nonblocking` samples without pausing the process.

    `stop` ends an open-ended recording with SIGINT, which makes py-spy write its output; a
    recording with a duration is only stopped early when a run is cut short, so it is
    terminated. `wait` waits for a recording with a duration to end by itself."""

    def __init__(
        self,
        pid: int,
        out: Path,
        seconds: float | None = None,
        *,
        idle: bool = False,
        gil: bool = False,
        nonblocking: bool = False,
        subprocesses: bool = False,
        rate: int = PROFILE_RATE,
    ):
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out = out
        self.rate = rate
        self.seconds = seconds
        self.log_path = out.with_suffix(".log")
        command = [exe, "record", "--pid", str(pid), "--format", "raw", "--output", str(out)]
        command += ["--rate", str(rate)]
        if seconds is not None:
            command += ["--duration", str(max(1, round(seconds)))]
        command += [*(["--idle"] if idle else []), "--nolineno"]
        command += [*(["--nonblocking"] if nonblocking else []), *(["--gil"] if gil else [])]
        command += ["--subprocesses"] if subprocesses else []
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _interrupt(self, timeout: float) -> None:
        """SIGINT (py-spy writes its output), then SIGTERM/SIGKILL after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)

    def wait(self, timeout: float) -> None:
        """Waits for the recording to end; past `timeout` seconds, interrupts it."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._interrupt(30)

    def stop(self) -> None:
        if self.seconds is None:
            self._interrupt(60)
        else:
            stop_process(self.proc, timeout=5.0)

    def stacks(self) -> Counter[tuple[str, ...]]:
        """Sample counts per stack, outermost frame first, each frame `func (file)`."""
        out: Counter[tuple[str, ...]] = Counter()
        if not self.out.exists():
            return out
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                out[tuple(stack.split(";"))] += int(count)
        return out


def frame_name(frame: str) -> str:
    """`Session.commit (sqlalchemy/orm/session.py)` → `Session.commit`."""
    return frame.split(" (", 1)[0]


def frame_func(frame: str) -> str:
    """`Session.commit (sqlalchemy/orm/session.py)` → `commit`."""
    return frame_name(frame).rsplit(".", 1)[-1]


def frame_file(frame: str) -> str:
    """`Session.commit (sqlalchemy/orm/session.py)` → `sqlalchemy/orm/session.py`."""
    return frame.split(" (", 1)[1].rstrip(")") if " (" in frame else ""


def parked(stack: tuple[str, ...]) -> bool:
    """A thread parked on a condition (an idle threadpool worker, the job worker's poll, the
    upload sweeper): py-spy counts these as active, but they use no CPU."""
    leaf = stack[-1]
    return frame_name(leaf).endswith("Condition.wait") and frame_file(leaf) == "threading.py"


# --------------------------------------------------------------------------- formatting


def mbps(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else float("inf")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
