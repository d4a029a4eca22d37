"""The Hugging Face Hub door through the real `huggingface_hub` and `datasets` clients, run in
subprocesses (both read `HF_ENDPOINT` at import): reads of a Gristmill dataset as a Hub repo,
versions as revisions, writes that create and update datasets, and the Hub's error codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pytest

from tests.support import Backend, LiveServer, native_client, start_server

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Translate {i} into French."},
            {"role": "assistant", "content": f"C'est le nombre {i}."},
        ]
    }
    for i in range(12)
]


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp(f"hub-{backend.name}"), backend.env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def account(server: LiveServer) -> dict[str, str]:
    name = f"team-{server.base_url.rsplit(':', 1)[1]}"
    return {**server.new_key(name), "name": name}


def hf(server: LiveServer, key: dict[str, str], home: Path, code: str) -> Any:
    """Run client code with the Hub pointed at Gristmill; its last line prints JSON."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "HF_HOME": str(home / "hf"),
        "HF_ENDPOINT": f"{server.base_url}/hf",
        "HF_TOKEN": key["api_key"],
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _upload(server: LiveServer, key: dict[str, str], path: Path, rows: list[Any]) -> str:
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset_id = client.datasets.upload_file(path, name=path.stem).dataset_id
    assert (
        client.datasets.wait_for_completion(dataset_id, initial_interval=0.1).status == "succeeded"
    )
    client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=60)
    return dataset_id


def test_load_dataset_and_hub_reads(
    server: LiveServer, account: dict[str, str], tmp_path: Path
) -> None:
    dataset_id = _upload(server, account, tmp_path / "french.jsonl", ROWS)
    repo = f"{account['name']}/french"
    http = native_client(server, account)
    v1 = http.get(f"/datasets/{dataset_id}/versions").json()["data"][0]["id"]
    tagged = http.post(f"/datasets/{dataset_id}/versions/{v1}/tags", json={"name": "v1.0"})
    assert tagged.status_code == 200
    first = http.get(f"/datasets/{dataset_id}/rows").json()["data"][0]["id"]
    gone = httpx.request(
        "DELETE",
        f"{server.base_url}/v1/datasets/french/datapoints",
        json={"ids": [first]},
        headers={"Authorization": f"Bearer {account['api_key']}"},
    )
    assert gone.status_code == 200
    v2 = http.post(f"/datasets/{dataset_id}/versions").json()["id"]

    got = hf(
        server,
        account,
        tmp_path,
        f"""
        import json
        from huggingface_hub import HfApi, snapshot_download
        import datasets
        api = HfApi()
        info = api.dataset_info("{repo}")
        files = api.list_repo_files("{repo}", repo_type="dataset")
        folder = snapshot_download("{repo}", repo_type="dataset")
        card = open(folder + "/README.md").read()
        head = datasets.load_dataset("{repo}")
        old = datasets.load_dataset("{repo}", revision="{v1}", split="train")
        tag = datasets.load_dataset("{repo}", revision="v1.0", split="train")
        streamed = list(datasets.load_dataset("{repo}", split="train", streaming=True))
        print(json.dumps({{
            "id": info.id, "sha": info.sha, "files": sorted(files), "card": card,
            "splits": sorted(head), "rows": head["train"].to_list(), "old": len(old),
            "tag": len(tag), "streamed": streamed,
        }}))
        """,
    )
    assert got["id"] == repo and len(got["sha"]) == 40
    assert got["files"] == ["README.md", "data/train-00000-of-00001.parquet"]
    assert "configs:" in got["card"] and "Grade **" in got["card"], got["card"]
    assert "| `messages` | `list<" in got["card"]  # the features, typed
    assert got["splits"] == ["train"]
    assert sorted(json.dumps(r) for r in got["rows"]) == sorted(json.dumps(r) for r in ROWS[1:])
    assert got["rows"][0]["messages"][0]["role"] == "user"  # a list of dicts, not JSON text
    assert (got["old"], got["tag"]) == (12, 12)
    assert got["streamed"] == got["rows"]
    assert got["sha"] == hashlib.sha1(v2.encode()).hexdigest()  # main is the head version

    errors = hf(
        server,
        account,
        tmp_path,
        f"""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import (
            EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
        )
        api = HfApi()
        seen = {{}}
        for name, call in (
            ("repo", lambda: api.dataset_info("{account["name"]}/nothing-here")),
            ("namespace", lambda: api.dataset_info("someone-else/french")),
            ("revision", lambda: api.dataset_info("{repo}", revision="ver_nope")),
            ("entry", lambda: hf_hub_download("{repo}", "missing.txt", repo_type="dataset")),
        ):
            try:
                call()
                seen[name] = "no error"
            except RevisionNotFoundError:
                seen[name] = "RevisionNotFound"
            except EntryNotFoundError:
                seen[name] = "EntryNotFound"
            except RepositoryNotFoundError:
                seen[name] = "RepoNotFound"
        print(json.dumps(seen))
        """,
    )
    assert errors == {
        "repo": "RepoNotFound",
        "namespace": "RepoNotFound",
        "revision": "RevisionNotFound",
        "entry": "EntryNotFound",
    }
    stranger = {**server.new_key(), "name": "other"}
    hidden = hf(
        server,
        stranger,
        tmp_path,
        f"""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError
        try:
            HfApi().dataset_info("{repo}")
            print(json.dumps("visible"))
        except RepositoryNotFoundError:
            print(json.dumps("RepoNotFound"))
        """,
    )
    assert hidden == "RepoNotFound"
    ranged = httpx.get(
        f"{server.base_url}/hf/datasets/{repo}/resolve/main/data/train-00000-of-00001.parquet",
        headers={"Authorization": f"Bearer {account['api_key']}", "Range": "bytes=0-3"},
    )
    assert ranged.status_code == 206 and ranged.content == b"PAR1"
    assert ranged.headers["content-range"].startswith("bytes 0-3/")
    bad = httpx.get(
        f"{server.base_url}/hf/api/datasets/{repo}", headers={"Authorization": "Bearer x"}
    )
    assert bad.status_code == 401 and bad.headers["x-error-message"].startswith(
        "Invalid credentials"
    )


