"""xAI over the Responses WebSocket: CPA's ``xai_websockets_executor_test.go`` cases on
what goes over xAI's socket and what the client gets back, through a running proxy (an
aiohttp client on its socket) against the fake xAI socket answering scripted events."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY

TERMINAL = ("response.completed", "response.failed", "response.incomplete", "error")
USAGE = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}


@pytest.fixture
async def proxy(start_proxy, fake_openai):
    config = f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
    websockets: true
"""
    proxy = await start_proxy(config)
    yield proxy
    fake_openai.ws_frames = []


class Socket:
    """The client's socket on the proxy: one turn at a time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def turn(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        await self.ws.send_str(json.dumps(message))
        events = []
        while True:
            msg = await self.ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, self.ws.close_code)
            events.append(json.loads(msg.data))
            if events[-1]["type"] in TERMINAL:
                return events


async def _open(proxy: Any, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    headers = {"Authorization": f"Bearer {KEY}"}
    return await session.ws_connect(proxy.url + "/v1/responses", headers=headers)


def _sent(fake: Any, start: int = 0) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.method == "WS"][start:]


def _frames(*events: dict[str, Any]) -> list[str]:
    return [orjson.dumps(e).decode() for e in events]


def _created(rid: str) -> dict[str, Any]:
    return {
        "type": "response.created",
        "response": {"id": rid, "object": "response", "status": "in_progress"},
    }


def _completed(rid: str, output: list[Any]) -> dict[str, Any]:
    response = {"id": rid, "object": "response", "status": "completed", "output": output, "usage": USAGE}
    return {"type": "response.completed", "response": response}


def _message_item(item_id: str, text: str = "ok") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text}]
    return {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": content}


def _item_done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


# ---- what goes over xAI's socket


async def test_socket_message_leaves_out_stream_and_keeps_the_cache_key(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamSendsResponseCreateWithPreviousResponseID and
    TestBuildXAIWebsocketRequestBodySetsStoreAndKeepsPromptCacheKey: the turn is one
    ``response.create`` without ``stream``, ``stream_options`` or ``background``, the session's
    ``prompt_cache_key`` and ``x-grok-conv-id`` (the client socket's id), the bearer token.

    Deliberate differences (CPA TestResponsesWebsocketXAIWebsocketPassthroughKeepsNativeIncrementalRequest,
    TestResponsesWebsocketUsesUpstreamWebsocketPassthroughForXAI,
    TestWebsocketUpstreamSupportsIncrementalInputForXAI): a follow-up naming ``previous_response_id`` goes to xAI as the
    whole conversation (with its ``instructions``), never as ``previous_response_id`` (a
    kept socket that holds the conversation is not needed, and any credential can take the
    turn); so ``store`` stays what the client sent (Codex sends ``false``): nothing needs
    xAI to keep the responses, where CPA forces ``true`` for its id continuation."""
    start = len(_sent(fake_openai))
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        sock = Socket(ws)
        first = await sock.turn(
            {
                "type": "response.create",
                "model": "grok-4.3",
                "store": False,
                "background": True,
                "stream_options": {"include_usage": True},
                "instructions": "system prompt",
                "input": [{"type": "message", "role": "user", "content": "hello"}],
            }
        )
        assert first[-1]["type"] == "response.completed", first[-1]
        second = await sock.turn(
            {
                "type": "response.create",
                "previous_response_id": first[-1]["response"]["id"],
                "input": [{"type": "message", "role": "user", "content": "again"}],
            }
        )
        assert second[-1]["type"] == "response.completed", second[-1]
    records = [r for r in fake_openai.requests if r.method == "WS"][start:]
    assert len(records) == 2
    for record in records:
        body = record.json
        assert body["type"] == "response.create"
        for name in ("stream", "stream_options", "background", "previous_response_id"):
            assert name not in body, name
        assert body["store"] is False
        assert body["instructions"] == "system prompt"
        key = body["prompt_cache_key"]
        assert key and record.headers["x-grok-conv-id"] == key
        assert record.headers["Authorization"] == "Bearer xai-1"
    assert records[0].json["prompt_cache_key"] == records[1].json["prompt_cache_key"]
    texts = [i["content"] for i in records[1].json["input"] if i.get("role") == "user"]
    assert texts == ["hello", "again"]


# ---- the answer's repairs over the socket


