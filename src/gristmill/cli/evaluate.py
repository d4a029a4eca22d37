"""`gristmill evaluate DATASET_ID`: a dataset's quality report, over HTTP to a server.

The server is `--url` or `GRISTMILL_URL` (default `http://<GRISTMILL_HOST>:<GRISTMILL_PORT>`),
the key `--api-key` or `GRISTMILL_API_KEY` (default: the admin key in the data directory).
A dataset whose head has no evaluation yet gets one; while it runs, a progress bar goes to
stderr. The report is a table (`--json`: the native door's JSON as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

from gristmill.cli.jobs import progress_bar
from gristmill.client import APIStatusError, Client, GristmillError
from gristmill.settings import Settings

WAITING = ("pending", "running")


class CliError(Exception):
    """One line for stderr, and a non-zero exit."""


def server_url(args: argparse.Namespace, settings: Settings) -> str:
    url = args.url or os.environ.get("GRISTMILL_URL")
    return (url or f"http://{settings.host}:{settings.port}").rstrip("/")


def api_key(args: argparse.Namespace, settings: Settings) -> str:
    key = args.api_key or os.environ.get("GRISTMILL_API_KEY")
    if key:
        return str(key)
    try:
        return settings.admin_key_path.read_text().strip()
    except OSError:
        raise CliError(
            "no API key: pass --api-key or set GRISTMILL_API_KEY "
            f"(no admin key at {settings.admin_key_path})"
        ) from None


def call(
    client: Client, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One request to the server through the Python client: its JSON, or CliError with the
    server's message (`404: Dataset … not found.`)."""
    try:
        result: dict[str, Any] = client.request(
            method, path.removeprefix("/native/v1"), **({"json": body} if body is not None else {})
        )
    except APIStatusError as exc:
        raise CliError(f"{exc.status_code}: {exc.message}") from None
    except GristmillError as exc:
        raise CliError(str(exc)) from None
    return result


def fetch_report(
    client: Client, dataset_id: str, *, wait: bool, poll: float, err: TextIO
) -> dict[str, Any]:
    path = f"/native/v1/datasets/{dataset_id}/evaluation"
    report = call(client, "GET", path)
    if report["status"] == "skipped":
        report = call(client, "POST", path)
    while wait and report["status"] in WAITING:
        progress = report.get("progress") or {}
        bar = progress_bar(progress.get("done") or 0, progress.get("total"))
        print(f"\revaluating {report['status']:8} {bar}", end="", file=err, flush=True)
        time.sleep(poll)
        report = call(client, "GET", path)
    if wait:
        print(file=err)
    return report


def render(report: dict[str, Any], out: TextIO) -> None:
    status = report["status"]
    if status != "succeeded":
        print(
            f"evaluation {status}" + (f": {report['error']}" if report.get("error") else ""),
            file=out,
        )
        return
    print(
        f"grade {report['grade']}  score {report['score']:.1f}/10  "
        f"rows {report['rows']:,}  version {report['version_id']}",
        file=out,
    )
    header = ("check", "flagged", "rows", "rate", "score", "lost")
    rows = [
        (
            c["check"],
            f"{c['flagged']:,}",
            f"{c['rows_checked']:,}",
            f"{c['rate'] * 100:.1f}%",
            f"{c['score']:.1f}",
            f"-{c['points_lost']:.2f}",
        )
        for c in report["checks"]
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for r in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)), file=out)
    print(file=out)
    for c in report["checks"]:
        if c["flagged"]:
            print(f"- {c['check']}: {c['reason']}", file=out)
    for cap in report.get("caps", []):
        print(f"- cap {cap['cap']}: {cap['reason']}", file=out)


def client_for(args: argparse.Namespace) -> Client:
    """The Python client for the server and key the flags, the environment or the data
    directory name; every command goes through it."""
    settings = Settings()
    return Client(server_url(args, settings), api_key(args, settings), timeout=30)


def add_server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="server URL (GRISTMILL_URL)")
    p.add_argument("--api-key", help="API key (GRISTMILL_API_KEY)")


def cmd_evaluate(args: argparse.Namespace) -> int:
    with client_for(args) as c:
        report = fetch_report(
            c, args.dataset_id, wait=not args.no_wait, poll=args.poll, err=sys.stderr
        )
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render(report, sys.stdout)
    return 0 if report["status"] in ("succeeded", *WAITING) else 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", aliases=["report"], help="a dataset's quality report (over HTTP to a server)"
    )
    p.add_argument("dataset_id")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a running one")
    p.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    add_server_flags(p)
    p.set_defaults(func=cmd_evaluate)
