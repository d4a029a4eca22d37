"""The logging gateway and inference logs: the `openai` SDK calls through the gateway to a stub
upstream; the logs are read and given feedback with the `cloudflare` SDK and the native door."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from cloudflare import BadRequestError as CFBadRequest
from cloudflare import Cloudflare
from cloudflare import NotFoundError as CFNotFound

from tests.stub_openai_upstream import StubServer
from tests.support import Backend, LiveServer, gateway_server

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer(delay=4 * TIMEOUT) as s:
        yield s


@pytest.fixture(scope="module")
def live(
    backend: Backend, stub: StubServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    yield from gateway_server("gateway", backend, stub, tmp_path_factory, TIMEOUT)


def _usd_per_million(price_in: float, price_out: float) -> Any:
    return lambda tokens_in, tokens_out: (tokens_in * price_in + tokens_out * price_out) / 1e6


# OpenAI's published prices (USD per 1M tokens in / out), not Gristmill's own table, so that a
# wrong price in the table fails here
GPT_4O_MINI = _usd_per_million(0.15, 0.60)
GPT_4O = _usd_per_million(2.50, 10.00)


class Caller:
    """One account seen through the three doors it uses here."""

    def __init__(self, server: LiveServer, gateway: str = "gw"):
        key = server.new_key()
        self.key, self.account, self.gateway, self.base = (
            key["api_key"],
            key["account_id"],
            gateway,
            server.base_url,
        )
        self.openai = openai.OpenAI(
            api_key=self.key,
            max_retries=0,
            base_url=f"{self.base}/gateway/v1/{self.account}/{gateway}/openai",
        )
        self.cf = Cloudflare(api_token=self.key, base_url=f"{self.base}/client/v4", max_retries=0)

    def log(self, log_id: str) -> Any:
        return self.cf.ai_gateway.logs.get(log_id, account_id=self.account, gateway_id=self.gateway)

    def logs(self, **params: Any) -> list[Any]:
        return list(self.cf.ai_gateway.logs.list(self.gateway, account_id=self.account, **params))

    def native(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.base}/native/v1{path}",
            headers={"authorization": f"Bearer {self.key}"},
            timeout=30,
            **kw,
        )


def _ask(text: str) -> list[Any]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_call_is_forwarded_unchanged_and_logged(live: LiveServer, stub: StubServer) -> None:
    c = Caller(live)
    raw = c.openai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=_ask("hello there world")
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: hello there world"
    assert raw.headers["x-request-id"] == "req_stub"  # the upstream's headers pass through
    sent = stub.received[-1]
    assert sent["headers"]["authorization"] == "Bearer upstream-secret"  # never our key
    assert sent["body"]["messages"][1]["content"] == "hello there world"

    log = c.log(raw.headers["cf-aig-log-id"])
    assert (log.provider, log.model, log.path) == ("openai", "gpt-4o-mini", "chat/completions")
    assert log.success and not log.cached and log.status_code == 200
    assert (log.tokens_in, log.tokens_out) == (5, 4)
    assert log.cost == pytest.approx(GPT_4O_MINI(5, 4))
    assert log.request_content_type == log.response_content_type == "application/json"
    assert log.duration >= 0 and "hello there world" in (log.request_head or "")
    body = c.cf.ai_gateway.logs.request(log.id, account_id=c.account, gateway_id=c.gateway)
    assert body == sent["body"]
    stored = c.cf.ai_gateway.logs.response(log.id, account_id=c.account, gateway_id=c.gateway)
    assert stored["choices"][0]["message"]["content"] == "echo: hello there world"  # type: ignore[index]


def test_stream_is_relayed_and_logged_with_usage(live: LiveServer) -> None:
    c = Caller(live)
    with c.openai.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=_ask("stream me please"),
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        log_id = raw.headers["cf-aig-log-id"]
        chunks = list(raw.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "echo: stream me please"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5

    log = c.log(log_id)
    assert log.success and log.response_content_type == "text/event-stream"
    assert (log.tokens_in, log.tokens_out) == (5, 4)
    assert log.cost == pytest.approx(GPT_4O_MINI(5, 4))
    stored: Any = c.cf.ai_gateway.logs.response(log_id, account_id=c.account, gateway_id=c.gateway)
    assert stored["object"] == "chat.completion"  # the chunks, put back together
    assert stored["choices"][0]["message"] == {
        "role": "assistant",
        "content": "echo: stream me please",
    }

    # Without include_usage there is no usage chunk, so no tokens and no cost.
    list(
        c.openai.chat.completions.create(
            model="gpt-4o-mini", messages=_ask("no usage"), stream=True
        )
    )
    bare = c.logs(direction="desc", per_page=1)[0]
    assert bare.success and bare.tokens_in is None and bare.cost is None


def test_stream_chunks_arrive_as_they_are_sent(live: LiveServer, stub: StubServer) -> None:
    """The upstream holds the rest of its stream until the client has seen the first piece:
    a gateway that buffered the stream would never pass that piece on."""
    c = Caller(live)
    stub.held.clear()
    stub.release.clear()
    stub.released_in_time = False
    pieces = []
    try:
        for chunk in c.openai.chat.completions.create(
            model="stub-held", messages=_ask("one two three"), stream=True
        ):
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece:
                if not pieces:
                    # the stub sets `held` just after its flush, so the piece can be here first
                    assert stub.held.wait(5) and not stub.release.is_set()
                    stub.release.set()
                pieces.append(piece)
    finally:
        stub.release.set()
    assert "".join(pieces) == "echo: one two three" and len(pieces) == 4
    assert stub.released_in_time  # the piece came through while the upstream still held the rest


def test_slow_upstream_is_a_504_and_a_failed_log(live: LiveServer) -> None:
    c = Caller(live)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as err:
        c.openai.chat.completions.create(model="stub-slow", messages=_ask("x"))
    assert time.monotonic() - started < 3 * TIMEOUT  # the gateway gave up, it did not hang
    assert err.value.status_code == 504
    body: Any = err.value.body
    assert body["type"] == "server_error" and "did not answer" in body["message"]
    log = c.logs(model="stub-slow")[0]
    assert not log.success and log.status_code == 504


def test_failing_upstream_is_a_502_and_a_failed_log(live: LiveServer) -> None:
    c = Caller(live)
    with pytest.raises(openai.InternalServerError) as err:
        c.openai.chat.completions.create(model="stub-fail", messages=_ask("x"))
    assert err.value.status_code == 502
    assert "HTTP 500" in str(err.value) and "stub-fail says no" in str(err.value)
    log = c.logs(model="stub-fail")[0]
    assert not log.success and log.status_code == 500
    detail = c.log(log.id)
    assert "stub-fail says no" in (detail.response_head or "")


def test_upstream_client_errors_pass_through(live: LiveServer) -> None:
    c = Caller(live)
    with pytest.raises(openai.BadRequestError) as err:
        c.openai.chat.completions.create(model="stub-bad", messages=_ask("x"))
    assert err.value.body == {
        "message": "stub-bad says no",
        "type": "stub",
        "param": None,
        "code": "stub-bad",
    }
    assert not c.logs(model="stub-bad")[0].success


def test_stalled_stream_ends_with_an_error_event(live: LiveServer) -> None:
    c = Caller(live)
    got = []
    with pytest.raises(openai.APIError, match="stalled"):
        for chunk in c.openai.chat.completions.create(
            model="stub-stall", messages=_ask("x"), stream=True
        ):
            got.append(chunk)
    assert len(got) == 1  # the first chunk came through before the stall
    log = c.logs(model="stub-stall")[0]
    assert not log.success and log.status_code == 200


def test_gateway_refuses_bad_callers(live: LiveServer, stub: StubServer) -> None:
    c, other = Caller(live), Caller(live)
    seen = len(stub.received)
    url = f"{live.base_url}/gateway/v1/{c.account}/gw/openai/chat/completions"
    body = {"model": "gpt-4o-mini", "messages": _ask("x")}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    foreign = httpx.post(url, json=body, headers={"authorization": f"Bearer {other.key}"})
    assert foreign.status_code == 404 and "error" in foreign.json()
    auth = {"authorization": f"Bearer {c.key}"}
    unknown = httpx.post(url.replace("/openai/", "/nowhere/"), json=body, headers=auth)
    assert unknown.status_code == 404 and "nowhere" in unknown.json()["error"]["message"]
    garbage = httpx.post(url, content=b"{not json", headers=auth)
    assert garbage.status_code == 400 and garbage.json()["error"]["type"] == "invalid_request_error"
    assert len(stub.received) == seen  # none of those reached the upstream
    with pytest.raises(CFNotFound):  # nor made the gateway
        c.logs()


def test_feedback_score_and_metadata(live: LiveServer) -> None:
    c = Caller(live)
    c.openai.chat.completions.create(
        model="gpt-4o-mini",
        messages=_ask("rate me"),
        extra_headers={"cf-aig-metadata": '{"user": "u1"}'},
    )
    log = c.logs()[0]
    assert log.metadata == '{"user":"u1"}'
    c.cf.ai_gateway.logs.edit(
        log.id,
        account_id=c.account,
        gateway_id=c.gateway,
        feedback=1,
        score=0.75,
        metadata={"user": "u1", "ok": True},
    )
    assert c.logs(feedback=1)[0].id == log.id
    assert [x.id for x in c.logs(search="U1")] == [log.id]  # metadata is searched too
    native = c.native("GET", f"/logs/{log.id}").json()
    assert (native["feedback"], native["score"]) == (1, 0.75)
    assert native["metadata"] == {"user": "u1", "ok": True}
    cleared = c.native("POST", f"/logs/{log.id}/feedback", json={"feedback": None}).json()
    assert cleared["feedback"] is None and cleared["score"] == 0.75
    with pytest.raises(CFBadRequest) as err:
        c.cf.ai_gateway.logs.edit(log.id, account_id=c.account, gateway_id=c.gateway, feedback=0.5)
    assert err.value.body["success"] is False  # type: ignore[index]
    assert "feedback" in err.value.body["errors"][0]["message"]  # type: ignore[index]
    bad = c.native("POST", f"/logs/{log.id}/feedback", json={"feedback": 2})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "feedback"
    with pytest.raises(CFNotFound):
        c.cf.ai_gateway.logs.edit(
            str(uuid.uuid4()), account_id=c.account, gateway_id=c.gateway, feedback=1
        )


def _entry(i: int, **kw: Any) -> dict[str, Any]:
    return {
        "gateway_id": "batch",
        "provider": "openai",
        "model": "gpt-4o",
        "request": {"messages": [{"role": "user", "content": f"q{i}"}]},
        "response": {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"a{i}"}}]
        },
        "tokens_in": 10 * i,
        "tokens_out": i,
        "duration_ms": 100 + i,
        **kw,
    }


def test_native_batch_ingestion(live: LiveServer) -> None:
    c = Caller(live, gateway="batch")
    logs = [_entry(i) for i in range(1, 1001)]
    logs[0] |= {"cost": 0.5, "success": False, "feedback": -1, "metadata": {"k": "v"}}
    made = c.native("POST", "/logs", json={"logs": logs})
    assert made.status_code == 201, made.text
    ids = made.json()["ids"]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    first = c.native("GET", f"/logs/{ids[0]}").json()
    assert (first["cost"], first["success"], first["feedback"]) == (0.5, False, -1)
    second = c.log(ids[1])
    assert second.cost == pytest.approx(GPT_4O(20, 2))  # priced when not given

    too_many = c.native("POST", "/logs", json={"logs": [_entry(1)] * 1001})
    assert too_many.status_code == 413 and "1000" in too_many.json()["error"]["message"]
    typo = c.native("POST", "/logs", json={"logs": [{**_entry(1), "tokns_in": 3}]})
    assert typo.status_code == 400 and typo.json()["error"]["param"] == "logs.0.tokns_in"
    negative = c.native("POST", "/logs", json={"logs": [_entry(1, tokens_in=-1)]})
    assert negative.status_code == 400
    bad_gateway = c.native("POST", "/logs", json={"logs": [_entry(1, gateway_id="Not OK")]})
    assert bad_gateway.status_code == 400 and "gateway id" in bad_gateway.json()["error"]["message"]
    assert c.native("GET", f"/logs/{uuid.uuid4()}").status_code == 404


def test_log_list_filters_order_and_pages(live: LiveServer) -> None:
    c = Caller(live, gateway="listing")
    entries = [
        _entry(i, gateway_id="listing", model="gpt-4o" if i % 2 else "gpt-4o-mini", success=i != 3)
        for i in range(1, 8)
    ]
    ids = c.native("POST", "/logs", json={"logs": entries}).json()["ids"]
    everything = c.logs(per_page=2)  # auto-paging stops when a page comes back empty
    assert sorted(log.id for log in everything) == sorted(ids)
    assert [log.id for log in c.logs(direction="asc")] == ids
    assert {log.id for log in c.logs(model="gpt-4o-mini")} == {ids[1], ids[3], ids[5]}
    assert [log.id for log in c.logs(success=False)] == [ids[2]]
    assert {log.id for log in c.logs(min_tokens_in=40, max_tokens_in=60)} == set(ids[3:6])
    filtered = c.logs(
        filters=[
            {"key": "model", "operator": "contains", "value": ["MINI"]},
            {"key": "duration", "operator": "gt", "value": [103]},
        ]
    )
    assert {log.id for log in filtered} == {ids[3], ids[5]}
    neq = c.logs(filters=[{"key": "model", "operator": "neq", "value": ["gpt-4o"]}])
    assert len(neq) == 3
    ordered = c.logs(order_by="duration", order_by_direction="desc")
    assert [log.id for log in ordered] == ids[::-1]
    with pytest.raises(CFBadRequest, match="latency"):
        c.logs(filters=[{"key": "latency", "operator": "eq", "value": [1]}])  # type: ignore[list-item]
    with pytest.raises(CFBadRequest, match="number"):
        c.logs(filters=[{"key": "cost", "operator": "gt", "value": ["cheap"]}])
    deleted = c.cf.ai_gateway.logs.delete(
        "listing",
        account_id=c.account,
        filters=[{"key": "success", "operator": "eq", "value": [False]}],
    )
    assert deleted.success and len(c.logs()) == 6


def test_logs_of_another_account_are_not_found(live: LiveServer) -> None:
    c, other = Caller(live), Caller(live)
    c.openai.chat.completions.create(model="gpt-4o-mini", messages=_ask("mine"))
    log_id = c.logs()[0].id
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.logs.get(log_id, account_id=c.account, gateway_id="gw")
    with pytest.raises(CFNotFound):
        other.cf.ai_gateway.logs.get(log_id, account_id=other.account, gateway_id="gw")
    assert other.native("GET", f"/logs/{log_id}").status_code == 404
