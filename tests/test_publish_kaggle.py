"""Publishing to Kaggle through the Adaption SDK and the native door. The real `kaggle`
package runs inside a live server and talks to a local fake that speaks kagglesdk's wire
protocol (`tests/fake_kaggle.py`). The server finds the fake through `GRISTMILL_KAGGLE_API_URL`.

The server process is also given kaggle's own ways of finding credentials, all wrong: a stray
access token in its HOME, `KAGGLE_USERNAME`/`KAGGLE_KEY`, and `KAGGLE_API_ENVIRONMENT=LOCALHOST`
(which would send requests to localhost:80). The publications must use only the key each one
was given, at the URL Gristmill was told."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adaption
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gristmill.services.publishing.base import Attempt, Bundle
from gristmill.services.publishing.kaggle import Kaggle, default_title
from gristmill.settings import Settings
from tests.fake_kaggle import FakeKaggle
from tests.support import Backend, LiveServer, native_client, start_server
from tests.test_publishing import _published, _sorted

USER, KEY = "gristmill-bot", "kaggle-key-0123456789"
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
def fake() -> Iterator[FakeKaggle]:
    server = FakeKaggle({USER: KEY}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sandbox(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's HOME and TMPDIR, with the things kaggle would otherwise pick up."""
    root = tmp_path_factory.mktemp(f"kaggle-home-{backend.name}")
    (root / "home" / ".kaggle").mkdir(parents=True)
    (root / "home" / ".kaggle" / "access_token").write_text("KGAT_stray_operator_token\n")
    (root / "tmp").mkdir()
    return root


@pytest.fixture(scope="module")
def server(
    backend: Backend, fake: FakeKaggle, sandbox: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {
        "GRISTMILL_KAGGLE_API_URL": fake.base_url,
        "GRISTMILL_KAGGLE_USERNAME": "",  # no server-wide key: target_spec carries it
        "GRISTMILL_KAGGLE_KEY": "",
        "HOME": str(sandbox / "home"),
        "KAGGLE_CONFIG_DIR": str(sandbox / "home" / ".kaggle"),
        "TMPDIR": str(sandbox / "tmp"),  # kaggle's upload state: tempfile.gettempdir()
        "KAGGLE_USERNAME": "operator",
        "KAGGLE_KEY": "not-this-key",
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    live = start_server(tmp_path_factory.mktemp(f"kaggle-{backend.name}"), backend.env, env)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def dataset(
    server: LiveServer, backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], str, str]:
    """(key, dataset id, its name). Kaggle titles are unique per owner, so one per backend."""
    key = server.new_key()
    client = adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)
    path = tmp_path_factory.mktemp("rows") / "primes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    name = f"primes-{backend.name}"
    dataset_id = client.datasets.upload_file(path, name=name).dataset_id
    assert (
        client.datasets.wait_for_completion(dataset_id, initial_interval=0.1).status == "succeeded"
    )
    return key, dataset_id, name


def _sdk(server: LiveServer, key: dict[str, str]) -> adaption.Adaption:
    return adaption.Adaption(api_key=key["api_key"], base_url=server.base_url, max_retries=0)


