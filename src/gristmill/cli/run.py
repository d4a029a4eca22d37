"""`gristmill run DATASET_ID --recipe …`: start an adaptation run (or `--estimate` its cost)
over HTTP to a server, follow it with a progress bar on stderr, and print its report.

Without `--prompt`/`--completion`/`--chat` the column mapping follows the dataset's rows:
chat rows map `chat` to `messages`, others `prompt` and `completion`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from gristmill.cli.evaluate import add_server_flags, call, client_for
from gristmill.cli.jobs import progress_bar
from gristmill.client import Client

RECIPES = ("prompt_rephrase", "reasoning_traces")
DONE = ("succeeded", "failed", "cancelled")


def _mapping(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    if args.chat:
        return {"chat": args.chat}
    if args.prompt:
        return {
            "prompt": args.prompt,
            **({"completion": args.completion} if args.completion else {}),
        }
    ds = call(client, "GET", f"/native/v1/datasets/{args.dataset_id}")
    if ds.get("schema_type") == "chat":
        return {"chat": "messages"}
    return {"prompt": "prompt", "completion": "completion"}


def body_of(args: argparse.Namespace, mapping: dict[str, Any]) -> dict[str, Any]:
    recipes = {name: name in (args.recipe or []) for name in RECIPES}
    recipes["deduplication"] = not args.no_dedup
    body: dict[str, Any] = {
        "column_mapping": mapping,
        "recipe_specification": {"recipes": recipes},
        "estimate": args.estimate,
    }
    brand = {"length": args.length, "blueprint": args.blueprint}
    if any(brand.values()):
        body["brand_controls"] = {k: v for k, v in brand.items() if v}
    if args.training_type:
        body["training_type"] = args.training_type
    if args.max_rows:
        body["job_specification"] = {"max_rows": args.max_rows}
    for name in ("model", "max_cost"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


def render(run: dict[str, Any], out: TextIO) -> None:
    report = run.get("report") or {}
    print(
        f"run {run['id']} {run['status']}" + (f": {run['error']}" if run["error"] else ""), file=out
    )
    if not report:
        return
    print(
        f"rows {report['rows_in']:,} in, {report['rows_out']:,} out "
        f"({report['duplicates_removed']:,} duplicates removed); calls {report['calls']:,} "
        f"({report['cached_calls']:,} cached, {report['retries']:,} retries); "
        f"cost ${report['cost_usd']:.4f}",
        file=out,
    )
    estimate = report.get("estimate") or {}
    print(
        f"estimate {estimate.get('credits', 0):,.2f} credits, actual "
        f"{report['actual']['credits']:,.2f} credits",
        file=out,
    )
    for name, r in report["recipes"].items():
        reasons = "; ".join(f"{k} ({v})" for k, v in r["reasons"].items())
        print(
            f"- {name}: {r['rows_changed']:,} rows changed, {r['rows_flagged']:,} flagged"
            + (f": {reasons}" if reasons else ""),
            file=out,
        )


def cmd_run(args: argparse.Namespace) -> int:
    with client_for(args) as c:
        body = body_of(args, _mapping(c, args))
        started = call(c, "POST", f"/native/v1/datasets/{args.dataset_id}/runs", body)
        if args.estimate:
            est = started["estimate"]
            if args.json:
                print(json.dumps(est, indent=2))
            else:
                print(
                    f"estimate: {est['credits']:,.2f} credits (${est['cost_usd'] or 0:.4f}), "
                    f"{est['minutes']:,.1f} minutes, {est['calls']:,} model calls over "
                    f"{est['rows']:,} rows"
                )
            return 0
        run = started
        path = f"/native/v1/datasets/{args.dataset_id}/runs/{run['id']}"
        while not args.no_wait and run["status"] not in DONE:
            p = run["progress"]
            bar = progress_bar(p["processed_rows"] or 0, p["total_rows"])
            print(f"\rrun {run['status']:8} {bar}", end="", file=sys.stderr, flush=True)
            time.sleep(args.poll)
            run = call(c, "GET", path)
        if not args.no_wait:
            print(file=sys.stderr)
    if args.json:
        print(json.dumps(run, indent=2, ensure_ascii=False))
    else:
        render(run, sys.stdout)
    return 0 if run["status"] in ("succeeded", "pending", "running") else 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="adapt a dataset with recipes (over HTTP to a server)")
    p.add_argument("dataset_id")
    p.add_argument("--recipe", action="append", choices=RECIPES, help="a model recipe (repeat)")
    p.add_argument("--no-dedup", action="store_true", help="keep near duplicates")
    p.add_argument("--prompt", help="the prompt column")
    p.add_argument("--completion", help="the completion column")
    p.add_argument("--chat", help="the conversation column (chat mode)")
    p.add_argument("--length", choices=("minimal", "concise", "detailed", "extensive"))
    p.add_argument("--blueprint", help="a system prompt for generated completions")
    p.add_argument("--training-type", choices=("instruction_dataset", "preference_pairs"))
    p.add_argument("--max-rows", type=int)
    p.add_argument("--max-cost", type=float, help="budget in USD")
    p.add_argument("--model", help="provider/model, instead of GRISTMILL_RUN_MODEL")
    p.add_argument("--estimate", action="store_true", help="only estimate the cost")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-wait", action="store_true", help="do not follow the run")
    p.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
    add_server_flags(p)
    p.set_defaults(func=cmd_run)
