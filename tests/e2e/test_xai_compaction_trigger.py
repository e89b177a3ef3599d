"""Codex's ``compaction_trigger`` in a streamed request to a Grok model: compacted through
xAI's ``/responses/compact`` and told as a Responses stream, over HTTP (the ``openai`` SDK)
and over the proxy's Responses WebSocket (aiohttp), against the fake xAI API (CPA
``executeCompactionTriggerStream``; ``xai_executor_test.go``,
``xai_websockets_executor_test.go``)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY

HISTORY = [
    {"type": "message", "role": "user", "content": "hello"},
    {"type": "compaction_trigger"},
]
TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")


def _config(fake: Any, *, websockets: bool) -> str:
    return f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake.base_url}/v1"
    websockets: {"true" if websockets else "false"}
"""


@pytest.fixture
async def proxy(start_proxy, fake_openai):
    yield await start_proxy(_config(fake_openai, websockets=False))
    fake_openai.compact_answers = []


@pytest.fixture
async def ws_proxy(start_proxy, fake_openai):
    yield await start_proxy(_config(fake_openai, websockets=True))
    fake_openai.compact_answers = []


def _client(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


async def _cooling(proxy: Any) -> list[str]:
    return [c.api_key for c in proxy.service.pool.credentials() if await proxy.service.pool.cooldowns(c)]


# ---- HTTP


async def test_trigger_streams_the_compact_answer(proxy, fake_openai) -> None:
    """TestXAIExecutorExecuteStreamCompactionTriggerUsesCompactEndpoint: the streamed request
    goes to ``/responses/compact`` as JSON (``Accept: application/json``), without the
    trigger or ``stream``; the client gets created, in_progress, the compaction item added
    and done, and completed with the model and the usage with its token details (xAI's
    usage has none). CPA's ``keepalive`` event between added and done carries nothing and
    is not sent."""
    async with _client(proxy) as client:
        stream = await client.responses.create(model="grok-4.3", input=HISTORY, stream=True)  # type: ignore[arg-type]
        events = [event async for event in stream]
    sent = fake_openai.last
    assert sent.path == "/v1/responses/compact"
    assert sent.headers["Accept"] == "application/json"
    assert "stream" not in sent.json
    assert [i.get("type") for i in sent.json["input"]] == ["message"]
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0].response.model == events[1].response.model == "grok-4.3"  # type: ignore[union-attr]
    item = events[3].item  # type: ignore[union-attr]
    assert item.type == "compaction" and item.encrypted_content  # type: ignore[union-attr]
    done = events[-1].response  # type: ignore[union-attr]
    assert [o.type for o in done.output] == ["compaction"]
    assert done.output[0].encrypted_content == item.encrypted_content  # type: ignore[union-attr]
    usage = done.usage
    assert usage is not None and usage.output_tokens == 1
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert await _cooling(proxy) == []


async def test_a_valid_compaction_answer_keeps_its_id_and_state(proxy, fake_openai) -> None:
    """TestValidateXAIWebsocketCompactionResponse (the valid case): the response is the
    answer's id, the item its compacted state (an item without ``id`` gets ``cmp_<id>``)."""
    fake_openai.compact_answers = [
        {"id": "resp_compact", "output": [{"type": "compaction", "encrypted_content": "opaque-state"}]}
    ]
    async with _client(proxy) as client:
        stream = await client.responses.create(model="grok-4.3", input=HISTORY, stream=True)  # type: ignore[arg-type]
        events = [event async for event in stream]
    done = events[-1].response  # type: ignore[union-attr]
    assert done.id == "resp_compact"
    assert done.output[0].encrypted_content == "opaque-state"  # type: ignore[union-attr]
    assert done.output[0].id == "cmp_compact"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {},
        {"id": "resp_empty", "output": []},
        {"id": 123, "output": [{"type": "compaction", "encrypted_content": "opaque"}]},
        {"id": "resp_object", "output": {"0": {"type": "compaction", "encrypted_content": "opaque"}}},
        {"id": "resp_numeric_state", "output": [{"type": "compaction", "encrypted_content": 123}]},
        {"id": "resp_missing_state", "output": [{"type": "compaction"}]},
    ],
    ids=["null", "empty", "no-output", "numeric-id", "object-output", "numeric-state", "no-state"],
)
async def test_an_answer_without_compacted_state_is_a_502(proxy, fake_openai, answer) -> None:
    """TestValidateXAIWebsocketCompactionResponse (the invalid cases), over HTTP too: CPA
    checks the answer only on its socket path and over HTTP would stream a compaction item
    with no state, which the client would take as its whole history; here every such answer
    is a 502 before any event, and the account is not cooled for it."""
    fake_openai.compact_answers = [answer]
    async with _client(proxy) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.responses.create(model="grok-4.3", input=HISTORY, stream=True)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    assert "compact" in str(caught.value.message)
    assert await _cooling(proxy) == []


