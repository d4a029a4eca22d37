"""`gristmill` entry point: serve, worker, db upgrade, keys, jobs, evaluate, run, versions, diff,
restore, tag, export, publish, datasets."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gristmill.cli import datasets as datasets_cli
from gristmill.cli import evaluate as evaluate_cli
from gristmill.cli import export as export_cli
from gristmill.cli import jobs as jobs_cli
from gristmill.cli import publish as publish_cli
from gristmill.cli import run as run_cli
from gristmill.cli import versions as versions_cli
from gristmill.hub import Hub
from gristmill.services import accounts, server_secret
from gristmill.services.errors import ServiceError
from gristmill.settings import Settings


def _store_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data directory (GRISTMILL_DATA_DIR)")
    p.add_argument("--database-url", help="SQLAlchemy URL (GRISTMILL_DATABASE_URL)")
    p.add_argument("--blob-url", help="file:///path or s3://bucket/prefix (GRISTMILL_BLOB_URL)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in ("data_dir", "database_url", "blob_url", "host", "port", "processes"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "no_worker", False):
        overrides["worker"] = False
    return overrides


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(**_overrides(args))


def _write_admin_key(settings: Settings, key: str) -> Path:
    path = settings.admin_key_path
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gristmill.api.app import create_app, log_to_stderr

    settings = _settings(args)
    log_to_stderr()
    hub = Hub.open(settings)
    server_secret.ensure_key(hub)  # before any process signs with it (see server_secret)
    if accounts.store_is_empty(hub):
        issued = accounts.issue_key(hub, account_name="default", key_name="admin")
        path = _write_admin_key(settings, issued.api_key)
        print(f"Created account 'default' ({issued.account_id}).", flush=True)
        print(f"Admin API key (shown once, also saved to {path}):", flush=True)
        print(f"  {issued.api_key}", flush=True)
    print(f"Gristmill listening on http://{settings.host}:{settings.port}", flush=True)
    print(f"  database: {_redact(settings.resolved_database_url())}", flush=True)
    print(f"  blobs:    {settings.resolved_blob_url()}", flush=True)
    print(
        f"  viewer:   http://{settings.host}:{settings.port}/ui/ (sign in with a key)", flush=True
    )
    if settings.processes > 1:
        # each process builds its own app from the environment (uvicorn spawns them), so the
        # flags given here travel as the GRISTMILL_* variables they stand for
        hub.close()
        for name, value in _overrides(args).items():
            os.environ[f"GRISTMILL_{name.upper()}"] = str(value)
        print(f"  processes: {settings.processes}", flush=True)
        uvicorn.run(
            "gristmill.api.app:app_from_environment",
            factory=True,
            workers=settings.processes,
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_level="warning",
        )
        return 0
    uvicorn.run(
        create_app(hub),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
    )
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from gristmill.jobs.kinds import register_all
    from gristmill.jobs.worker import Worker, request_stop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    hub = Hub.open(_settings(args))
    register_all()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: request_stop(stop))
    worker = Worker(hub, name=args.name)
    print(f"gristmill worker {worker.owner} polling for jobs", flush=True)
    worker.run_forever(stop)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    Hub.open(settings).close()
    print(f"database at head: {_redact(settings.resolved_database_url())}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    hub = Hub.open(_settings(args))
    issued = accounts.issue_key(
        hub, account_name=args.account, key_name=args.name, service_account=args.service_account
    )
    out = {
        "api_key": issued.api_key,
        "account_id": issued.account_id,
        "identity_id": issued.identity_id,
        "key_id": issued.key_id,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"API key (shown once): {issued.api_key}")
        print(f"account: {issued.account_id}  identity: {issued.identity_id}  key: {issued.key_id}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    hub = Hub.open(_settings(args))
    keys = accounts.list_keys(hub, args.account)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "key_id": k.key_id,
                        "name": k.name,
                        "prefix": k.prefix,
                        "account_id": k.account_id,
                        "account": k.account_name,
                        "identity_id": k.identity_id,
                        "identity_type": k.identity_kind,
                        "created_at": k.created_at.isoformat(),
                        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                    }
                    for k in keys
                ]
            )
        )
        return 0
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(
            f"{k.key_id}  {k.prefix}…  {k.account_name:<16} {k.identity_kind:<15} "
            f"{k.name:<16} {state}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    hub = Hub.open(_settings(args))
    accounts.revoke_key(hub, args.key_id)
    print(f"revoked {args.key_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gristmill", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server (and an embedded worker)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-worker", action="store_true", help="do not run the embedded worker")
    serve.add_argument(
        "--processes", type=int, help="server processes sharing the port (GRISTMILL_PROCESSES)"
    )
    _store_flags(serve)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a standalone job worker")
    worker.add_argument("--name", help="worker name shown in job leases")
    _store_flags(worker)
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="metadata store maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to head")
    _store_flags(up)
    up.set_defaults(func=cmd_db_upgrade)

    jobs_cli.add_parsers(sub, _store_flags)
    evaluate_cli.add_parser(sub)
    run_cli.add_parser(sub)
    versions_cli.add_parser(sub)
    export_cli.add_parser(sub)
    datasets_cli.add_parser(sub)
    publish_cli.add_parser(sub)

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (and its account if new)")
    create.add_argument("--account", default="default", help="account name")
    create.add_argument("--name", default="default", help="key (identity) name")
    create.add_argument("--service-account", action="store_true")
    create.add_argument("--json", action="store_true")
    _store_flags(create)
    create.set_defaults(func=cmd_keys_create)
    lst = keys_sub.add_parser("list", help="list keys")
    lst.add_argument("--account", help="only this account")
    lst.add_argument("--json", action="store_true")
    _store_flags(lst)
    lst.set_defaults(func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    _store_flags(revoke)
    revoke.set_defaults(func=cmd_keys_revoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "hub_func"):
            code: int = args.hub_func(Hub.open(_settings(args)), args)
        else:
            code = args.func(args)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except evaluate_cli.CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:  # a bad GRISTMILL_* variable or flag
        for problem in exc.errors():
            name = ".".join(str(part) for part in problem["loc"])
            print(
                f"error: setting {name} (GRISTMILL_{name.upper()}): {problem['msg']}, "
                f"got {problem['input']!r}",
                file=sys.stderr,
            )
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
