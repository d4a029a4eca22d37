"""`gristmill export DATASET_ID --format F -o FILE`: a version in a training format, over
HTTP. The export runs on the server as a job (a progress bar on stderr meanwhile); then its
files are downloaded through their signed links by the Python client, and rows the format
cannot hold are listed on stderr by line. With `--validation`, FILE gets `-train` and
`-validation` before its extension."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gristmill.cli.evaluate import WAITING, CliError, add_server_flags, call, client_for
from gristmill.cli.jobs import progress_bar
from gristmill.client import GristmillError
from gristmill.services.datasets.export_job import FORMATS


def _validation(text: str) -> float | int:
    share = float(text)
    return int(share) if share >= 1 and share.is_integer() else share


def cmd_export(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"format": args.format}
    if args.version:
        body["version"] = args.version
    if args.validation is not None:
        body["split"] = {"validation": args.validation, "seed": args.seed}
    with client_for(args) as c:
        export = call(c, "POST", f"/native/v1/datasets/{args.dataset_id}/exports", body)
        path = f"/native/v1/datasets/{args.dataset_id}/exports/{export['id']}"
        while export["status"] in WAITING:
            bar = progress_bar(export["progress"]["done"], export["progress"]["total"])
            print(f"\rexport {export['status']:8} {bar}", end="", file=sys.stderr, flush=True)
            time.sleep(args.poll)
            export = call(c, "GET", path)
        print(file=sys.stderr)
        if export["status"] != "succeeded":
            raise CliError(f"export failed: {export['error']}")
        try:
            written = c.exports.download(export, args.output)
        except GristmillError as exc:
            raise CliError(str(exc)) from None
    for f, local in zip(export["files"], written, strict=True):
        f["path"] = str(local)
    for skip in export["skipped"][:20]:
        print(f"skipped line {skip['line']}: {skip['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(export, indent=2, ensure_ascii=False))
        return 0
    for f in export["files"]:
        print(f"{f['path']}: {f['rows']:,} rows ({f['split']})")
    if export["rows_skipped"]:
        print(f"{export['rows_skipped']:,} rows cannot be expressed as {args.format} (not written)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="a version in a training format, downloaded to a file")
    p.add_argument("dataset_id")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("-o", "--output", required=True, help="the file to write")
    p.add_argument("--version", help="a version id, a tag or main (default: the live rows)")
    p.add_argument(
        "--validation", type=_validation, help="validation share (0.1) or row count (500)"
    )
    p.add_argument("--seed", type=int, default=0, help="the split's seed")
    p.add_argument("--json", action="store_true")
    p.add_argument("--poll", type=float, default=0.3, help=argparse.SUPPRESS)
    add_server_flags(p)
    p.set_defaults(func=cmd_export)