def test_publish_creates_the_dataset_then_a_version(
    server: LiveServer,
    fake: FakeKaggle,
    sandbox: Path,
    dataset: tuple[dict[str, str], str, str],
) -> None:
    key, dataset_id, name = dataset
    client = _sdk(server, key)
    ref = f"{USER}/{name}"
    spec: dict[str, object] = {"dataset": ref, "username": USER, "key": KEY}
    assert client.datasets.get_export_links(dataset_id).kaggle is None
    started = client.datasets.publish(dataset_id, target="kaggle", target_spec=spec)
    assert started.status == "pending" and started.publish_id.startswith("pub_")
    pub = _published(server, key, dataset_id, started.publish_id)
    assert pub["status"] == "succeeded", (pub, server.log_text()[-3000:])
    assert pub["result_url"] == f"{fake.base_url}/datasets/{ref}"
    assert KEY not in json.dumps(pub)  # the key is never shown
    assert pub["target_spec"]["username"] == USER and "key" not in pub["target_spec"]
    assert client.datasets.get_export_links(dataset_id).kaggle == pub["result_url"]

    made = fake.datasets[ref]
    assert (made.title, made.license_name, made.is_private) == (name, "CC0-1.0", True)
    assert made.description is not None and made.description.startswith(f"# {name}")
    assert [list(v.files) for v in made.versions] == [[f"{name}-train.parquet"]]
    table = pq.read_table(io.BytesIO(made.versions[0].files[f"{name}-train.parquet"]))
    assert _sorted(table.to_pylist()) == _sorted(ROWS)

    # the same slug again: a new version of that dataset (notes: the publication), with a
    # split and another format
    again = client.datasets.publish(
        dataset_id,
        target="kaggle",
        target_spec={**spec, "format": "jsonl", "split": {"validation": 2, "seed": 3}},
    )
    second = _published(server, key, dataset_id, again.publish_id)
    assert second["status"] == "succeeded", second
    assert second["result_url"] == pub["result_url"]
    assert [d for d in fake.datasets if d == ref] == [ref]  # not a second dataset
    assert [v.number for v in made.versions] == [1, 2]
    latest = made.versions[1]
    assert latest.notes is not None and latest.notes.startswith(f"Gristmill {again.publish_id}:")
    assert sorted(latest.files) == [f"{name}-train.jsonl", f"{name}-validation.jsonl"]
    lines = [
        json.loads(line) for data in latest.files.values() for line in data.decode().splitlines()
    ]
    assert _sorted(lines) == _sorted(ROWS)
    assert len(latest.files[f"{name}-validation.jsonl"].decode().splitlines()) == 2
    assert client.datasets.get_export_links(dataset_id).kaggle == second["result_url"]

    # only the given key, at the given URL: no token lookup, no operator key
    posts = [c for c in fake.calls if c.method == "POST"]
    assert {c.scheme for c in posts} == {"Basic"} and "IntrospectToken" not in fake.rpcs()
    mine = [c for c in posts if name in (c.body.get("datasetSlug"), c.body.get("slug"))]
    assert len(mine) >= 4 and all(c.user == USER for c in mine)
    # kaggle's resumable-upload state is not left behind
    uploads = sandbox / "tmp" / f".kaggle-uploads-{os.geteuid()}"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_refused_key_fails_the_publication_and_creates_nothing(
    server: LiveServer, fake: FakeKaggle, dataset: tuple[dict[str, str], str, str]
) -> None:
    key, dataset_id, name = dataset
    ref = f"{USER}/{name}-refused"
    started = _sdk(server, key).datasets.publish(
        dataset_id,
        target="kaggle",
        target_spec={"dataset": ref, "username": USER, "key": "not-the-key"},
    )
    pub = _published(server, key, dataset_id, started.publish_id)
    assert pub["status"] == "failed", pub
    assert "Kaggle key was refused" in pub["error"] and "target_spec.key" in pub["error"], pub
    assert "not-the-key" not in json.dumps(pub)
    assert ref not in fake.datasets
    # the refused key was found out by the existence check, before any upload
    refused = {c.rpc for c in fake.calls if c.scheme == "Basic" and c.user is None}
    assert refused == {"datasets.DatasetApiService/GetDatasetStatus"}


def test_refusals_after_the_upload_fail_the_publication(
    server: LiveServer,
    fake: FakeKaggle,
    sandbox: Path,
    dataset: tuple[dict[str, str], str, str],
) -> None:
    """Kaggle refuses at the end, once the files are up: as an HTTP error (403: a namespace
    the key may not write), or as 200 with `status: Error` (a title in use)."""
    key, dataset_id, name = dataset
    client = _sdk(server, key)
    theirs = f"someone-else/{name}"
    started = client.datasets.publish(
        dataset_id,
        target="kaggle",
        target_spec={"dataset": theirs, "username": USER, "key": KEY},
    )
    pub = _published(server, key, dataset_id, started.publish_id)
    assert pub["status"] == "failed" and f"may not publish to {theirs}" in pub["error"], pub
    assert theirs not in fake.datasets
    # kaggle keeps its upload state (a signed upload URL) after an error; Gristmill doesn't
    uploads = sandbox / "tmp" / f".kaggle-uploads-{os.geteuid()}"
    assert list(uploads.iterdir()) == []

    title = f"{name} by title"
    first, ref = f"{USER}/{name}-titled", f"{USER}/{name}-same-title"
    for slug, outcome in ((first, "succeeded"), (ref, "failed")):
        started = client.datasets.publish(
            dataset_id,
            target="kaggle",
            target_spec={"dataset": slug, "username": USER, "key": KEY, "title": title},
        )
        pub = _published(server, key, dataset_id, started.publish_id)
        assert pub["status"] == outcome, pub
    assert f'Kaggle refused {ref}: The requested title "{title}" is already in use' in pub["error"]
    assert fake.datasets[first].title == title and ref not in fake.datasets


def test_the_target_spec_is_checked_before_queueing(
    server: LiveServer, dataset: tuple[dict[str, str], str, str]
) -> None:
    key, dataset_id, name = dataset
    client = _sdk(server, key)
    good = {"dataset": f"{USER}/{name}", "username": USER, "key": KEY}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"username": USER, "key": KEY}, "target_spec.dataset", "non-empty string"),
        ({**good, "dataset": "no-owner-here"}, "target_spec.dataset", "owner/slug"),
        ({**good, "dataset": f"{USER}/short"}, "target_spec.dataset", "between 6 and 50"),
        ({**good, "key": None}, "target_spec.key", "GRISTMILL_KAGGLE_KEY"),
        ({**good, "username": None}, "target_spec.username", "GRISTMILL_KAGGLE_USERNAME"),
        ({**good, "title": "tiny"}, "target_spec.title", "between 6 and 50"),
        ({**good, "format": "xlsx"}, "target_spec.format", "parquet, csv, jsonl"),
        ({**good, "public": "yes"}, "target_spec.public", "true or false"),
    ]
    for spec, param, needle in cases:
        with pytest.raises(adaption.BadRequestError) as err:
            client.datasets.publish(dataset_id, target="kaggle", target_spec=spec)
        body = err.value.response.json()["error"]
        assert body["param"] == param and needle in body["message"], (spec, body)
    http = native_client(server, key)
    listed = http.post(
        f"/datasets/{dataset_id}/publications", json={"target": "kaggle", "target_spec": {}}
    )
    assert listed.status_code == 400 and listed.json()["error"]["param"] == "target_spec.dataset"


