"""Benchmark: a ~1 GB JSONL file through the OpenAI Uploads API, next to a plain disk copy.

Run from the repository root:

    .venv/bin/python bench/upload.py                 # 1024 MB
    .venv/bin/python bench/upload.py --size-mb 50    # smoke test
    .venv/bin/python bench/upload.py --verify        # also download and compare sha256

It generates chat fine-tuning rows (`{"messages": [...]}` per line) into a temp dir, times a
`shutil.copyfile` of that file on the same disk as the reference, starts a real `gristmill serve`
(SQLite + local blobs in a fresh data dir under the same temp dir), uploads the file with the
official `openai` SDK (`uploads.upload_file_chunked`, 64 MB parts), samples the server's RSS
during the upload, checks the result and prints a compact report. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from openai import DefaultHttpxClient, OpenAI  # noqa: E402
from tests.support import LiveServer, start_server  # noqa: E402

MB = 1024 * 1024
RSS_TARGET_MB = 300.0
SAMPLE_SECONDS = 0.05

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


def generate_jsonl(path: Path, size_bytes: int, seed: int = 7) -> Generated:
    """Stream rows into `path` until it holds at least `size_bytes`; hashes on the way."""
    rng = random.Random(seed)
    systems, users, answers = _pools(rng, 4096)
    digest = hashlib.sha256()
    written = rows = 0
    batch_rows = 4096
    with open(path, "wb") as fh:
        while written < size_bytes:
            lines = []
            for _ in range(batch_rows):
                rows += 1
                user = users[rng.randrange(len(users))].replace("{n}", str(rows))
                lines.append(
                    '{"messages":[{"role":"system","content":'
                    + systems[rows % len(systems)]
                    + '},{"role":"user","content":'
                    + user
                    + '},{"role":"assistant","content":'
                    + answers[rng.randrange(len(answers))]
                    + "}]}\n"
                )
            block = "".join(lines).encode()
            if written + len(block) > size_bytes:  # trim to whole lines near the target
                cut = block.rfind(b"\n", 0, size_bytes - written) + 1
                if cut > 0:
                    rows -= block[cut:].count(b"\n")
                    block = block[:cut]
                else:  # the target is inside the first line: keep that one line
                    first = block.index(b"\n") + 1
                    rows -= block[first:].count(b"\n")
                    block = block[:first]
            fh.write(block)
            digest.update(block)
            written += len(block)
    return Generated(path=path, bytes=written, rows=rows, sha256=digest.hexdigest())


# --------------------------------------------------------------------------- RSS sampling


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _io_bytes(pid: int) -> dict[str, int]:
    """/proc/<pid>/io: rchar/wchar (every read()/write(), sockets too) and block-level bytes."""
    try:
        with open(f"/proc/{pid}/io") as fh:
            return {k: int(v) for k, v in (line.split(":") for line in fh)}
    except (FileNotFoundError, PermissionError):
        return {}


def _descendants(pid: int) -> list[int]:
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
        self.samples = 0
        self.max_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _descendants(self.pid)
            total = sum(_status_kb(p, "VmRSS") for p in pids)
            self.peak_kb = max(self.peak_kb, total)
            self.max_procs = max(self.max_procs, len(pids))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- request phases


class PhaseTimer:
    """httpx hooks: seconds from sending each request to its response headers, by phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._started: dict[int, float] = {}

    @staticmethod
    def phase(request: httpx.Request) -> str:
        path = request.url.path.rstrip("/")
        for suffix in ("parts", "complete", "uploads"):
            if path.endswith("/" + suffix):
                return "create" if suffix == "uploads" else suffix
        return "other"

    def on_request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.perf_counter()

    def on_response(self, response: httpx.Response) -> None:
        started = self._started.pop(id(response.request), None)
        if started is None:
            return
        name = self.phase(response.request)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.counts[name] = self.counts.get(name, 0) + 1

    def hooks(self) -> dict[str, list[Callable[..., object]]]:
        return {"request": [self.on_request], "response": [self.on_response]}


# --------------------------------------------------------------------------- the run