async def test_namespace_tool_calls_come_back_with_their_namespace(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamRestoresNamespaceToolCalls: ``additional_tools`` is not
    sent, the namespaced tool goes flat (``mcp__exa__web_search_exa``); its call comes back
    as ``web_search_exa`` in namespace ``mcp__exa``, in the item and in the completed output
    (filled from the items when xAI leaves it empty)."""
    call = {
        "type": "function_call",
        "name": "mcp__exa__web_search_exa",
        "call_id": "call_1",
        "arguments": "{}",
    }
    fake_openai.ws_frames = _frames(_item_done(0, call), _completed("resp_1", []))
    start = len(_sent(fake_openai))
    namespace = {
        "type": "namespace",
        "name": "mcp__exa",
        "tools": [{"type": "function", "name": "web_search_exa", "parameters": {"type": "object"}}],
    }
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        events = await Socket(ws).turn(
            {
                "type": "response.create",
                "model": "grok-4.3",
                "input": [
                    {"type": "additional_tools", "role": "developer", "tools": [namespace]},
                    {"role": "user", "content": "use Exa"},
                ],
            }
        )
    body = _sent(fake_openai, start)[0]
    assert all(i.get("type") != "additional_tools" for i in body["input"])
    assert body["input"][0]["role"] == "user"
    assert body["tools"][0]["name"] == "mcp__exa__web_search_exa" and "tools" not in body["tools"][0]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    completed = events[-1]
    assert completed["type"] == "response.completed", completed
    for item in (done[0], completed["response"]["output"][0]):
        assert (item["name"], item["namespace"]) == ("web_search_exa", "mcp__exa"), item


X_SEARCH_TRACE = {
    "id": "ctc_1",
    "type": "custom_tool_call",
    "call_id": "xs_call-1",
    "name": "x_keyword_search",
    "input": "{}",
    "status": "completed",
}


async def test_x_search_traces_hidden_client_same_name_tools_kept(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamPreservesClientSameNameToolsWithXSearch: X Search's own
    ``x_keyword_search`` trace never reaches the client; the client's plain and namespaced
    tools of that name keep their calls, in the stream and in the completed output."""
    namespaced = {
        "id": "fc_ns",
        "type": "function_call",
        "call_id": "call_ns",
        "name": "acme__x_keyword_search",
        "arguments": "{}",
        "status": "completed",
    }
    plain = {
        "id": "fc_plain",
        "type": "function_call",
        "call_id": "call_plain",
        "name": "x_keyword_search",
        "arguments": "{}",
        "status": "completed",
    }
    answer = _message_item("msg_1", "answer")
    fake_openai.ws_frames = _frames(
        _item_done(0, X_SEARCH_TRACE),
        _item_done(1, namespaced),
        _item_done(2, plain),
        _item_done(3, answer),
        _completed("resp_1", [X_SEARCH_TRACE, namespaced, plain, answer]),
    )
    fn = {"type": "function", "name": "x_keyword_search", "parameters": {"type": "object"}}
    tools = [{"type": "x_search"}, fn, {"type": "namespace", "name": "acme", "tools": [fn]}]
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        events = await Socket(ws).turn(
            {"type": "response.create", "model": "grok-4.5", "input": "search X", "tools": tools}
        )
    raw = json.dumps(events)
    assert "xs_call" not in raw and "custom_tool_call" not in raw
    calls = [
        (e["item"].get("namespace"), e["item"]["call_id"])
        for e in events
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"
    ]
    assert sorted(calls, key=str) == sorted([("acme", "call_ns"), (None, "call_plain")], key=str)
    output = events[-1]["response"]["output"]
    assert len(output) == 3
    kept = {(o.get("namespace"), o["call_id"]) for o in output if o["type"] == "function_call"}
    assert kept == {("acme", "call_ns"), (None, "call_plain")}


async def test_x_search_trace_hidden_client_custom_tool_kept(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamPreservesNormalizedCustomSameNameToolWithXSearch: the
    client's custom ``x_keyword_search`` goes to xAI as a function tool; X Search's trace of
    that name is hidden, the client's own call (``call_custom``) kept."""
    client_call = {
        "id": "fc_custom",
        "type": "function_call",
        "call_id": "call_custom",
        "name": "x_keyword_search",
        "arguments": "{}",
        "status": "completed",
    }
    answer = _message_item("msg_1", "answer")
    fake_openai.ws_frames = _frames(
        _item_done(0, X_SEARCH_TRACE),
        _item_done(1, client_call),
        _item_done(2, answer),
        _completed("resp_1", [X_SEARCH_TRACE, client_call, answer]),
    )
    start = len(_sent(fake_openai))
    tools = [{"type": "x_search"}, {"type": "custom", "name": "x_keyword_search"}]
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        events = await Socket(ws).turn(
            {"type": "response.create", "model": "grok-4.5", "input": "search X", "tools": tools}
        )
    sent_tools = _sent(fake_openai, start)[0]["tools"]
    assert {"function"} == {t["type"] for t in sent_tools if t.get("name") == "x_keyword_search"}
    assert "xs_call" not in json.dumps(events)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["call_id"]) for i in done if "call_id" in i] == [("function_call", "call_custom")]
    output = events[-1]["response"]["output"]
    assert len(output) == 2
    assert (output[0]["type"], output[0].get("call_id")) == ("function_call", "call_custom")


