"""Publishing through the Adaption SDK and the native door, to real peers: a second Gristmill
acting as the Hugging Face Hub (its Hub door, then `datasets.load_dataset` from it), a second
Gristmill's OpenAI Files door, and the real SeaweedFS S3."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import httpx
import pyarrow.parquet as pq
import pytest

from tests.support import (
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    Backend,
    LiveServer,
    SeaweedS3,
    native_client,
    start_server,
)
from tests.test_hub_door import hf

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Name a prime larger than {i * 10}."},
            {"role": "assistant", "content": f"One of them is {[11, 23, 31, 41, 53, 61][i]}."},
        ]
    }
    for i in range(6)
]


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp(f"publisher-{backend.name}"), backend.env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def peer(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Another Gristmill: the Hub and the OpenAI Files API that datasets are published to."""
    live = start_server(tmp_path_factory.mktemp(f"peer-{backend.name}"), {})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def dataset(
    server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], str]:
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    path = tmp_path_factory.mktemp("rows") / "primes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    dataset_id = client.datasets.upload_file(path, name="primes").dataset_id
    assert (
        client.datasets.wait_for_completion(dataset_id, initial_interval=0.1).status == "succeeded"
    )
    client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=60)
    return key, dataset_id


def _published(server: LiveServer, key: dict[str, str], dataset_id: str, publish_id: str) -> Any:
    http = native_client(server, key)
    deadline = time.monotonic() + 120
    while True:
        pub = http.get(f"/datasets/{dataset_id}/publications/{publish_id}").json()
        if pub["status"] in ("succeeded", "failed"):
            return pub
        assert time.monotonic() < deadline, pub
        time.sleep(0.2)


