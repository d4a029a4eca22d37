"""A dataset's versions through the native door and the CLI: listed newest first and paged,
read one by one, and cut on request when the live rows changed (a TensorZero edit); on both
backends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import adaption
import httpx
import pytest

from tests.support import Backend, LiveServer, native_client, start_server


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp(f"versions-{backend.name}"), backend.env)
    yield live
    live.stop()


def test_versions_list_get_and_snapshot(server: LiveServer, tmp_path: Path) -> None:
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    chats = [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} squared?"},
                {"role": "assistant", "content": f"{i * i}"},
            ]
        }
        for i in range(5)
    ]
    path = tmp_path / "squares.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in chats))
    dataset_id = client.datasets.upload_file(path, name="squares").dataset_id
    done = client.datasets.wait_for_completion(dataset_id, initial_interval=0.1, timeout=60)
    assert done.status == "succeeded"
    http = native_client(server, key)
    first = http.get(f"/datasets/{dataset_id}/versions").json()
    assert [(v["number"], v["reason"], v["row_count"], v["is_head"]) for v in first["data"]] == [
        (1, "ingest", 5, True)
    ]
    assert first["next_cursor"] is None
    v1 = first["data"][0]["id"]

    same = http.post(f"/datasets/{dataset_id}/versions")
    assert same.status_code == 200 and same.json()["id"] == v1  # nothing changed

    row = http.get(f"/datasets/{dataset_id}/rows").json()["data"][0]["id"]
    gone = httpx.request(
        "DELETE",
        f"{server.base_url}/v1/datasets/squares/datapoints",
        json={"ids": [row]},
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
    assert gone.status_code == 200, gone.text
    made = http.post(f"/datasets/{dataset_id}/versions")
    assert made.status_code == 201, made.text
    v2 = made.json()
    assert (v2["number"], v2["reason"], v2["row_count"], v2["is_head"]) == (2, "snapshot", 4, True)
    assert v2["evaluation"]["status"] in ("pending", "running", "succeeded")
    graded = client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=60)
    assert graded.status == "succeeded"

    page = http.get(f"/datasets/{dataset_id}/versions", params={"limit": 1}).json()
    assert [v["id"] for v in page["data"]] == [v2["id"]] and page["next_cursor"] == "2"
    rest = http.get(
        f"/datasets/{dataset_id}/versions", params={"limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [(v["id"], v["is_head"]) for v in rest["data"]] == [(v1, False)]
    assert rest["next_cursor"] is None
    one = http.get(f"/datasets/{dataset_id}/versions/{v1}").json()
    assert one["number"] == 1 and one["evaluation"]["grade"]

    listing = server.cli(
        "versions", dataset_id, "--url", server.base_url, "--api-key", key["api_key"]
    )
    lines = listing.stdout.splitlines()
    assert lines[1].startswith("*") and v2["id"] in lines[1] and v1 in lines[2], listing.stdout

    for bad, param in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "x"}, "cursor"),
    ):
        resp = http.get(f"/datasets/{dataset_id}/versions", params=bad)
        assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert http.get(f"/datasets/{dataset_id}/versions/ver_missing").status_code == 404
    stranger = native_client(server, server.new_key())
    assert stranger.get(f"/datasets/{dataset_id}/versions").status_code == 404
    assert stranger.get(f"/datasets/{dataset_id}/versions/{v1}").status_code == 404
    assert stranger.post(f"/datasets/{dataset_id}/versions").status_code == 404


def test_diff_between_versions(server: LiveServer, tmp_path: Path) -> None:
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    chats = [
        {
            "messages": [
                {"role": "user", "content": f"Name {i}?"},
                {"role": "assistant", "content": f"N{i}"},
            ]
        }
        for i in range(4)
    ]
    path = tmp_path / "names.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in chats))
    dataset_id = client.datasets.upload_file(path, name="names").dataset_id
    assert (
        client.datasets.wait_for_completion(dataset_id, initial_interval=0.1).status == "succeeded"
    )
    http = native_client(server, key)
    v1 = http.get(f"/datasets/{dataset_id}/versions").json()["data"][0]["id"]
    ids = [r["id"] for r in http.get(f"/datasets/{dataset_id}/rows").json()["data"]]
    tz = {"Authorization": f"Bearer {key['api_key']}"}
    renamed = httpx.patch(  # keeps the datapoint id: a change, not a removal
        f"{server.base_url}/v1/datasets/names/datapoints/metadata",
        json={"datapoints": [{"id": ids[0], "name": "first"}]},
        headers=tz,
    )
    assert renamed.status_code == 200, renamed.text
    deleted = httpx.request(
        "DELETE",
        f"{server.base_url}/v1/datasets/names/datapoints",
        json={"ids": [ids[1]]},
        headers=tz,
    )
    assert deleted.status_code == 200, deleted.text
    v2 = http.post(f"/datasets/{dataset_id}/versions").json()["id"]
    diff = http.get(f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}").json()
    assert (diff["added"], diff["removed"], diff["changed"]) == (0, 1, 1), diff
    by_id = {c["datapoint_id"]: c for c in diff["changes"]}
    assert by_id[ids[1]]["change"] == "removed"
    assert by_id[ids[0]]["fields"] == {"name": {"before": None, "after": "first"}}
    back = http.get(f"/datasets/{dataset_id}/versions/{v2}/diff/{v1}").json()
    assert (back["added"], back["removed"], back["changed"]) == (1, 0, 1)
    first = http.get(f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}", params={"limit": 1}).json()
    assert (
        len(first["changes"]) == 1 and first["next_cursor"] == first["changes"][0]["datapoint_id"]
    )
    rest = http.get(
        f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}",
        params={"limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert len(rest["changes"]) == 1 and rest["next_cursor"] is None
    assert {c["datapoint_id"] for c in first["changes"] + rest["changes"]} == {ids[0], ids[1]}
    # once v2 is evaluated its changes since v1 are kept: the same diff, read from them
    deadline = time.monotonic() + 60
    while not (http.get(f"/datasets/{dataset_id}/versions/{v2}").json()["stats"] or {}).get(
        "changes"
    ):
        assert time.monotonic() < deadline, "v2's evaluation kept no changes"
        time.sleep(0.1)
    stored = http.get(f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}").json()
    assert stored == diff
    pages = [
        http.get(
            f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}",
            params={"limit": 1, **({"cursor": cursor} if cursor else {})},
        ).json()
        for cursor in (None, first["next_cursor"])
    ]
    assert pages == [first, rest]
    shown = server.cli(
        "diff", dataset_id, v1, v2, "--url", server.base_url, "--api-key", key["api_key"]
    ).stdout.splitlines()
    assert shown[0] == f"0 added, 1 removed, 1 changed ({v1} -> {v2})"
    assert f"- {ids[1]}" in shown and f"~ {ids[0]}  name" in shown, shown
    assert http.get(f"/datasets/{dataset_id}/versions/{v1}/diff/ver_missing").status_code == 404
    stranger = native_client(server, server.new_key())
    assert stranger.get(f"/datasets/{dataset_id}/versions/{v1}/diff/{v2}").status_code == 404


def test_restore_and_tags(server: LiveServer, tmp_path: Path) -> None:
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    chats = [
        {
            "messages": [
                {"role": "user", "content": f"Spell {i}?"},
                {"role": "assistant", "content": f"number {i}"},
            ]
        }
        for i in range(3)
    ]
    path = tmp_path / "spell.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in chats))
    dataset_id = client.datasets.upload_file(path, name="spell").dataset_id
    assert (
        client.datasets.wait_for_completion(dataset_id, initial_interval=0.1).status == "succeeded"
    )
    http = native_client(server, key)
    v1 = http.get(f"/datasets/{dataset_id}/versions").json()["data"][0]["id"]
    tagged = http.post(f"/datasets/{dataset_id}/versions/{v1}/tags", json={"name": "v1.0"})
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["v1.0"], tagged.text
    again = http.post(f"/datasets/{dataset_id}/versions/v1.0/tags", json={"name": "v1.0"})
    assert again.status_code == 200  # the same version: nothing to do
    assert http.get(f"/datasets/{dataset_id}/versions/v1.0").json()["id"] == v1

    rows_before = http.get(f"/datasets/{dataset_id}/rows").json()["data"]
    gone = httpx.request(
        "DELETE",
        f"{server.base_url}/v1/datasets/spell/datapoints",
        json={"ids": [rows_before[0]["id"]]},
        headers={"Authorization": f"Bearer {key['api_key']}"},
    )
    assert gone.status_code == 200, gone.text
    v2 = http.post(f"/datasets/{dataset_id}/versions").json()
    assert v2["row_count"] == 2
    moved = http.post(f"/datasets/{dataset_id}/versions/main/tags", json={"name": "v1.0"})
    assert moved.status_code == 409 and moved.json()["error"]["param"] == "name"
    for bad in ("main", "ver_x", "-x", "a/b", ""):
        resp = http.post(f"/datasets/{dataset_id}/versions/{v1}/tags", json={"name": bad})
        assert resp.status_code == 400, (bad, resp.text)

    restored = server.cli(
        "restore",
        dataset_id,
        "v1.0",
        "--json",
        "--url",
        server.base_url,
        "--api-key",
        key["api_key"],
    )
    v3 = json.loads(restored.stdout)
    assert (v3["number"], v3["reason"], v3["row_count"], v3["is_head"]) == (3, "restore", 3, True)
    assert v3["stats"]["restored_from"] == v1
    rows_after = http.get(f"/datasets/{dataset_id}/rows").json()["data"]
    assert sorted(r["id"] for r in rows_after) == sorted(r["id"] for r in rows_before)
    diff = http.get(f"/datasets/{dataset_id}/versions/{v1}/diff/{v3['id']}").json()
    assert (diff["added"], diff["removed"], diff["changed"]) == (0, 0, 0), diff
    graded = client.datasets.wait_for_evaluation(dataset_id, initial_interval=0.2, timeout=60)
    assert graded.status == "succeeded"
    listing = server.cli(
        "versions", dataset_id, "--url", server.base_url, "--api-key", key["api_key"]
    ).stdout.splitlines()
    assert "v1.0" in listing[-1] and listing[1].startswith("*  3"), listing

    assert http.delete(f"/datasets/{dataset_id}/tags/v1.0").status_code == 200
    assert http.delete(f"/datasets/{dataset_id}/tags/v1.0").status_code == 404
    assert http.get(f"/datasets/{dataset_id}/versions/v1.0").status_code == 404
    stranger = native_client(server, server.new_key())
    assert stranger.post(f"/datasets/{dataset_id}/versions/{v1}/restore").status_code == 404
    tag = stranger.post(f"/datasets/{dataset_id}/versions/{v1}/tags", json={"name": "x"})
    assert tag.status_code == 404
    missing = http.post(f"/datasets/{dataset_id}/versions/ver_missing/restore")
    assert missing.status_code == 404
    failed = server.cli(
        "restore",
        dataset_id,
        "nope",
        "--url",
        server.base_url,
        "--api-key",
        key["api_key"],
        check=False,
    )
    assert failed.returncode != 0 and "404" in failed.stderr