async def test_generate_false_warmup_is_answered_by_the_proxy(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamCompletesGenerateFalseWarmup, a deliberate difference:
    CPA sends the warm-up to xAI's socket (``store: true``), which answers only
    ``response.created``, and completes it itself. Here the proxy answers it (created and
    completed, no usage) and xAI sees nothing: the next turn carries the whole prompt anyway
    (nothing continues from a warm-up upstream), a warm-up costs no upstream call or
    socket, and no turn can wait on an upstream that never ends it. The warm-up's input
    stays in the conversation."""
    start = len(_sent(fake_openai))
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        sock = Socket(ws)
        warm = await sock.turn(
            {
                "type": "response.create",
                "model": "grok-4.3",
                "generate": False,
                "input": [{"type": "message", "role": "user", "content": "warm up"}],
            }
        )
        assert [e["type"] for e in warm] == ["response.created", "response.completed"]
        assert _sent(fake_openai, start) == []
        real = await sock.turn({"type": "response.append", "input": [{"role": "user", "content": "now"}]})
    assert real[-1]["type"] == "response.completed", real[-1]
    sent = _sent(fake_openai, start)
    assert len(sent) == 1 and "generate" not in sent[0]
    assert [i["content"] for i in sent[0]["input"]] == ["warm up", "now"]


# ---- response ids xAI repeats


async def test_a_repeated_response_id_gets_a_fresh_one(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamRewritesRepeatedResponseIDForDownstream: xAI answers
    every turn of the socket as ``resp-real``; the client gets ``resp-real`` first, then a
    new id each turn, written into the output items' ids too, and naming it as
    ``previous_response_id`` continues the conversation. (CPA maps the id back to send
    ``previous_response_id: resp-real`` upstream; here the whole conversation goes.)"""
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        sock = Socket(ws)
        seen = []
        previous = ""
        for n in range(3):
            fake_openai.ws_frames = _frames(
                _created("resp-real"),
                _item_done(0, _message_item("msg_resp-real", f"answer {n}")),
                _completed("resp-real", [_message_item("msg_resp-real", f"answer {n}")]),
            )
            message: dict[str, Any] = {
                "type": "response.create",
                "model": "grok-4.3",
                "input": [{"type": "message", "role": "user", "content": f"turn {n}"}],
            }
            if previous:
                message["previous_response_id"] = previous
            events = await sock.turn(message)
            completed = events[-1]
            assert completed["type"] == "response.completed", completed
            assert events[0]["response"]["id"] == completed["response"]["id"]
            previous = completed["response"]["id"]
            seen.append((previous, completed["response"]["output"][0]["id"]))
    _distinct(seen)
    last = _sent(fake_openai)[-1]
    assert "previous_response_id" not in last
    texts = [i["content"] for i in last["input"] if i.get("role") == "user"]
    assert texts == ["turn 0", "turn 1", "turn 2"]
    # both earlier answers are in the transcript (items sharing an id would be merged)
    assert len([i for i in last["input"] if i.get("role") == "assistant"]) == 2


def _distinct(seen: list[tuple[str, str]]) -> None:
    """Each turn's response id and output item id are the client's own: the first turn keeps
    xAI's (as the translated stream writes it: ``resp_resp-real``, ``msg_resp-real001``), each
    later one has a new response id, embedded in its item's id."""
    assert "resp-real" in seen[0][0] and "resp-real" in seen[0][1]
    assert len({rid for rid, _ in seen}) == len({item for _, item in seen}) == len(seen)
    for rid, item_id in seen:
        assert rid.removeprefix("resp_") in item_id


async def test_a_repeated_response_id_without_previous_response_id(proxy, fake_openai) -> None:
    """TestXAIWebsocketsExecuteStreamRewritesRepeatedResponseIDWithoutPreviousResponseID: the
    same without ``previous_response_id``: the second turn's id is new all the same."""
    async with aiohttp.ClientSession() as s, await _open(proxy, s) as ws:
        sock = Socket(ws)
        seen = []
        for content in ("first", "second"):
            fake_openai.ws_frames = _frames(
                _created("resp-real"),
                _item_done(0, _message_item("msg_resp-real")),
                _completed("resp-real", [_message_item("msg_resp-real")]),
            )
            message = {
                "type": "response.create",
                "model": "grok-4.3",
                "input": [{"role": "user", "content": content}],
            }
            completed = (await sock.turn(message))[-1]
            seen.append((completed["response"]["id"], completed["response"]["output"][0]["id"]))
    _distinct(seen)