def _sorted(rows: list[Any]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def test_publish_to_a_second_gristmill_as_the_hub(
    server: LiveServer, peer: LiveServer, dataset: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    key, dataset_id = dataset
    owner = {**peer.new_key("hubteam"), "name": "hubteam"}
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    spec = {
        "repo_id": "hubteam/primes",
        "endpoint": f"{peer.base_url}/hf",
        "token": owner["api_key"],
        "split": {"validation": 2, "seed": 3},
    }
    started = client.datasets.publish(dataset_id, target="huggingface", target_spec=spec)
    assert started.status == "pending" and started.publish_id.startswith("pub_")
    pub = _published(server, key, dataset_id, started.publish_id)
    assert pub["status"] == "succeeded", pub
    assert pub["result_url"] == f"{peer.base_url}/hf/datasets/hubteam/primes"
    assert owner["api_key"] not in json.dumps(pub)  # the token is never shown
    assert client.datasets.get_export_links(dataset_id).huggingface == pub["result_url"]

    loaded = hf(
        peer,
        owner,
        tmp_path,
        """
        import json, datasets
        from huggingface_hub import HfApi
        rows = datasets.load_dataset("hubteam/primes", split="train").to_list()
        titles = [c.title for c in HfApi().list_repo_commits("hubteam/primes", repo_type="dataset")]
        print(json.dumps({"rows": rows, "titles": titles}))
        """,
    )
    assert _sorted(loaded["rows"]) == _sorted(ROWS)  # train + validation, as published
    assert loaded["titles"][0].startswith(f"Gristmill {started.publish_id}")

    again = client.datasets.publish(dataset_id, target="huggingface", target_spec=spec)
    refused = _published(server, key, dataset_id, again.publish_id)
    assert refused["status"] == "failed" and "exists already" in refused["error"], refused
    more = client.datasets.publish(
        dataset_id, target="huggingface", target_spec={**spec, "exist_ok": True}
    )
    assert _published(server, key, dataset_id, more.publish_id)["status"] == "succeeded"
    bad = client.datasets.publish(
        dataset_id,
        target="huggingface",
        target_spec={**spec, "repo_id": "hubteam/other", "token": "gm-not-a-key"},
    )
    failed = _published(server, key, dataset_id, bad.publish_id)
    assert failed["status"] == "failed" and "refused" in failed["error"], failed


def test_publish_to_an_openai_files_api(
    server: LiveServer, peer: LiveServer, dataset: tuple[dict[str, str], str]
) -> None:
    key, dataset_id = dataset
    theirs = peer.new_key()
    http = native_client(server, key)
    resp = http.post(
        f"/datasets/{dataset_id}/publications",
        json={
            "target": "openai",
            "target_spec": {"base_url": f"{peer.base_url}/v1", "api_key": theirs["api_key"]},
        },
    )
    assert resp.status_code == 202, resp.text
    pub = _published(server, key, dataset_id, resp.json()["id"])
    assert pub["status"] == "succeeded", pub
    file_id = pub["result_url"].rsplit("/", 1)[1]
    auth = {"Authorization": f"Bearer {theirs['api_key']}"}
    meta = httpx.get(f"{peer.base_url}/v1/files/{file_id}", headers=auth).json()
    assert meta["purpose"] == "fine-tune" and pub["id"] in meta["filename"]
    content = httpx.get(f"{peer.base_url}/v1/files/{file_id}/content", headers=auth).text
    assert _sorted([json.loads(line) for line in content.splitlines()]) == _sorted(ROWS)

    wrong = http.post(
        f"/datasets/{dataset_id}/publications",
        json={
            "target": "openai",
            "target_spec": {"base_url": f"{peer.base_url}/v1", "api_key": "x"},
        },
    )
    failed = _published(server, key, dataset_id, wrong.json()["id"])
    assert failed["status"] == "failed" and "refused the key" in failed["error"]
    missing = http.post(f"/datasets/{dataset_id}/publications", json={"target": "openai"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "target_spec.api_key"


def test_publish_to_s3(
    server: LiveServer, seaweed: SeaweedS3, dataset: tuple[dict[str, str], str]
) -> None:
    key, dataset_id = dataset
    bucket = seaweed.new_bucket()
    http = native_client(server, key)
    spec = {
        "bucket": bucket,
        "prefix": "releases/primes",
        "endpoint_url": seaweed.endpoint,
        "access_key_id": S3_ACCESS_KEY,
        "secret_access_key": S3_SECRET_KEY,
    }
    resp = http.post(
        f"/datasets/{dataset_id}/publications", json={"target": "s3", "target_spec": spec}
    )
    assert resp.status_code == 202, resp.text
    assert S3_SECRET_KEY not in resp.text
    pub = _published(server, key, dataset_id, resp.json()["id"])
    assert pub["status"] == "succeeded", pub
    assert pub["result_url"] == f"s3://{bucket}/releases/primes/"
    s3 = seaweed.client()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="releases/primes/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "releases/primes/README.md",
        "releases/primes/data/train-00000-of-00001.parquet",
    ]
    body = s3.get_object(Bucket=bucket, Key="releases/primes/data/train-00000-of-00001.parquet")
    table = pq.read_table(io.BytesIO(body["Body"].read()))
    assert _sorted(table.to_pylist()) == _sorted(ROWS)
    card = s3.get_object(Bucket=bucket, Key="releases/primes/README.md")["Body"].read().decode()
    assert "configs:" in card and "Grade **" in card

    wrong = http.post(
        f"/datasets/{dataset_id}/publications",
        json={"target": "s3", "target_spec": {**spec, "secret_access_key": "not-the-secret"}},
    )
    failed = _published(server, key, dataset_id, wrong.json()["id"])
    assert failed["status"] == "failed" and "S3 refused" in failed["error"], failed
    stranger = native_client(server, server.new_key())
    assert stranger.get(f"/datasets/{dataset_id}/publications/{pub['id']}").status_code == 404

    flags = ("--url", server.base_url, "--api-key", key["api_key"])
    done = server.cli(
        "publish",
        dataset_id,
        "--to",
        "s3",
        *[f"--spec={k}={v}" for k, v in spec.items()],
        "--spec",
        "prefix=cli",
        "--spec",
        "format=jsonl",
        *flags,
    )
    assert done.stdout.strip() == f"Published 6 rows to s3://{bucket}/cli/."
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="cli/")["Contents"])
    assert keys == ["cli/README.md", "cli/data/train-00000-of-00001.jsonl"]
    refused = server.cli("publish", dataset_id, "--to", "s3", *flags, check=False)
    assert refused.returncode == 1 and "target_spec.bucket" in refused.stderr
