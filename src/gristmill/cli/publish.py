"""`gristmill publish DATASET_ID --to TARGET --spec KEY=VALUE …`: publish a version to the
Hugging Face Hub, Kaggle, an OpenAI Files API or S3, over HTTP, and follow it to the end."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gristmill.cli.evaluate import WAITING, CliError, add_server_flags, call, client_for

TARGETS = ("huggingface", "kaggle", "openai", "s3")


def _spec(pairs: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--spec takes KEY=VALUE, not {pair!r}")
        try:  # true, 0.1, {"validation": 0.1} as JSON; anything else as text
            spec[key] = json.loads(value)
        except json.JSONDecodeError:
            spec[key] = value
    return spec


def cmd_publish(args: argparse.Namespace) -> int:
    body = {"target": args.to, "target_spec": _spec(args.spec or [])}
    with client_for(args) as c:
        path = f"/native/v1/datasets/{args.dataset_id}/publications"
        pub = call(c, "POST", path, body)
        while pub["status"] in (*WAITING, "pending"):
            print(f"\rpublish {pub['status']:8}", end="", file=sys.stderr, flush=True)
            time.sleep(args.poll)
            pub = call(c, "GET", f"{path}/{pub['id']}")
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(pub, indent=2))
    elif pub["status"] == "succeeded":
        print(pub["message"])
    if pub["status"] != "succeeded":
        raise CliError(pub["message"])
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("publish", help="publish a version to the Hub, Kaggle, OpenAI or S3")
    p.add_argument("dataset_id")
    p.add_argument("--to", required=True, choices=TARGETS)
    p.add_argument(
        "--spec",
        action="append",
        metavar="KEY=VALUE",
        help="a target_spec field, e.g. repo_id=me/data token=hf_... (repeat)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    add_server_flags(p)
    p.set_defaults(func=cmd_publish)