def timed_copy(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    return time.perf_counter() - t0


def download_sha256(client: OpenAI, file_id: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    total = 0
    with client.files.with_streaming_response.content(file_id) as resp:
        for chunk in resp.iter_bytes(MB):
            digest.update(chunk)
            total += len(chunk)
    return digest.hexdigest(), total


def mbps(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else float("inf")


def run(args: argparse.Namespace) -> int:
    base = Path(args.tmp_dir) if args.tmp_dir else None
    work = Path(tempfile.mkdtemp(prefix="gristmill-bench-", dir=base))
    server: LiveServer | None = None
    ok = True
    try:
        usage = shutil.disk_usage(work)
        need = args.size_mb * MB * 4.5
        if usage.free < need:
            print(
                f"warning: {usage.free / MB:.0f} MB free under {work}, "
                f"the run needs about {need / MB:.0f} MB",
                file=sys.stderr,
            )

        t0 = time.perf_counter()
        src = work / "train.jsonl"
        gen = generate_jsonl(src, args.size_mb * MB)
        gen_s = time.perf_counter() - t0
        if args.progress:
            print(
                f"generated {gen.bytes / MB:.1f} MB, {gen.rows} rows in {gen_s:.1f} s",
                file=sys.stderr,
            )

        # Reference: a plain copy of the same file on the same disk, then drop the copy.
        copy_path = work / "train-copy.jsonl"
        os.sync()  # start each timed phase with no dirty pages left by the one before
        copy_s = timed_copy(src, copy_path)
        copy_path.unlink()
        os.sync()

        data_dir = work / "data"
        spool = work / "spool"  # the server's multipart spool files stay on the same disk
        spool.mkdir()
        server = start_server(
            data_dir,
            # Empty values mean the defaults: SQLite + local blobs inside the data dir.
            {"GRISTMILL_DATABASE_URL": "", "GRISTMILL_BLOB_URL": ""},
            extra_env={"TMPDIR": str(spool)},
        )
        if not server.admin_key:
            raise RuntimeError(f"the server wrote no admin key to {data_dir / 'admin-key'}")
        phases = PhaseTimer()
        client = OpenAI(
            api_key=server.admin_key,
            base_url=f"{server.base_url}/v1",
            timeout=3600,
            max_retries=0,
            http_client=DefaultHttpxClient(event_hooks=phases.hooks()),
        )
        idle_rss_kb = _status_kb(server.proc.pid, "VmRSS")
        io_before = _io_bytes(server.proc.pid)

        with RssSampler(server.proc.pid) as sampler:
            t0 = time.perf_counter()
            upload = client.uploads.upload_file_chunked(
                file=src, mime_type="application/jsonl", purpose="fine-tune"
            )
            upload_s = time.perf_counter() - t0
        hwm_kb = _status_kb(server.proc.pid, "VmHWM")
        io_after = _io_bytes(server.proc.pid)
        wrote = io_after.get("wchar", 0) - io_before.get("wchar", 0)
        if args.progress:
            print(
                f"upload {upload.id} {upload.status} in {upload_s:.1f} s; "
                f"{sampler.samples} RSS samples, up to {sampler.max_procs} process(es)",
                file=sys.stderr,
            )

        # Verify: the completed upload holds a file with exactly the source's bytes.
        checks: list[str] = []
        if upload.status != "completed" or upload.file is None:
            ok = False
            checks.append(f"upload status {upload.status!r}, file {upload.file!r}: FAIL")
        else:
            stored = client.files.retrieve(upload.file.id)
            same = stored.bytes == gen.bytes
            ok &= same
            checks.append(
                f"file {stored.id}: {stored.bytes} bytes "
                f"(source {gen.bytes}): {'OK' if same else 'FAIL'}"
            )
            if args.verify:
                t0 = time.perf_counter()
                sha, n = download_sha256(client, stored.id)
                dl_s = time.perf_counter() - t0
                same = sha == gen.sha256 and n == gen.bytes
                ok &= same
                checks.append(
                    f"download sha256 {sha[:16]}… in {dl_s:.2f} s "
                    f"({mbps(n, dl_s):.0f} MB/s): {'OK' if same else 'FAIL'}"
                )

        copy_rate, up_rate = mbps(gen.bytes, copy_s), mbps(gen.bytes, upload_s)
        peak_mb = max(sampler.peak_kb, 0) / 1024
        rss_ok = peak_mb < RSS_TARGET_MB
        print(
            f"file: {gen.bytes / MB:.1f} MB, {gen.rows / 1e6:.1f}M rows "
            f"({gen.rows} rows, generated in {gen_s:.1f} s)"
        )
        print(f"plain copy:        {copy_s:6.2f} s  ({copy_rate:.0f} MB/s)")
        print(
            f"gristmill upload:  {upload_s:6.2f} s  ({up_rate:.0f} MB/s)  "
            f"ratio vs copy: {up_rate / copy_rate:.2f}"
        )
        parts_s, complete_s = phases.seconds.get("parts", 0.0), phases.seconds.get("complete", 0.0)
        rest_s = upload_s - sum(phases.seconds.values())
        print(
            f"  of which:        {phases.counts.get('parts', 0)} parts {parts_s:.2f} s "
            f"({mbps(gen.bytes, parts_s):.0f} MB/s), complete {complete_s:.2f} s "
            f"({mbps(gen.bytes, complete_s):.0f} MB/s), client side {rest_s:.2f} s"
        )
        print(
            f"  server write():  {wrote / MB:.0f} MB ({wrote / gen.bytes:.2f}x the file; "
            f"the copy writes 1.00x)"
        )
        print(
            f"server peak RSS:   {peak_mb:.0f} MB (target < {RSS_TARGET_MB:.0f} MB: "
            f"{'PASS' if rss_ok else 'MISS'})  [idle {idle_rss_kb / 1024:.0f} MB, "
            f"VmHWM {hwm_kb / 1024:.0f} MB]"
        )
        for line in checks:
            print(f"verify: {line}")
    except BaseException:
        if server is not None:
            print(f"--- server log tail ---\n{server.log_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MB (1024)")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also download the file and compare its sha256 with the source",
    )
    parser.add_argument("--tmp-dir", help="where to create the temp dir (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir afterwards")
    parser.add_argument("--progress", action="store_true", help="progress notes on stderr")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