def test_the_default_title_fits_kaggles_rule() -> None:
    assert default_title("primes") == "primes"
    assert default_title("qa") == "qa dataset"
    assert default_title("  ") == "Gristmill dataset"
    long = default_title("a very long name " * 10)
    assert len(long) <= 50 and long == long.strip() and long.startswith("a very long name")
    assert default_title("two\n  lines") == "two lines"


IMPORT_PROBE = """
import json, sys
import kagglesdk.kaggle_env as env
for e in env.KaggleEnv:  # whatever the import would call, the fake would see
    env._env_to_endpoint[e] = sys.argv[1]
from gristmill.services.publishing.kaggle import _import_kaggle_api
pinned = _import_kaggle_api()
import kaggle
print(json.dumps({"version": kaggle.__version__, "authenticated": kaggle.api._authenticated,
                  "subclass": issubclass(pinned, type(kaggle.api))}))
"""


def test_kaggle_is_imported_without_its_import_time_login(fake: FakeKaggle, tmp_path: Path) -> None:
    """`import kaggle` runs `authenticate()`: a token found in the environment is sent to
    Kaggle, and without credentials it prints help and exits. Gristmill's import does none
    of that (in a fresh process, so the import really happens)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "GRISTMILL_"))}
    env |= {
        "HOME": str(tmp_path),
        "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"),
        "KAGGLE_API_TOKEN": "KGAT_import_probe",
    }
    before = len(fake.calls)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, fake.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "version": "2.2.5",
        "authenticated": False,
        "subclass": True,
    }
    assert "Authentication required" not in done.stdout + done.stderr
    assert fake.calls[before:] == []  # no IntrospectToken, nothing


def _attempt(
    fake: FakeKaggle, data: Path, publication_id: str, slug: str, state: dict[str, Any]
) -> Attempt:
    bundle = Bundle(
        dataset_name="resumed",
        stem="resumed",
        version_id="ver_1",
        version_number=1,
        rows=3,
        rows_skipped=0,
        card=b"---\nlicense: cc0-1.0\n---\n# resumed\n",
        files={"train": data},
    )
    return Attempt(
        publication_id=publication_id,
        spec={"dataset": f"{USER}/{slug}", "username": USER, "key": KEY, "title": slug},
        settings=Settings(kaggle_api_url=fake.base_url),
        bundle=bundle,
        state=state,
        save_state=lambda _state: None,
    )


def test_a_retried_attempt_resumes_without_publishing_twice(
    fake: FakeKaggle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`state` as an attempt that stopped part way left it: the retry finishes the work once."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # kaggle's upload state
    data = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"n": [1, 2, 3]}), data)
    target, slug = Kaggle(), "resumed-dataset"
    ds = f"{USER}/{slug}"

    def run(publication_id: str, state: dict[str, Any]) -> tuple[str, list[str]]:
        before = len(fake.rpcs())
        url, _message = target.publish(_attempt(fake, data, publication_id, slug, state))
        return url, fake.rpcs()[before:]

    # the create was sent, then the worker died: none landed, so it is sent again
    state: dict[str, Any] = {"creating": True}
    url, rpcs = run("pub_a", state)
    assert rpcs[-1] == "CreateDataset" and state["published"] and state["url"] == url
    assert url == f"{fake.base_url}/datasets/{ds}"
    # it landed, but the attempt died before it said so: the dataset is this publication's
    assert run("pub_a", {"creating": True}) == (url, ["GetDatasetStatus", "GetDataset"])
    # finished already: nothing is asked of Kaggle
    assert run("pub_a", {"creating": True, "published": True, "url": url}) == (url, [])
    assert len(fake.datasets[ds].versions) == 1

    # a version was sent and landed, then the worker died: not made again
    state = {}
    assert run("pub_b", state)[1][-1] == "CreateDatasetVersion" and state["versioning"]
    assert run("pub_b", {"versioning": True}) == (url, ["GetDatasetStatus", "GetDataset"])
    # a version was started but never landed: it is made, once
    assert run("pub_c", {"versioning": True})[1][-1] == "CreateDatasetVersion"
    notes = [v.notes for v in fake.datasets[ds].versions]
    assert notes == ["Initial release", _title("pub_b"), _title("pub_c")]
    assert list(tmp_path.glob(".kaggle-uploads-*/*")) == []


def _title(publication_id: str) -> str:
    return f"Gristmill {publication_id}: version 1"
