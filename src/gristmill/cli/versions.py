"""`gristmill versions DATASET_ID` (a dataset's versions, newest first), `gristmill diff
DATASET_ID A B` (rows added, removed and changed between two), `gristmill restore DATASET_ID
V` and `gristmill tag DATASET_ID V NAME`, over HTTP. V is a version id, a tag or `main`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gristmill.cli.evaluate import add_server_flags, call, client_for


def cmd_versions(args: argparse.Namespace) -> int:
    found: list[dict[str, Any]] = []
    with client_for(args) as c:
        cursor = None
        while True:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = call(c, "GET", f"/native/v1/datasets/{args.dataset_id}/versions{query}")
            found.extend(page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    header = ("", "number", "version", "reason", "rows", "grade", "tags", "created")
    lines = [
        (
            "*" if v["is_head"] else "",
            str(v["number"]),
            v["id"],
            v["reason"],
            f"{v['row_count']:,}",
            (v["evaluation"] or {}).get("grade") or "-",
            ",".join(v.get("tags", [])),
            v["created_at"][:19],
        )
        for v in found
    ]
    widths = [max(len(r[i]) for r in (header, *lines)) for i in range(len(header))]
    for r in (header, *lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    path = f"/native/v1/datasets/{args.dataset_id}/versions/{args.a}/diff/{args.b}"
    changes: list[dict[str, Any]] = []
    with client_for(args) as c:
        cursor = None
        while True:
            query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
            page = call(c, "GET", path + query)
            changes.extend(page["changes"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    if args.json:
        print(json.dumps({**page, "changes": changes, "next_cursor": None}, indent=2))
        return 0
    print(
        f"{page['added']:,} added, {page['removed']:,} removed, {page['changed']:,} changed "
        f"({args.a} -> {args.b})"
    )
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for change in changes:
        fields = ", ".join(change.get("fields", {}))
        print(
            f"{marks[change['change']]} {change['datapoint_id']}"
            + (f"  {fields}" if fields else "")
        )
    return 0


def _print_version(v: dict[str, Any], args: argparse.Namespace, verb: str) -> None:
    if args.json:
        print(json.dumps(v, indent=2))
    else:
        tags = f" [{', '.join(v['tags'])}]" if v.get("tags") else ""
        print(f"{verb} version {v['number']} ({v['id']}, {v['row_count']:,} rows){tags}")


def cmd_restore(args: argparse.Namespace) -> int:
    with client_for(args) as c:
        path = f"/native/v1/datasets/{args.dataset_id}/versions/{args.version}/restore"
        v = call(c, "POST", path)
    _print_version(v, args, f"restored {args.version} as")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    with client_for(args) as c:
        path = f"/native/v1/datasets/{args.dataset_id}/versions/{args.version}/tags"
        v = call(c, "POST", path, {"name": args.name})
    _print_version(v, args, "tagged")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("versions", help="a dataset's versions (over HTTP to a server)")
    p.add_argument("dataset_id")
    p.add_argument("--json", action="store_true")
    add_server_flags(p)
    p.set_defaults(func=cmd_versions)
    d = sub.add_parser("diff", help="rows added, removed and changed between two versions")
    d.add_argument("dataset_id")
    d.add_argument("a", help="the version to compare from")
    d.add_argument("b", help="the version to compare to")
    d.add_argument("--json", action="store_true")
    add_server_flags(d)
    d.set_defaults(func=cmd_diff)
    r = sub.add_parser("restore", help="a new head version equal to an earlier one")
    r.add_argument("dataset_id")
    r.add_argument("version", help="a version id, a tag or main")
    r.add_argument("--json", action="store_true")
    add_server_flags(r)
    r.set_defaults(func=cmd_restore)
    t = sub.add_parser("tag", help="name a version (the name can then stand for its id)")
    t.add_argument("dataset_id")
    t.add_argument("version", help="a version id, a tag or main")
    t.add_argument("name")
    t.add_argument("--json", action="store_true")
    add_server_flags(t)
    t.set_defaults(func=cmd_tag)
