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
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from bench.common import (  # noqa: E402
    MB,
    PhaseTimer,
    RssSampler,
    generate_jsonl,
    io_bytes,
    mbps,
    start_local_server,
    status_kb,
    verdict,
)
from openai import DefaultHttpxClient, OpenAI  # noqa: E402
from tests.support import LiveServer  # noqa: E402

RSS_TARGET_MB = 300.0


def upload_phase(request: httpx.Request) -> str:
    """The Uploads API call a request belongs to: create, parts or complete."""
    path = request.url.path.rstrip("/")
    for suffix in ("parts", "complete", "uploads"):
        if path.endswith("/" + suffix):
            return "create" if suffix == "uploads" else suffix
    return "other"


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
        gen = generate_jsonl(src, size_bytes=args.size_mb * MB)
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
        server = start_local_server(data_dir, extra_env={"TMPDIR": str(spool)})
        phases = PhaseTimer(upload_phase)
        client = OpenAI(
            api_key=server.admin_key,
            base_url=f"{server.base_url}/v1",
            timeout=3600,
            max_retries=0,
            http_client=DefaultHttpxClient(event_hooks=phases.hooks()),
        )
        idle_rss_kb = status_kb(server.proc.pid, "VmRSS")
        io_before = io_bytes(server.proc.pid)

        with RssSampler(server.proc.pid) as sampler:
            t0 = time.perf_counter()
            upload = client.uploads.upload_file_chunked(
                file=src, mime_type="application/jsonl", purpose="fine-tune"
            )
            upload_s = time.perf_counter() - t0
        hwm_kb = status_kb(server.proc.pid, "VmHWM")
        io_after = io_bytes(server.proc.pid)
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
        peak_mb = sampler.peak_mb
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
            f"{verdict(rss_ok)})  [idle {idle_rss_kb / 1024:.0f} MB, "
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