def test_create_repo_and_upload(
    server: LiveServer, account: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "upload"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# Pairs\n\nHand-written pairs.\n")
    (folder / "data" / "a.jsonl").write_text(
        "".join(json.dumps({"prompt": f"Q{i}?", "completion": f"A{i}."}) + "\n" for i in range(5))
    )
    (folder / "data" / "b.jsonl").write_text(
        "".join(json.dumps({"prompt": f"R{i}?", "completion": f"B{i}."}) + "\n" for i in range(3))
    )
    repo = f"{account['name']}/pairs"
    got = hf(
        server,
        account,
        tmp_path,
        f"""
        import json, io
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        import datasets, pyarrow as pa, pyarrow.parquet as pq
        api = HfApi()
        url = api.create_repo("{repo}", repo_type="dataset")
        again = api.create_repo("{repo}", repo_type="dataset", exist_ok=True)
        try:
            api.create_repo("{repo}", repo_type="dataset")
            twice = "no error"
        except HfHubHTTPError as exc:
            twice = exc.response.status_code
        commit = api.upload_folder(folder_path="{folder}", repo_id="{repo}", repo_type="dataset")
        first = datasets.load_dataset("{repo}", split="train").to_list()
        buf = io.BytesIO()
        pq.write_table(pa.table({{"prompt": ["Z?"], "completion": ["Zed."]}}), buf)
        api.upload_file(path_or_fileobj=buf.getvalue(), path_in_repo="data/z.parquet",
                        repo_id="{repo}", repo_type="dataset")
        second = datasets.load_dataset("{repo}", split="train").to_list()
        try:
            api.upload_file(path_or_fileobj=b"\\x89PNG", path_in_repo="logo.png",
                            repo_id="{repo}", repo_type="dataset")
            png = "no error"
        except HfHubHTTPError as exc:
            png = exc.response.status_code
        print(json.dumps({{"url": str(url), "again": str(again), "twice": twice,
                           "commit": commit.oid, "first": first, "second": second, "png": png}}))
        """,
    )
    assert got["url"].endswith(f"/hf/datasets/{repo}") and got["again"] == got["url"]
    assert got["twice"] == 409 and got["png"] == 400
    assert len(got["commit"]) == 40
    assert sorted(r["prompt"] for r in got["first"]) == sorted(
        [f"Q{i}?" for i in range(5)] + [f"R{i}?" for i in range(3)]
    )
    assert got["second"] == [{"prompt": "Z?", "completion": "Zed."}]
    client = adaption.Adaption(api_key=account["api_key"], base_url=server.base_url, max_retries=0)
    listed = [d for d in client.datasets.list().datasets if d.name == "pairs"]
    assert len(listed) == 1
    http = native_client(server, account)
    versions = http.get(f"/datasets/{listed[0].dataset_id}/versions").json()["data"]
    assert [(v["number"], v["row_count"]) for v in versions] == [(2, 1), (1, 8)]
    report = http.get(f"/datasets/{listed[0].dataset_id}/evaluation").json()
    assert report["status"] in ("pending", "running", "succeeded")
