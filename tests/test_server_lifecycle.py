"""`gristmill serve` and the CLI as an operator uses them: first start, keys, health, expiry."""

from __future__ import annotations

import json
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import GRISTMILL, Backend, LiveServer, start_server, stored_blobs


def test_first_start_prints_admin_key_once(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", {})
    try:
        key_file = tmp_path / "data" / "admin-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        out = server.log_text()
        assert f"Gristmill listening on {server.base_url}" in out
        assert server.admin_key in out
        client = openai.OpenAI(api_key=server.admin_key, base_url=server.base_url + "/v1")
        assert list(client.files.list()) == []
    finally:
        server.stop()
    again = start_server(tmp_path / "data", {})
    try:
        assert again.admin_key == server.admin_key
        assert server.admin_key not in again.log_text()
        assert "Admin API key" not in again.log_text()
    finally:
        again.stop()


def test_health_openapi_and_access_log(server: LiveServer) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz").json()
    assert ready == {"ready": True, "database": "ok", "blobs": "ok"}
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert "/v1/files" in spec["paths"] and "/v1/uploads/{upload_id}/complete" in spec["paths"]
    httpx.get(f"{server.base_url}/v1/files/file-x")

    def logged() -> list[dict[str, object]]:
        lines = [json.loads(x) for x in server.log_text().splitlines() if x.startswith('{"ts"')]
        return [x for x in lines if x["path"] == "/v1/files/file-x"]

    deadline = time.monotonic() + 5
    while not logged() and time.monotonic() < deadline:  # the line is written after the reply
        time.sleep(0.05)
    hit = logged()
    assert hit and hit[-1]["status"] == 401 and hit[-1]["method"] == "GET"


def test_keys_cli(server: LiveServer) -> None:
    issued = server.new_key("cli-acct", service_account=True)
    assert set(issued) >= {"api_key", "account_id", "identity_id"}
    listed = json.loads(server.cli("keys", "list", "--account", "cli-acct", "--json").stdout)
    assert [k["key_id"] for k in listed] == [issued["key_id"]]
    assert listed[0]["identity_type"] == "service_account"
    assert issued["api_key"] not in server.cli("keys", "list").stdout  # stored hashed, shown once
    second = server.new_key("cli-acct")
    assert second["account_id"] == issued["account_id"]
    missing = server.cli("keys", "revoke", "key_nope", check=False)
    assert missing.returncode != 0 and "key_nope" in missing.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path, backend: Backend) -> None:
    env = {**backend.env, "GRISTMILL_DATA_DIR": str(tmp_path)}
    import os

    for _ in range(2):
        done = subprocess.run(
            [*GRISTMILL, "db", "upgrade"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "database at head" in done.stdout


@pytest.fixture
def fast_expiry_server(backend: Backend, tmp_path: Path) -> LiveServer:
    return start_server(
        tmp_path / "exp",
        backend.env,
        {
            "GRISTMILL_UPLOAD_EXPIRY_SECONDS": "2",
            "GRISTMILL_UPLOAD_SWEEP_INTERVAL_SECONDS": "0.5",
        },
    )


def test_expired_uploads_are_cleaned_up(fast_expiry_server: LiveServer) -> None:
    server = fast_expiry_server
    try:
        client = openai.OpenAI(
            api_key=server.new_key()["api_key"], base_url=server.base_url + "/v1", max_retries=0
        )
        before = stored_blobs(server)
        up = client.uploads.create(
            bytes=6, filename="e.txt", mime_type="text/plain", purpose="user_data"
        )
        part = client.uploads.parts.create(up.id, data=b"abc")
        assert len(stored_blobs(server)) == len(before) + 1
        deadline = time.monotonic() + 15  # expiry is 2 s, the sweep every 0.5 s
        while stored_blobs(server) != before and time.monotonic() < deadline:
            time.sleep(0.25)
        assert stored_blobs(server) == before  # the sweeper freed the part
        with pytest.raises(openai.BadRequestError) as err:
            client.uploads.complete(up.id, part_ids=[part.id])
        assert "is expired" in err.value.message
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def test_several_server_processes(backend: Backend, tmp_path: Path) -> None:
    """`serve --processes 2`: two processes answer on one port over one store (what one
    writes, the other reads), and SIGTERM stops them all."""
    server = start_server(tmp_path / "multi", backend.env, args=("--processes", "2"))
    try:
        workers = _children(server.proc.pid)
        assert len(workers) >= 2, server.log_text()
        headers = {"Authorization": f"Bearer {server.new_key()['api_key']}"}
        url = f"{server.base_url}/v1/datasets/multi"

        def create(n: int) -> str:
            point = {
                "type": "chat",
                "function_name": "f",
                "input": {
                    "messages": [{"role": "user", "content": [{"type": "text", "text": str(n)}]}]
                },
                "output": [{"type": "text", "text": "ok"}],
            }
            r = httpx.post(f"{url}/datapoints", json={"datapoints": [point]}, headers=headers)
            assert r.status_code == 200, r.text
            return str(r.json()["ids"][0])

        def answered_by() -> set[object]:
            lines = [json.loads(x) for x in server.log_text().splitlines() if x.startswith('{"ts"')]
            return {x["pid"] for x in lines if x["path"] == "/v1/datasets/multi/datapoints"}

        # the kernel hands each new connection to whichever process accepts it first: send
        # rounds of concurrent requests until both have answered
        ids: set[str] = set()
        with ThreadPoolExecutor(8) as pool:  # a new connection per request
            for round_ in range(5):
                ids |= set(pool.map(create, range(40 * round_, 40 * (round_ + 1))))
                time.sleep(0.2)  # each access log line is written after its reply
                if len(answered_by()) == 2:
                    break
        assert answered_by() <= set(workers) and len(answered_by()) == 2
        listed = httpx.post(f"{url}/list_datapoints", json={"limit": 1000}, headers=headers)
        assert {d["id"] for d in listed.json()["datapoints"]} == ids
    finally:
        server.stop()
    assert server.proc.returncode is not None
    deadline = time.monotonic() + 10  # the workers exit with the parent (and are reaped)
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (("serve", "--processes", "0"), {}, "GRISTMILL_PROCESSES"),
        (("keys", "list"), {"GRISTMILL_PORT": "abc"}, "GRISTMILL_PORT"),
    ],
)
def test_bad_setting_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    import os

    done = subprocess.run(
        [*GRISTMILL, *args],
        env={**os.environ, "GRISTMILL_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert named in done.stderr and "Traceback" not in done.stderr