# ---- the Responses WebSocket


async def _turn(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> list[dict[str, Any]]:
    await ws.send_str(json.dumps(message))
    events = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
        events.append(json.loads(msg.data))
        if events[-1]["type"] in TERMINAL:
            return events


def _socket_messages(fake: Any) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.method == "WS"]


@pytest.mark.parametrize("follow", ["previous_response_id", "append"])
async def test_websocket_trigger_compacts_the_recorded_conversation(ws_proxy, fake_openai, follow) -> None:
    """TestXAIWebsocketsExecuteStreamCompactionTriggerUsesHTTPCompactWithRecordedContext and
    TestXAIWebsocketPostCompactionAppendWithoutPreviousReplaysCompactedTranscript: the first
    turn goes over xAI's socket; the trigger, sent with ``previous_response_id`` alone, is
    compacted over HTTP with the conversation the socket recorded (the first input and its
    output, no ``previous_response_id``); the next turn, by ``previous_response_id`` or by
    ``response.append``, goes over the socket as the compaction plus the new message only,
    not compacted again."""
    start = len(_socket_messages(fake_openai))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(ws_proxy.url + "/v1/responses", headers=headers) as ws,
    ):
        first = await _turn(
            ws,
            {
                "type": "response.create",
                "model": "grok-4.3",
                "input": [{"type": "message", "id": "msg-1", "role": "user", "content": "first"}],
            },
        )
        assert first[-1]["type"] == "response.completed", first[-1]
        answered = [o["id"] for o in first[-1]["response"]["output"]]
        sent = _socket_messages(fake_openai)[start:]
        assert len(sent) == 1 and sent[0]["type"] == "response.create"
        assert [i["id"] for i in sent[0]["input"]] == ["msg-1"]
        assert "stream" not in sent[0]

        compacted = await _turn(
            ws,
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [{"type": "compaction_trigger"}],
            },
        )
        assert compacted[-1]["type"] == "response.completed", compacted[-1]
        compact = fake_openai.last
        assert compact.path == "/v1/responses/compact"
        assert [i.get("id") for i in compact.json["input"]] == ["msg-1", *answered]
        assert "previous_response_id" not in compact.json
        item = compacted[-1]["response"]["output"][0]
        assert item["type"] == "compaction"

        second = {"type": "message", "id": "msg-2", "role": "user", "content": "second"}
        message: dict[str, Any] = {"type": "response.append", "input": [second]}
        if follow == "previous_response_id":
            message = {
                "type": "response.create",
                "previous_response_id": compacted[-1]["response"]["id"],
                "input": [second],
            }
        after = await _turn(ws, message)
    assert after[-1]["type"] == "response.completed", after[-1]
    sent = _socket_messages(fake_openai)[start:]
    assert len(sent) == 2
    last = sent[-1]
    assert "previous_response_id" not in last
    assert [i.get("type") for i in last["input"]] == ["compaction", "message"]
    assert last["input"][0]["encrypted_content"] == item["encrypted_content"]
    assert last["input"][1]["id"] == "msg-2"
