"""An API process killed mid-upload leaves no visible half dataset, and restarts cleanly."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import scale_gp
from adaption import Adaption

from tests.support import Backend, start_server, stored_blobs


def _rows(n: int = 4000) -> Iterator[bytes]:
    for i in range(n):
        yield (json.dumps({"prompt": f"Say {i}", "completion": str(i)}) + "\n").encode()


@pytest.mark.parametrize("door", ["scale_gp", "adaption_presigned_put"])
def test_server_killed_mid_upload(backend: Backend, tmp_path: Path, door: str) -> None:
    server = start_server(tmp_path / "data", backend.env)
    key = server.new_key()
    adaption = Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    killed = threading.Event()
    sent = {"bytes": 0}

    def body(prefix: bytes = b"", suffix: bytes = b"") -> Iterator[bytes]:
        yield prefix
        for chunk in _rows():
            sent["bytes"] += len(chunk)
            yield chunk
            if sent["bytes"] > 60_000 and not killed.is_set():
                server.proc.send_signal(signal.SIGKILL)  # mid-body, no chance to clean up
                server.proc.wait()
                killed.set()
        yield suffix

    if door == "scale_gp":
        boundary = "crashboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="account_id"\r\n\r\n'
            f"{key['account_id']}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="name"\r\n\r\nhalf\r\n--{boundary}\r\nContent-Disposition: form-data; '
            f'name="schema_type"\r\n\r\nGENERATION\r\n--{boundary}\r\nContent-Disposition: '
            f'form-data; name="file"; filename="half.jsonl"\r\n\r\n'
        ).encode()
        url = f"{server.base_url}/v4/training-datasets"
        headers = {
            "x-api-key": key["api_key"],
            "content-type": f"multipart/form-data; boundary={boundary}",
        }
        content = body(head, f"\r\n--{boundary}--\r\n".encode())
    else:
        created = adaption.datasets.create(source={"name": "half", "file_format": "jsonl"})
        assert created.upload_instructions is not None
        url = created.upload_instructions.url
        headers = {}
        content = body()
    method = "POST" if door == "scale_gp" else "PUT"
    through_gristmill = url.startswith(server.base_url)
    try:
        httpx.request(method, url, content=content, headers=headers, timeout=30)
    except httpx.TransportError:
        assert through_gristmill
    else:  # an S3 presigned PUT goes to the object store, which outlives the API process
        assert not through_gristmill
    assert killed.is_set()

    restarted = start_server(tmp_path / "data", backend.env)
    try:
        sgp = scale_gp.SGPClient(
            api_key=key["api_key"],
            base_url=restarted.base_url,
            account_id=key["account_id"],
            max_retries=0,
        )
        listed = list(sgp.training_datasets.list(account_id=key["account_id"]))
        assert listed == []
        again = Adaption(api_key=key["api_key"], base_url=restarted.base_url, max_retries=0)
        visible = [d for d in again.datasets.list().datasets if d.row_count]
        assert visible == []
        assert not [b for b in stored_blobs(restarted) if "/versions/" in b]
        assert httpx.get(f"{restarted.base_url}/readyz").json()["ready"] is True
    finally:
        restarted.stop()
