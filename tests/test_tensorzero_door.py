"""The `tensorzero` client against a live server: datapoints and datasets through `/v1/datasets`,
the older `/datasets/...` routes with plain HTTP as on the seed page, and `from_inferences`
fed from logs sent to the native batch endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import adaption
import httpx
import pytest
from tensorzero import (
    ContentBlockChatOutputText,
    CreateDatapointRequestChat,
    CreateDatapointRequestJson,
    CreateDatapointsFromInferenceRequestParamsInferenceIds,
    FunctionTool,
    Input,
    InputMessage,
    InputMessageContentTemplate,
    InputMessageContentText,
    JsonDatapointOutputUpdate,
    ListDatapointsRequest,
    TensorZeroError,
    TensorZeroGateway,
    UpdateDatapointMetadataRequest,
)
from tensorzero.generated_types import (
    AndDatapointFilter,
    CreateDatapointsFromInferenceRequestParamsInferenceQuery,
    DatapointOrderByTimestamp,
    InferenceFilterBooleanMetric,
    InferenceFilterTag,
    NotDatapointFilter,
    OrDatapointFilter,
    TagDatapointFilter,
    TimeDatapointFilter,
    UpdateChatDatapointRequest,
    UpdateJsonDatapointRequest,
)

from tests.support import LiveServer

# the client prefers get_datapoints with a dataset name; both paths are tested here
pytestmark = pytest.mark.filterwarnings("ignore:Calling get_datapoints without a dataset name")

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}


@pytest.fixture(scope="module")
def account(server: LiveServer) -> dict[str, str]:
    return server.new_key()


@pytest.fixture(scope="module")
def client(server: LiveServer, account: dict[str, str]) -> Iterator[TensorZeroGateway]:
    yield TensorZeroGateway.build_http(
        gateway_url=server.base_url, api_key=account["api_key"], timeout=120
    )


@pytest.fixture(scope="module")
def http(server: LiveServer, account: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as c:
        yield c


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def user(text: str, system: str | None = None) -> Input:
    message = InputMessage(role="user", content=[InputMessageContentText(text=text)])
    return Input(system=system, messages=[message])


def chat(text: str, answer: str = "ok", **fields: Any) -> CreateDatapointRequestChat:
    fields.setdefault("function_name", "qa")
    return CreateDatapointRequestChat(
        input=user(text), output=[ContentBlockChatOutputText(text=answer)], **fields
    )


def extraction(i: int, **fields: Any) -> CreateDatapointRequestJson:
    fields.setdefault("output_schema", ANSWER_SCHEMA)
    return CreateDatapointRequestJson(
        function_name="extract",
        input=user(f"What is {i} + {i}?"),
        output=JsonDatapointOutputUpdate(raw=json.dumps({"answer": 2 * i})),
        **fields,
    )


def listed(client: TensorZeroGateway, dataset: str, **request: Any) -> list[Any]:
    response = client.list_datapoints(
        dataset_name=dataset, request=ListDatapointsRequest(limit=1000, **request)
    )
    return list(response.datapoints)


def error_of(exc: pytest.ExceptionInfo[TensorZeroError]) -> str:
    body: dict[str, str] = json.loads(exc.value.text or "{}")
    return body["error"]


def test_create_and_get_chat_and_json(client: TensorZeroGateway) -> None:
    dataset = name("create")
    tool = FunctionTool(name="lookup", description="Look it up", parameters={"type": "object"})
    chat_point = CreateDatapointRequestChat(
        function_name="assistant",
        input=Input(
            system="Be terse.",
            messages=[
                InputMessage(role="user", content=[InputMessageContentText(text="Hi")]),
                InputMessage(role="assistant", content=[InputMessageContentText(text="Hello.")]),
                InputMessage(role="user", content=[InputMessageContentText(text="Weather?")]),
            ],
        ),
        output=[ContentBlockChatOutputText(text="Sunny.")],
        tags={"split": "train"},
        name="greeting",
        allowed_tools=["lookup"],
        additional_tools=[tool],
        tool_choice="auto",
        parallel_tool_calls=False,
    )
    template = InputMessageContentTemplate(name="user", arguments={"city": "Oslo"})
    json_point = CreateDatapointRequestJson(
        function_name="extract",
        input=Input(messages=[InputMessage(role="user", content=[template])]),
        output=JsonDatapointOutputUpdate(raw='{"answer": 4}'),
        output_schema=ANSWER_SCHEMA,
        tags={"split": "test"},
    )
    ids = client.create_datapoints(dataset_name=dataset, requests=[chat_point, json_point]).ids
    assert len(ids) == 2 and all(uuid.UUID(i).version == 7 for i in ids)

    by_name = client.get_datapoints(dataset_name=dataset, ids=ids).datapoints
    anywhere = client.get_datapoints(ids=ids).datapoints
    assert by_name == anywhere
    got_chat, got_json = by_name
    assert (got_chat.type, got_chat.id, got_chat.dataset_name) == ("chat", ids[0], dataset)
    assert got_chat.function_name == "assistant"
    assert got_chat.input == chat_point.input
    assert got_chat.output == [ContentBlockChatOutputText(text="Sunny.")]
    assert (got_chat.tags, got_chat.name) == ({"split": "train"}, "greeting")
    assert got_chat.allowed_tools == ["lookup"]
    assert got_chat.additional_tools == [tool]
    assert (got_chat.tool_choice, got_chat.parallel_tool_calls) == ("auto", False)
    assert got_chat.staled_at is None and got_chat.is_custom
    assert got_json.type == "json"
    assert got_json.input.messages[0].content == [template]
    assert got_json.output is not None and got_json.output.parsed == {"answer": 4}
    assert json.loads(got_json.output.raw or "") == {"answer": 4}
    assert got_json.output_schema == ANSWER_SCHEMA
    assert listed(client, dataset) == list(reversed(by_name))  # newest first


def test_content_blocks_and_tools_round_trip(client: TensorZeroGateway, http: httpx.Client) -> None:
    dataset = name("blocks")
    messages = [
        {"role": "user", "content": [{"type": "raw_text", "value": "Weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": "{}"}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "id": "c1", "name": "weather", "result": "rain"}],
        },
    ]
    point = {
        "type": "chat",
        "function_name": "agent",
        "input": {"system": {"persona": "pirate"}, "messages": messages},
        "output": [
            {"type": "thought", "text": "They need cover."},
            {"type": "tool_call", "id": "c2", "name": "umbrella", "arguments": {"size": 2}},
        ],
        "additional_tools": [{"name": "umbrella", "description": "Lend one", "parameters": {}}],
        "tool_choice": {"specific": "umbrella"},
    }
    r = http.post(f"/v1/datasets/{dataset}/datapoints", json={"datapoints": [point]})
    assert r.status_code == 200, r.text
    (got,) = client.get_datapoints(dataset_name=dataset, ids=r.json()["ids"]).datapoints
    assert got.input.system == {"persona": "pirate"}
    assert [[b.type for b in m.content] for m in got.input.messages] == [
        ["raw_text"],
        ["tool_call"],
        ["tool_result"],
    ]
    thought, call = got.output
    assert (thought.type, thought.text) == ("thought", "They need cover.")
    assert (call.name, call.raw_name, call.arguments) == ("umbrella", "umbrella", {"size": 2})
    assert json.loads(call.raw_arguments) == {"size": 2}
    assert got.additional_tools[0].name == "umbrella"
    assert got.tool_choice.specific == "umbrella"


def test_list_filters_order_and_pages(client: TensorZeroGateway) -> None:
    dataset = name("filters")
    first = client.create_datapoints(
        dataset_name=dataset,
        requests=[
            chat("one", tags={"split": "train", "lang": "en"}),
            chat("two", tags={"split": "train", "lang": "fr"}),
            chat("three", tags={"split": "test", "lang": "en"}),
        ],
    ).ids
    boundary = max(
        d.updated_at for d in client.get_datapoints(dataset_name=dataset, ids=first).datapoints
    )
    time.sleep(0.05)
    second = client.create_datapoints(
        dataset_name=dataset,
        requests=[chat("four", tags={"split": "test"}), extraction(5, tags={"lang": "en"})],
    ).ids

    def ids(**request: Any) -> set[str]:
        return {d.id for d in listed(client, dataset, **request)}

    def tag(key: str, value: str, op: str = "=") -> TagDatapointFilter:
        return TagDatapointFilter(key=key, value=value, comparison_operator=op)

    assert ids() == set(first + second)
    assert ids(filter=tag("split", "train")) == set(first[:2])
    # a datapoint without the tag counts as "not equal", as in TensorZero
    assert ids(filter=tag("lang", "en", "!=")) == {first[1], second[0]}
    later = TimeDatapointFilter(time=boundary, comparison_operator=">")
    assert ids(filter=later) == set(second)
    assert ids(filter=TimeDatapointFilter(time=boundary, comparison_operator="<=")) == set(first)
    en_or_test = OrDatapointFilter(children=[tag("lang", "en"), tag("split", "test")])
    assert ids(filter=en_or_test) == {first[0], first[2], second[0], second[1]}
    tree = AndDatapointFilter(children=[en_or_test, NotDatapointFilter(child=later)])
    assert ids(filter=tree) == {first[0], first[2]}
    assert ids(function_name="extract") == {second[1]}
    assert ids(search_query_experimental="THRE") == {first[2]}

    oldest_first = [DatapointOrderByTimestamp(direction="ascending")]
    everything = [d.id for d in listed(client, dataset, order_by=oldest_first)]
    assert everything == first + second
    newest_first = [DatapointOrderByTimestamp(direction="descending")]
    assert [d.id for d in listed(client, dataset, order_by=newest_first)] == everything[::-1]
    pages = [
        client.list_datapoints(
            dataset_name=dataset,
            request=ListDatapointsRequest(limit=2, offset=offset, order_by=oldest_first),
        ).datapoints
        for offset in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [d.id for page in pages for d in page] == everything


def test_update_stales_the_old_datapoint(client: TensorZeroGateway) -> None:
    dataset = name("update")
    old_chat, old_json = client.create_datapoints(
        dataset_name=dataset, requests=[chat("q", "a", tags={"v": "1"}, name="kept"), extraction(2)]
    ).ids
    new_chat, new_json = client.update_datapoints(
        dataset_name=dataset,
        requests=[
            UpdateChatDatapointRequest(
                id=old_chat, output=[ContentBlockChatOutputText(text="better")], tags={"v": "2"}
            ),
            UpdateJsonDatapointRequest(
                id=old_json, output=JsonDatapointOutputUpdate(raw='{"answer": 5}')
            ),
        ],
    ).ids
    assert {new_chat, new_json}.isdisjoint({old_chat, old_json})
    points = {
        d.id: d
        for d in client.get_datapoints(
            dataset_name=dataset, ids=[old_chat, new_chat, new_json]
        ).datapoints
    }
    assert points[old_chat].staled_at is not None
    assert points[old_chat].output == [ContentBlockChatOutputText(text="a")]
    assert points[new_chat].staled_at is None
    assert points[new_chat].output == [ContentBlockChatOutputText(text="better")]
    assert points[new_chat].tags == {"v": "2"}
    # fields the update left out stay as they were
    assert points[new_chat].name == "kept" and points[new_chat].input == user("q")
    assert points[new_json].output is not None
    assert points[new_json].output.parsed == {"answer": 5}
    assert {d.id for d in listed(client, dataset)} == {new_chat, new_json}

    with pytest.raises(TensorZeroError) as stale:
        client.update_datapoints(
            dataset_name=dataset, requests=[UpdateChatDatapointRequest(id=old_chat, tags={})]
        )
    assert stale.value.status_code == 400 and "stale" in error_of(stale)
    with pytest.raises(TensorZeroError) as mismatch:
        client.update_datapoints(
            dataset_name=dataset,
            requests=[
                UpdateJsonDatapointRequest(
                    id=new_json, output=JsonDatapointOutputUpdate(raw='{"answer": "five"}')
                )
            ],
        )
    assert mismatch.value.status_code == 400
    assert "datapoints[0].output does not match" in error_of(mismatch)

    same = client.update_datapoints_metadata(
        dataset_name=dataset, requests=[UpdateDatapointMetadataRequest(id=new_chat, name="renamed")]
    ).ids
    assert same == [new_chat]
    renamed = client.get_datapoints(dataset_name=dataset, ids=[new_chat]).datapoints[0]
    assert renamed.name == "renamed" and renamed.staled_at is None
    client.update_datapoints_metadata(
        dataset_name=dataset, requests=[UpdateDatapointMetadataRequest(id=new_chat, name=None)]
    )
    assert client.get_datapoints(dataset_name=dataset, ids=[new_chat]).datapoints[0].name is None


def test_delete_datapoints_and_dataset(
    client: TensorZeroGateway, server: LiveServer, account: dict[str, str]
) -> None:
    key = account["api_key"]
    dataset = name("delete")
    ids = client.create_datapoints(
        dataset_name=dataset, requests=[chat(str(i)) for i in range(4)]
    ).ids
    assert adaption_row_count(server, key, dataset) == 4
    deleted = client.delete_datapoints(dataset_name=dataset, ids=ids[:2])
    assert deleted.num_deleted_datapoints == 2
    assert client.delete_datapoints(dataset_name=dataset, ids=ids[:2]).num_deleted_datapoints == 0
    assert {d.id for d in listed(client, dataset)} == set(ids[2:])
    gone = client.get_datapoints(dataset_name=dataset, ids=ids[:1]).datapoints[0]
    assert gone.staled_at is not None  # still in the store, with its stale time
    assert adaption_row_count(server, key, dataset) == 2

    assert client.delete_dataset(dataset_name=dataset).num_deleted_datapoints == 2
    assert listed(client, dataset) == []
    assert all(d.staled_at for d in client.get_datapoints(dataset_name=dataset, ids=ids).datapoints)
    assert adaption_row_count(server, key, dataset) == 0


def adaption_row_count(server: LiveServer, key: str, dataset: str) -> int:
    """The dataset as the Adaption door shows it: the same rows, counted."""
    sdk = adaption.Adaption(api_key=key, base_url=server.base_url, max_retries=0)
    (found,) = [d for d in sdk.datasets.list(q=dataset) if d.name == dataset]
    count: int = found.row_count
    return count


def test_concurrent_writers_share_one_new_dataset(
    server: LiveServer, client: TensorZeroGateway, account: dict[str, str]
) -> None:
    dataset = name("race")

    def write(worker: int) -> list[str]:
        own = TensorZeroGateway.build_http(
            gateway_url=server.base_url, api_key=account["api_key"], timeout=120
        )
        batch = [chat(f"{worker}-{i}") for i in range(5)]
        return list(own.create_datapoints(dataset_name=dataset, requests=batch).ids)

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(write, range(8)) for i in batch]
    assert {d.id for d in listed(client, dataset)} == set(ids) and len(ids) == 40
    assert adaption_row_count(server, account["api_key"], dataset) == 40  # one dataset


def test_bad_input_gets_a_400(client: TensorZeroGateway, http: httpx.Client) -> None:
    dataset = name("bad")
    with pytest.raises(TensorZeroError) as bad_schema:
        client.create_datapoints(
            dataset_name=dataset, requests=[extraction(1, output_schema={"type": "integr"})]
        )
    assert bad_schema.value.status_code == 400
    assert "datapoints[0].output_schema is not a valid JSON Schema" in error_of(bad_schema)

    wrong = CreateDatapointRequestJson(
        function_name="extract",
        input=user("?"),
        output=JsonDatapointOutputUpdate(raw='{"answer": "four"}'),
        output_schema=ANSWER_SCHEMA,
    )
    with pytest.raises(TensorZeroError) as mismatch:
        client.create_datapoints(dataset_name=dataset, requests=[extraction(1), wrong])
    assert mismatch.value.status_code == 400
    assert "datapoints[1].output does not match datapoints[1].output_schema" in error_of(mismatch)

    # the client itself cannot send these, so they go as plain HTTP
    base = {"function_name": "f", "input": {"messages": []}}
    for item, needle in [
        ({**base, "type": "completion"}, "Unknown function type 'completion'"),
        ({**base, "type": "chat", "tags": {"n": 1}}, "datapoints[0].tags.n must be a string"),
        ({**base, "type": "json", "output": {"raw": "{not json"}}, "output.raw is not valid JSON"),
    ]:
        r = http.post(f"/v1/datasets/{dataset}/datapoints", json={"datapoints": [item]})
        assert r.status_code == 400, r.text
        assert needle in r.json()["error"]
    bad_filter = {"filter": {"type": "tag", "key": "k", "value": "v", "comparison_operator": "<"}}
    r = http.post(f"/v1/datasets/{dataset}/list_datapoints", json={})
    assert (r.status_code, r.json()) == (200, {"datapoints": []})  # the refused wrote nothing
    r = http.post(f"/v1/datasets/{dataset}/list_datapoints", json=bad_filter)
    assert r.status_code == 400 and "comparison_operator" in r.json()["error"]
    quoted = {"filter": {"type": "tag", "key": 'k"', "value": "v", "comparison_operator": "="}}
    r = http.post(f"/v1/datasets/{dataset}/list_datapoints", json=quoted)
    assert r.status_code == 400 and "tag name" in r.json()["error"]  # was a 500 on SQLite
    r = http.post(f"/v1/datasets/{dataset}/list_datapoints", json={}, headers={"Authorization": ""})
    assert r.status_code == 401 and "API key" in r.json()["error"]


def test_another_accounts_data_looks_like_a_fresh_name(
    server: LiveServer, client: TensorZeroGateway, http: httpx.Client
) -> None:
    """TensorZero has no dataset objects: another account's dataset name reads exactly like
    a name nobody used (empty), and its datapoint ids like unknown ones (404 by id)."""
    dataset = name("private")
    ids = client.create_datapoints(dataset_name=dataset, requests=[chat("secret")]).ids
    stranger_key = server.new_key()["api_key"]
    stranger = TensorZeroGateway.build_http(gateway_url=server.base_url, api_key=stranger_key)
    fresh = name("never-used")
    for ds in (dataset, fresh):
        assert listed(stranger, ds) == []
        assert stranger.get_datapoints(dataset_name=ds, ids=ids).datapoints == []
        assert stranger.delete_datapoints(dataset_name=ds, ids=ids).num_deleted_datapoints == 0
        assert stranger.delete_dataset(dataset_name=ds).num_deleted_datapoints == 0
        with pytest.raises(TensorZeroError) as err:
            stranger.update_datapoints(
                dataset_name=ds, requests=[UpdateChatDatapointRequest(id=ids[0], tags={})]
            )
        assert err.value.status_code == 404
        assert error_of(err) == f"Dataset '{ds}' not found."
    assert stranger.get_datapoints(ids=ids).datapoints == []  # like an unknown id
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {stranger_key}"}
    ) as older:
        for ds in (dataset, fresh):
            r = older.get(f"/datasets/{ds}/datapoints")
            assert (r.status_code, r.json()) == (200, [])
            r = older.get(f"/datasets/{ds}/datapoints/{ids[0]}")
            assert r.status_code == 404 and "not found" in r.json()["error"]
    # nothing the stranger did touched the owner's row
    assert [d.id for d in listed(client, dataset)] == ids
    # the stranger's own dataset of the same name is a different one
    stranger.create_datapoints(dataset_name=dataset, requests=[chat("mine")])
    assert [d.id for d in listed(client, dataset)] == ids


def test_bulk_of_10000_works_and_1000000_is_413(
    client: TensorZeroGateway, http: httpx.Client
) -> None:
    dataset = name("bulk")
    ids = client.create_datapoints(
        dataset_name=dataset, requests=[extraction(i, tags={"i": str(i)}) for i in range(10_000)]
    ).ids
    assert len(set(ids)) == 10_000
    sample = client.get_datapoints(dataset_name=dataset, ids=ids[::1000]).datapoints
    assert [d.tags["i"] for d in sample if d.tags] == [str(i) for i in range(0, 10_000, 1000)]
    tail = listed(
        client, dataset, offset=9_500, order_by=[DatapointOrderByTimestamp(direction="ascending")]
    )
    assert [d.id for d in tail] == ids[9_500:]

    item = b'{"type":"chat","function_name":"f","input":{"messages":[]}}'
    million = b'{"datapoints":[' + b",".join([item] * 1_000_000) + b"]}"
    r = http.post(f"/v1/datasets/{dataset}-huge/datapoints", content=million)
    assert r.status_code == 413
    assert "send at most 100000 datapoints per request" in r.json()["error"]
    just_over = b'{"datapoints":[' + b",".join([item] * 100_001) + b"]}"
    r = http.post(f"/v1/datasets/{dataset}-huge/datapoints", content=just_over)
    assert r.status_code == 413
    assert r.json()["error"].startswith("A request may hold at most 100000 datapoints")
    r = http.post(f"/v1/datasets/{dataset}-huge/list_datapoints", json={})
    assert (r.status_code, r.json()) == (200, {"datapoints": []})  # neither request wrote


def test_older_routes(http: httpx.Client) -> None:
    dataset = name("legacy")
    points = [
        {
            "function_name": "write_haiku",
            "input": {"messages": [{"role": "user", "content": "Write about the sea."}]},
            "output": [{"type": "text", "text": "Waves fold into foam"}],
            "tags": {"source": "seed"},
        },
        {
            "function_name": "extract_entities",
            "input": {"messages": [{"role": "user", "content": "Ada met Alan."}]},
            "output": {"people": ["Ada", "Alan"]},
            "output_schema": {"type": "object", "properties": {"people": {"type": "array"}}},
        },
        {
            "function_name": "write_haiku",
            "input": {"messages": [{"role": "user", "content": "Write about snow."}]},
            "allowed_tools": [],
            "parallel_tool_calls": False,
        },
    ]
    r = http.post(f"/datasets/{dataset}/datapoints/bulk", json={"datapoints": points})
    assert r.status_code == 200, r.text
    ids = r.json()
    assert isinstance(ids, list) and len(ids) == 3 and all(isinstance(i, str) for i in ids)

    r = http.get(f"/datasets/{dataset}/datapoints")
    assert [d["id"] for d in r.json()] == ids[::-1]  # newest first
    haiku = http.get(f"/datasets/{dataset}/datapoints", params={"function_name": "write_haiku"})
    alias = http.get(f"/datasets/{dataset}/datapoints", params={"function": "write_haiku"})
    assert [d["id"] for d in haiku.json()] == [d["id"] for d in alias.json()] == [ids[2], ids[0]]
    page = http.get(f"/datasets/{dataset}/datapoints", params={"limit": 1, "offset": 1})
    assert [d["id"] for d in page.json()] == [ids[1]]

    one = http.get(f"/datasets/{dataset}/datapoints/{ids[1]}").json()
    assert (one["type"], one["function_name"]) == ("json", "extract_entities")
    assert one["output"]["parsed"] == {"people": ["Ada", "Alan"]}
    first = http.get(f"/datasets/{dataset}/datapoints/{ids[0]}").json()
    assert first["input"]["messages"][0]["content"] == [
        {"type": "text", "text": "Write about the sea."}
    ]
    assert first["tags"] == {"source": "seed"} and first["staled_at"] is None

    r = http.delete(f"/datasets/{dataset}/datapoints/{ids[0]}")
    assert r.status_code == 200
    assert [d["id"] for d in http.get(f"/datasets/{dataset}/datapoints").json()] == ids[:0:-1]
    assert http.get(f"/datasets/{dataset}/datapoints/{ids[0]}").json()["staled_at"]
    missing = http.get(f"/datasets/{dataset}/datapoints/{uuid.uuid4()}")
    assert missing.status_code == 404 and "not found" in missing.json()["error"]

    r = http.delete(f"/datasets/{dataset}")
    assert r.status_code == 200 and r.json() == {"num_deleted_datapoints": 2}
    assert http.get(f"/datasets/{dataset}/datapoints").json() == []


def test_from_inferences(server: LiveServer, client: TensorZeroGateway, http: httpx.Client) -> None:
    gateway = name("gw")

    def log(text: str, model: str, feedback: int | None, **metadata: str) -> dict[str, Any]:
        messages = [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": text},
        ]
        completion = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text.upper()}}]
        }
        return {
            "gateway_id": gateway,
            "provider": "openai",
            "model": model,
            "request": {"model": model, "messages": messages},
            "response": completion,
            "feedback": feedback,
            "metadata": metadata or None,
        }

    logs = [
        log("alpha", "gpt-4o", 1, function_name="qa", team="red"),
        log("beta", "gpt-4o", -1, function_name="qa", team="blue"),
        log("gamma", "gpt-4o-mini", 1, function_name="qa", team="red"),
        log("delta", "gpt-4o", 1),
    ]
    r = http.post("/native/v1/logs", json={"logs": logs})
    assert r.status_code == 201, r.text
    log_ids = r.json()["ids"]

    dataset = name("from-logs")
    ids = client.create_datapoints_from_inferences(
        dataset_name=dataset,
        params=CreateDatapointsFromInferenceRequestParamsInferenceIds(inference_ids=log_ids[:2]),
    ).ids
    made = client.get_datapoints(dataset_name=dataset, ids=ids).datapoints
    assert [d.source_inference_id for d in made] == log_ids[:2]
    assert [d.function_name for d in made] == ["qa", "qa"]
    assert made[0].input == user("alpha", system="Answer briefly.")
    assert made[0].output == [ContentBlockChatOutputText(text="ALPHA")]
    assert not made[0].is_custom

    query = CreateDatapointsFromInferenceRequestParamsInferenceQuery(
        function_name="qa",
        variant_name="gpt-4o",
        filters=InferenceFilterTag(key="team", value="red", comparison_operator="="),
    )
    (red,) = client.create_datapoints_from_inferences(dataset_name=dataset, params=query).ids
    assert (
        client.get_datapoints(dataset_name=dataset, ids=[red]).datapoints[0].source_inference_id
        == log_ids[0]
    )

    liked = CreateDatapointsFromInferenceRequestParamsInferenceQuery(
        function_name=gateway,  # logs without a function name go by their gateway's
        filters=InferenceFilterBooleanMetric(metric_name="feedback", value=True),
        output_source="none",
    )
    (bare,) = client.create_datapoints_from_inferences(dataset_name=dataset, params=liked).ids
    bare_point = client.get_datapoints(dataset_name=dataset, ids=[bare]).datapoints[0]
    assert bare_point.source_inference_id == log_ids[3] and bare_point.output is None
    assert len(listed(client, dataset)) == 4

    stranger = TensorZeroGateway.build_http(
        gateway_url=server.base_url, api_key=server.new_key()["api_key"]
    )
    with pytest.raises(TensorZeroError) as err:
        stranger.create_datapoints_from_inferences(
            dataset_name=dataset,
            params=CreateDatapointsFromInferenceRequestParamsInferenceIds(
                inference_ids=log_ids[:1]
            ),
        )
    assert err.value.status_code == 404 and log_ids[0] in error_of(err)
    with pytest.raises(TensorZeroError) as demo:
        client.create_datapoints_from_inferences(
            dataset_name=dataset,
            params=CreateDatapointsFromInferenceRequestParamsInferenceIds(
                inference_ids=log_ids[:1]
            ),
            output_source="demonstration",
        )
    assert demo.value.status_code == 400 and "no demonstrations" in error_of(demo)
