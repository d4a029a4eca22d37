"""A key revoked from the CLI fails on its very next request, in every server process and
through every door, each answering 401 in its own error envelope."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Backend, LiveServer, start_server

Door = tuple[str, str, dict[str, str], Callable[[Any], bool]]


def doors(key: dict[str, str]) -> list[Door]:
    """(method, path, headers, does the body have this door's 401 envelope) per door."""
    bearer = {"Authorization": f"Bearer {key['api_key']}"}
    account = key["account_id"]

    def openai(b: Any) -> bool:
        return set(b["error"]) == {"message", "type", "param", "code"} and "revoked" in str(b)

    def adaption_or_native(b: Any) -> bool:
        return set(b["error"]) == {"message", "code", "param"} and "revoked" in str(b)

    return [
        ("GET", "/v1/files", bearer, openai),
        ("GET", "/openai/v1/files", bearer, openai),
        ("GET", "/api/v1/datasets", bearer, adaption_or_native),
        ("GET", "/native/v1/datasets", bearer, adaption_or_native),
        (
            "GET",
            f"/v4/training-datasets?account_id={account}",
            {"x-api-key": key["api_key"]},
            lambda b: "revoked" in b["detail"],
        ),
        (
            "POST",
            "/v1/datasets/revocation/list_datapoints",
            bearer,
            lambda b: set(b) == {"error"} and "revoked" in b["error"],
        ),
        (
            "GET",
            f"/client/v4/accounts/{account}/ai-gateway/gateways",
            bearer,
            lambda b: b["success"] is False and "revoked" in b["errors"][0]["message"],
        ),
    ]


def call(server: LiveServer, door: Door) -> httpx.Response:
    method, path, headers, _ = door
    body = {} if method == "POST" else None
    # a new connection each time, so the kernel may hand it to either process
    return httpx.request(method, server.base_url + path, headers=headers, json=body)


def answered_by(server: LiveServer, since: int, status: int) -> dict[str, set[int]]:
    """path -> pids of the processes that answered it with `status`, past log line `since`."""
    seen: dict[str, set[int]] = {}
    for line in server.log_text().splitlines()[since:]:
        if line.startswith('{"ts"'):
            entry = json.loads(line)
            if entry["status"] == status:
                seen.setdefault(entry["path"], set()).add(entry["pid"])
    return seen


def until_every_process_answered(
    server: LiveServer, key: dict[str, str], status: int, check: Callable[[Door], None]
) -> None:
    """Rounds of requests on every door until both processes answered each with `status`."""
    since = len(server.log_text().splitlines())
    paths = {door[1].split("?")[0] for door in doors(key)}
    # the kernel hands a new connection to whichever process accepts first, so one process
    # may take many rounds in a row before the other answers: up to 100 rounds
    for _ in range(100):
        for door in doors(key):
            check(door)
        time.sleep(0.1)  # each access log line is written after its reply
        seen = answered_by(server, since, status)
        if all(len(seen.get(p, ())) == 2 for p in paths):
            return
    pytest.fail(f"not every process answered every door: {answered_by(server, since, status)}")


@pytest.fixture(scope="module")
def two_processes(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp(f"revoke-{backend.name}")
    server = start_server(path, backend.env, args=("--processes", "2"))
    yield server
    server.stop()


def test_revoked_key_fails_on_the_next_request_everywhere(two_processes: LiveServer) -> None:
    server = two_processes
    key = server.new_key()

    def works(door: Door) -> None:
        r = call(server, door)
        assert r.status_code == 200, (door[1], r.text)

    # every process has now checked (and remembered) the key on every door
    until_every_process_answered(server, key, 200, works)
    server.cli("keys", "revoke", key["key_id"])

    def refused(door: Door) -> None:
        r = call(server, door)
        assert r.status_code == 401, (door[1], r.status_code, r.text)
        assert door[3](r.json()), (door[1], r.text)

    # no request after the revoke gets through, in either process, through any door
    until_every_process_answered(server, key, 401, refused)

    # a key that was not revoked still works
    other = server.new_key()
    for door in doors(other):
        assert call(server, door).status_code == 200
