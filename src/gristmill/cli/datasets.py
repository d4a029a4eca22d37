"""`gristmill datasets upload|list|show|rows|delete` and `gristmill logs list`, on the Python
client (`gristmill.Client`) over HTTP. Progress bars go to stderr; `--json` prints what the
server answered."""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice
from typing import Any

from gristmill.cli.evaluate import CliError, add_server_flags, api_key, server_url
from gristmill.cli.jobs import progress_bar
from gristmill.client import Client, GristmillError, JobFailedError
from gristmill.settings import Settings


def client_of(args: argparse.Namespace) -> Client:
    settings = Settings()
    return Client(server_url(args, settings), api_key(args, settings))


def _bar(stage: str, done: int, total: int | None) -> None:
    shown = (
        f"{done / 1e6:,.1f}/{(total or 0) / 1e6:,.1f} MB"
        if stage == "upload"
        else progress_bar(done, total)
    )
    print(f"\r{stage:7} {shown}", end="", file=sys.stderr, flush=True)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def _line(d: dict[str, Any]) -> tuple[str, ...]:
    grade = (d.get("evaluation_summary") or {}).get("grade") or "-"
    return (
        d["id"],
        d["name"],
        d["status"],
        f"{d['row_count']:,}",
        grade,
        d["origin"],
        d["updated_at"][:19],
    )


def cmd_upload(args: argparse.Namespace) -> int:
    with client_of(args) as gm:
        try:
            ds = gm.datasets.upload(
                args.file, name=args.name, schema_type=args.schema_type, wait=not args.no_wait,
                progress=None if args.json else _bar,
            )  # fmt: skip
        except JobFailedError as exc:
            print(file=sys.stderr)
            raise CliError(f"the ingest failed: {exc.result.get('error')}") from None
    if not args.json:
        print(file=sys.stderr)
    print(
        json.dumps(ds, indent=2)
        if args.json
        else f"{ds['id']}  {ds['status']}  {ds['row_count']:,} rows"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with client_of(args) as gm:
        found = list(islice(gm.datasets.list(q=args.q, status=args.status), args.limit))
    if args.json:
        print(json.dumps(found, indent=2))
    elif found:
        _table([("id", "name", "status", "rows", "grade", "door", "updated"), *map(_line, found)])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with client_of(args) as gm:
        ds = gm.datasets.get(args.dataset_id)
    if args.json:
        print(json.dumps(ds, indent=2))
    else:
        for key in (
            "id",
            "name",
            "status",
            "schema_type",
            "row_count",
            "invalid_row_count",
            "origin",
            "head_version_id",
            "error",
        ):
            print(f"{key:18} {ds.get(key)}")
        print(f"{'grade':18} {(ds.get('evaluation_summary') or {}).get('grade') or '-'}")
    return 0


def cmd_rows(args: argparse.Namespace) -> int:
    with client_of(args) as gm:
        for row in islice(gm.datasets.rows(args.dataset_id), args.limit):
            print(json.dumps(row if args.json else row["record"], ensure_ascii=False))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with client_of(args) as gm:
        gm.datasets.delete(args.dataset_id)
    print(
        json.dumps({"id": args.dataset_id, "deleted": True})
        if args.json
        else f"deleted {args.dataset_id}"
    )
    return 0


def cmd_logs_list(args: argparse.Namespace) -> int:
    filters: dict[str, Any] = {
        k: v
        for k, v in (("model", args.model), ("provider", args.provider), ("search", args.search))
        if v
    }
    if args.success is not None:
        filters["success"] = args.success == "true"
    with client_of(args) as gm:
        found = list(islice(gm.logs.list(args.gateway, **filters), args.limit))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    lines = [
        (
            log["id"],
            log["created_at"][:19],
            log["provider"],
            log["model"] or "-",
            "ok" if log["success"] else "failed",
            f"{log['tokens_in'] or 0}/{log['tokens_out'] or 0}",
            f"{log['cost'] or 0:.6f}",
            str(log["feedback"] if log["feedback"] is not None else "-"),
        )
        for log in found
    ]
    if lines:
        _table(
            [("id", "created", "provider", "model", "result", "tokens", "cost", "feedback"), *lines]
        )
    return 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            result: int = func(args)
        except GristmillError as exc:
            status = getattr(exc, "status_code", None)
            raise CliError(f"{status}: {exc}" if status else str(exc)) from None
        return result

    return run


def add_parser(sub: Any) -> None:
    p = sub.add_parser("datasets", help="datasets: upload, list, show, rows, delete (over HTTP)")
    inner = p.add_subparsers(dest="datasets_command", required=True)
    up = inner.add_parser("upload", help="upload a file as a dataset and follow its ingest")
    up.add_argument("file")
    up.add_argument("--name")
    up.add_argument(
        "--schema-type", choices=("chat", "generation", "preference", "reranking_questions", "json")
    )
    waiting = up.add_mutually_exclusive_group()
    waiting.add_argument(
        "--wait", action="store_true", help="follow the ingest to its end (the default)"
    )
    waiting.add_argument("--no-wait", action="store_true", help="do not wait for the ingest")
    up.set_defaults(func=_guarded(cmd_upload))
    ls = inner.add_parser("list", help="datasets, newest first")
    ls.add_argument("-q", "--q", help="name contains")
    ls.add_argument("--status")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=_guarded(cmd_list))
    show = inner.add_parser("show", help="one dataset")
    show.add_argument("dataset_id")
    show.set_defaults(func=_guarded(cmd_show))
    rows = inner.add_parser("rows", help="a dataset's rows as JSON lines (training records)")
    rows.add_argument("dataset_id")
    rows.add_argument("--limit", type=int, default=100)
    rows.set_defaults(func=_guarded(cmd_rows))
    rm = inner.add_parser("delete", help="delete a dataset")
    rm.add_argument("dataset_id")
    rm.set_defaults(func=_guarded(cmd_delete))
    logs = sub.add_parser("logs", help="gateway logs (over HTTP)")
    logs_inner = logs.add_subparsers(dest="logs_command", required=True)
    ll = logs_inner.add_parser("list", help="a gateway's logs, newest first")
    ll.add_argument("gateway", help="the gateway id (gristmill-runs holds adaptation runs' calls)")
    ll.add_argument("--model")
    ll.add_argument("--provider")
    ll.add_argument("--success", choices=("true", "false"))
    ll.add_argument("--search", help="text in the request or response")
    ll.add_argument("--limit", type=int, default=50)
    ll.set_defaults(func=_guarded(cmd_logs_list))
    for command in (up, ls, show, rows, rm, ll):
        command.add_argument("--json", action="store_true")
        add_server_flags(command)
