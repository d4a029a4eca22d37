"""The Cloudflare AI Gateway door through the `cloudflare` SDK: gateways, datasets and the
datasets' rows, which are the gateway's logs that match their filters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cloudflare import AuthenticationError, BadRequestError, Cloudflare, ConflictError
from cloudflare import NotFoundError as CFNotFound

from tests.stub_openai_upstream import StubServer
from tests.support import Backend, LiveServer, gateway_server
from tests.test_gateway import Caller, _ask, _entry


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


@pytest.fixture(scope="module")
def live(
    backend: Backend, stub: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from gateway_server("cf", backend, stub, tmp_path_factory)


GATEWAY_SETTINGS: dict[str, Any] = dict(
    cache_invalidate_on_update=False,
    cache_ttl=None,
    collect_logs=True,
    rate_limiting_interval=None,
    rate_limiting_limit=None,
)


def _gateway(c: Caller, name: str | None = None) -> str:
    name = name or c.gateway
    c.cf.ai_gateway.create(account_id=c.account, id=name, **GATEWAY_SETTINGS)
    return name


def _ingest(c: Caller, entries: list[dict[str, Any]]) -> list[str]:
    made = c.native("POST", "/logs", json={"logs": entries})
    assert made.status_code == 201, made.text
    ids: list[str] = made.json()["ids"]
    return ids


def _synced(c: Caller, dataset_id: str) -> dict[str, Any]:
    """The dataset through the Adaption door, once the job that fills it after a create or an
    update has succeeded (its progress counts the matching logs)."""
    deadline = time.monotonic() + 60
    while True:
        got = httpx.get(
            f"{c.base}/api/v1/datasets/{dataset_id}",
            headers={"authorization": f"Bearer {c.key}"},
            timeout=30,
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        if body["status"] == "succeeded":
            return body
        assert body["status"] in ("pending", "running"), body
        assert time.monotonic() < deadline, f"the dataset is still {body['status']}"
        time.sleep(0.05)


def _rows(c: Caller, dataset_id: str) -> dict[str, Any]:
    """source log id -> row, through the native door, once the dataset is synced."""
    _synced(c, dataset_id)
    got = c.native("GET", f"/datasets/{dataset_id}/rows", params={"limit": 1000})
    assert got.status_code == 200, got.text
    return {r["source_inference_id"]: r for r in got.json()["data"]}


def test_gateways(live: LiveServer) -> None:
    c = Caller(live)
    made = c.cf.ai_gateway.create(
        account_id=c.account, id="gw-one", **{**GATEWAY_SETTINGS, "cache_ttl": 60}
    )
    assert made.id == "gw-one" and made.cache_ttl == 60 and made.collect_logs
    with pytest.raises(ConflictError):
        c.cf.ai_gateway.create(account_id=c.account, id="gw-one", **GATEWAY_SETTINGS)
    with pytest.raises(BadRequestError, match="Invalid gateway id"):
        c.cf.ai_gateway.create(account_id=c.account, id="Bad Id", **GATEWAY_SETTINGS)
    _gateway(c, "gw-two")
    assert [g.id for g in c.cf.ai_gateway.list(account_id=c.account, per_page=1)] == [
        "gw-one",
        "gw-two",
    ]
    assert [g.id for g in c.cf.ai_gateway.list(account_id=c.account, search="two")] == ["gw-two"]
    changed = c.cf.ai_gateway.update(
        "gw-one", account_id=c.account, **{**GATEWAY_SETTINGS, "collect_logs": False}
    )
    assert changed.collect_logs is False and changed.cache_ttl is None  # a full replace
    assert c.cf.ai_gateway.get("gw-one", account_id=c.account).collect_logs is False

    # A gateway that does not collect logs still forwards, and records nothing.
    quiet = c.openai.with_options(base_url=f"{live.base_url}/gateway/v1/{c.account}/gw-one/openai")
    reply = quiet.chat.completions.create(model="gpt-4o", messages=_ask("shh"))
    assert reply.choices[0].message.content == "echo: shh"
    assert list(c.cf.ai_gateway.logs.list("gw-one", account_id=c.account)) == []

    _ingest(c, [_entry(1, gateway_id="gw-two")])
    c.cf.ai_gateway.delete("gw-two", account_id=c.account)
    with pytest.raises(CFNotFound):
        c.cf.ai_gateway.get("gw-two", account_id=c.account)
    with pytest.raises(CFNotFound):  # its logs went with it
        list(c.cf.ai_gateway.logs.list("gw-two", account_id=c.account))


def test_dataset_lifecycle(live: LiveServer) -> None:
    c = Caller(live)
    gw = _gateway(c)
    ds = c.cf.ai_gateway.datasets.create(
        gw,
        account_id=c.account,
        name="good ones",
        enable=True,
        filters=[{"key": "feedback", "operator": "gt", "value": [0]}],
    )
    assert (ds.name, ds.enable, ds.gateway_id) == ("good ones", True, gw)
    assert [f.model_dump() for f in ds.filters] == [
        {"key": "feedback", "operator": "gt", "value": [0]}
    ]
    got = c.cf.ai_gateway.datasets.get(ds.id, account_id=c.account, gateway_id=gw)
    assert got.id == ds.id and got.created_at == ds.created_at
    put = c.cf.ai_gateway.datasets.update(
        ds.id,
        account_id=c.account,
        gateway_id=gw,
        name="renamed",
        enable=False,
        filters=[{"key": "model", "operator": "contains", "value": ["4o"]}],
    )
    assert (put.name, put.enable, put.filters[0].key) == ("renamed", False, "model")
    assert put.modified_at >= ds.modified_at and put.created_at == ds.created_at
    gone = c.cf.ai_gateway.datasets.delete(ds.id, account_id=c.account, gateway_id=gw)
    assert gone.id == ds.id
    with pytest.raises(CFNotFound):
        c.cf.ai_gateway.datasets.get(ds.id, account_id=c.account, gateway_id=gw)
    assert c.native("GET", f"/datasets/{ds.id}/rows").status_code == 404


def test_dataset_list_pages_end_and_filter(live: LiveServer) -> None:
    c = Caller(live)
    gw = _gateway(c)
    made = [
        c.cf.ai_gateway.datasets.create(
            gw, account_id=c.account, name=f"set {i}", enable=i % 2 == 0, filters=[]
        ).id
        for i in range(7)
    ]
    listed = [d.id for d in c.cf.ai_gateway.datasets.list(gw, account_id=c.account, per_page=3)]
    assert listed == made  # every page once, oldest first, and the iteration ends
    past = httpx.get(
        f"{live.base_url}/client/v4/accounts/{c.account}/ai-gateway/gateways/{gw}/datasets",
        params={"page": 4, "per_page": 3},
        headers={"authorization": f"Bearer {c.key}"},
    ).json()
    assert past["success"] and past["result"] == []
    assert past["result_info"] == {"page": 4, "per_page": 3, "count": 0, "total_count": 7}
    first = c.cf.ai_gateway.datasets.list(gw, account_id=c.account, per_page=3)
    assert first.result_info is not None and first.result_info.page == 1
    enabled = c.cf.ai_gateway.datasets.list(gw, account_id=c.account, enable=True)
    assert [d.id for d in enabled] == made[0::2]
    assert [
        d.id for d in c.cf.ai_gateway.datasets.list(gw, account_id=c.account, name="set 3")
    ] == [made[3]]
    assert [
        d.id for d in c.cf.ai_gateway.datasets.list(gw, account_id=c.account, search="SET 5")
    ] == [made[5]]
    with pytest.raises(BadRequestError, match="per_page"):
        c.cf.ai_gateway.datasets.list(gw, account_id=c.account, per_page=10_000)


def _matches(entry: dict[str, Any], feedback: int | None) -> bool:
    return entry["model"] == "gpt-4o-mini" and feedback is not None and feedback > 0


def test_filter_dataset_holds_exactly_the_matching_logs(live: LiveServer) -> None:
    c = Caller(live)
    gw = _gateway(c)
    models = ["gpt-4o-mini", "gpt-4o"]
    feedbacks = [None, -1, 0, 1]
    before = [
        _entry(i, gateway_id=gw, model=models[i % 2], feedback=feedbacks[i // 2 % 4])
        for i in range(16)
    ]
    ids = _ingest(c, before)
    truth = {log_id: (e, e["feedback"]) for log_id, e in zip(ids, before, strict=True)}
    ds = c.cf.ai_gateway.datasets.create(
        gw,
        account_id=c.account,
        name="mini and liked",
        enable=True,
        filters=[
            {"key": "model", "operator": "eq", "value": ["gpt-4o-mini"]},
            {"key": "feedback", "operator": "gt", "value": [0]},
        ],
    )
    frozen = c.cf.ai_gateway.datasets.create(
        gw,
        account_id=c.account,
        name="frozen",
        enable=False,
        filters=[{"key": "model", "operator": "eq", "value": ["gpt-4o-mini"]}],
    )

    def expected() -> set[str]:
        return {i for i, (e, fb) in truth.items() if _matches(e, fb)}

    assert set(_rows(c, ds.id)) == expected() and expected()
    # The TensorZero door reads the same rows as chat datapoints, by the dataset's name.
    listed = httpx.post(
        f"{c.base}/v1/datasets/mini and liked/list_datapoints",
        json={"limit": 100},
        headers={"authorization": f"Bearer {c.key}"},
    )
    assert listed.status_code == 200, listed.text
    points = listed.json()["datapoints"]
    assert {p["source_inference_id"] for p in points} == expected()
    assert {p["type"] for p in points} == {"chat"} and all(p["output"] for p in points)
    # New logs join as they arrive: by batch and through the logging gateway.
    after = [_entry(i, gateway_id=gw, model=models[i % 2], feedback=1) for i in range(6)]
    truth |= {i: (e, 1) for i, e in zip(_ingest(c, after), after, strict=True)}
    c.openai.chat.completions.create(model="gpt-4o-mini", messages=_ask("via the gateway"))
    proxied = c.logs(direction="desc")[0].id
    assert set(_rows(c, ds.id)) == expected()
    # Feedback set later moves a log in or out: rows are re-evaluated on every edit.
    c.cf.ai_gateway.logs.edit(proxied, account_id=c.account, gateway_id=gw, feedback=1)
    truth[proxied] = ({"model": "gpt-4o-mini"}, 1)
    leaving = next(i for i in expected() if i != proxied)
    c.cf.ai_gateway.logs.edit(leaving, account_id=c.account, gateway_id=gw, feedback=-1)
    truth[leaving] = (truth[leaving][0], -1)
    rows = _rows(c, ds.id)
    assert set(rows) == expected()
    assert rows[proxied]["input"]["messages"] == _ask("via the gateway")
    assert rows[proxied]["output"] == [{"role": "assistant", "content": "echo: via the gateway"}]
    assert rows[proxied]["kind"] == "chat" and rows[proxied]["function_name"] == gw
    # The disabled dataset kept what matched when it was made, and nothing since.
    assert set(_rows(c, frozen.id)) == {
        i for i, e in zip(ids, before, strict=True) if e["model"] == "gpt-4o-mini"
    }
    # A full replace re-syncs an enabled dataset to its new filters.
    c.cf.ai_gateway.datasets.update(
        ds.id,
        account_id=c.account,
        gateway_id=gw,
        name="any gpt-4o",
        enable=True,
        filters=[{"key": "model", "operator": "eq", "value": ["gpt-4o"]}],
    )
    assert set(_rows(c, ds.id)) == {i for i, (e, _) in truth.items() if e["model"] == "gpt-4o"}


def test_datasets_made_while_logs_pour_in_miss_none(live: LiveServer) -> None:
    c = Caller(live)
    gw = _gateway(c)
    done: list[str] = []

    def pour(n: int) -> None:
        for j in range(5):
            done.extend(
                _ingest(c, [_entry(100 * n + j * 10 + k, gateway_id=gw) for k in range(10)])
            )

    threads = [threading.Thread(target=pour, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    made = [
        c.cf.ai_gateway.datasets.create(
            gw, account_id=c.account, name=f"all {k}", enable=True, filters=[]
        ).id
        for k in range(3)
    ]
    for t in threads:
        t.join()
    assert len(done) == 200
    for dataset_id in made:
        assert set(_rows(c, dataset_id)) == set(done)  # no log lost, none twice


def test_a_dataset_fills_by_a_job_while_logs_keep_coming(live: LiveServer) -> None:
    """A job pages through the matching logs, with its progress on the dataset, while the
    gateway goes on recording logs: each log joins exactly once."""
    c = Caller(live)
    gw = _gateway(c)
    before = []
    for n in range(3):
        before += _ingest(c, [_entry(1000 * n + k, gateway_id=gw) for k in range(1000)])
    ds = c.cf.ai_gateway.datasets.create(
        gw, account_id=c.account, name="everything", enable=True, filters=[]
    )
    during = _ingest(c, [_entry(5000 + k, gateway_id=gw) for k in range(50)])
    body = _synced(c, ds.id)
    progress = body["progress"]
    assert progress["processed_rows"] == progress["total_rows"] >= len(before)
    assert progress["percent"] == 100
    rows = c.native("GET", f"/datasets/{ds.id}/rows", params={"limit": 1})
    assert rows.json()["total"] == len(before) + len(during)  # each log once
    assert body["row_count"] == len(before) + len(during)


BAD_FILTERS: list[tuple[Any, str]] = [
    ({"key": "latency", "operator": "eq", "value": [1]}, "latency"),
    ({"key": "model", "operator": "neq", "value": ["x"]}, "neq"),
    ({"key": "cost", "operator": "contains", "value": [1]}, "contains"),
    ({"key": "model", "operator": "lt", "value": ["x"]}, "lt"),
    ({"key": "model", "operator": "eq", "value": [5]}, "filters[0].value[0]"),
    ({"key": "success", "operator": "eq", "value": ["yes"]}, "bool"),
    ({"key": "tokens", "operator": "gt", "value": ["many"]}, "number"),
    ({"key": "feedback", "operator": "gt", "value": [True]}, "number"),
    ({"key": "created_at", "operator": "gt", "value": ["yesterday"]}, "date-time"),
    ({"key": "cost", "operator": "gt", "value": [1, 2]}, "exactly one"),
    ({"key": "model", "operator": "eq", "value": []}, "non-empty"),
]


@pytest.fixture(scope="module")
def strict(live: LiveServer) -> Caller:
    c = Caller(live, gateway="strict")
    _gateway(c)
    return c


@pytest.mark.parametrize(("bad", "named"), BAD_FILTERS)
def test_bad_filters_are_400_in_the_envelope(strict: Caller, bad: Any, named: str) -> None:
    c = strict
    with pytest.raises(BadRequestError) as err:
        c.cf.ai_gateway.datasets.create(
            "strict", account_id=c.account, name="x", enable=True, filters=[bad]
        )
    body: Any = err.value.body
    assert body["success"] is False and body["result"] is None
    assert named in body["errors"][0]["message"] and isinstance(body["errors"][0]["code"], int)


def test_typed_filters_select_by_date_bool_and_text(live: LiveServer) -> None:
    c = Caller(live)
    gw = _gateway(c)
    ids = _ingest(
        c,
        [
            _entry(1, gateway_id=gw, created_at="2024-01-01T00:00:00Z", success=False),
            _entry(
                2,
                gateway_id=gw,
                created_at="2024-06-01T12:00:00+02:00",
                response_content_type="application/json",
            ),
            _entry(3, gateway_id=gw, created_at="2025-01-01T00:00:00Z", cached=True),
        ],
    )

    def selected(*filters: Any) -> set[str]:
        ds = c.cf.ai_gateway.datasets.create(
            gw, account_id=c.account, name="t", enable=True, filters=list(filters)
        )
        return set(_rows(c, ds.id))

    assert selected(
        {"key": "created_at", "operator": "lt", "value": ["2024-06-01T10:00:01Z"]}
    ) == set(ids[:2])
    assert selected(
        {"key": "created_at", "operator": "gt", "value": ["2024-06-01T10:00:00+00:00"]}
    ) == set(ids[2:])
    assert selected({"key": "success", "operator": "eq", "value": [False]}) == {ids[0]}
    assert selected({"key": "cached", "operator": "eq", "value": [True]}) == {ids[2]}
    assert selected(
        {"key": "response_content_type", "operator": "contains", "value": ["JSON"]}
    ) == {ids[1]}
    assert selected({"key": "tokens", "operator": "gt", "value": [21]}) == {ids[1], ids[2]}
    assert selected({"key": "model", "operator": "eq", "value": ["a", "gpt-4o"]}) == set(ids)


def test_auth_headers_and_other_accounts(live: LiveServer) -> None:
    c, other = Caller(live), Caller(live)
    gw = _gateway(c)
    ds = c.cf.ai_gateway.datasets.create(
        gw, account_id=c.account, name="mine", enable=True, filters=[]
    )
    by_key = Cloudflare(
        api_key=c.key,
        api_email="me@example.com",
        base_url=f"{live.base_url}/client/v4",
        max_retries=0,
    )
    assert by_key.ai_gateway.datasets.get(ds.id, account_id=c.account, gateway_id=gw).id == ds.id
    no_email = httpx.get(
        f"{live.base_url}/client/v4/accounts/{c.account}/ai-gateway/gateways",
        headers={"x-auth-key": c.key},
    )
    assert no_email.status_code == 401 and no_email.json()["success"] is False
    nobody = Cloudflare(api_token="gm-nope", base_url=f"{live.base_url}/client/v4", max_retries=0)
    with pytest.raises(AuthenticationError) as err:
        nobody.ai_gateway.list(account_id=c.account)
    assert err.value.body["errors"][0]["code"] == 10000  # type: ignore[index]

    # Another account's ids are unknown, whether named under its account or under our own.
    _gateway(other, gw)
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.datasets.get(ds.id, account_id=c.account, gateway_id=gw)
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.datasets.get(ds.id, account_id=other.account, gateway_id=gw)
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.datasets.update(
            ds.id, account_id=other.account, gateway_id=gw, name="x", enable=True, filters=[]
        )
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.datasets.delete(ds.id, account_id=other.account, gateway_id=gw)
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.get(gw, account_id=c.account)
    with pytest.raises(CFNotFound):
        list(other.cf.ai_gateway.datasets.list("no-such-gw", account_id=other.account))
    assert other.native("GET", f"/datasets/{ds.id}/rows").status_code == 404
    assert c.cf.ai_gateway.datasets.get(ds.id, account_id=c.account, gateway_id=gw).name == "mine"
