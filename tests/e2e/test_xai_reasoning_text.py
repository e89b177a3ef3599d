"""xAI streams Grok's reasoning as raw reasoning text (``response.reasoning_text.*``
events, reasoning items whose ``content`` holds ``reasoning_text`` parts), where OpenAI's
Responses API gives summaries. CPA rewrites them into summary events and items
(``xaiNormalizeReasoningSummaryData``) so that a Responses client (Codex CLI shows only
summaries) sees Grok's reasoning. Here no rewrite is needed: the Responses decoder reads
``reasoning_text`` as thinking and each client's encoder writes its own reasoning shape,
so these tests pin what every client gets, over HTTP and over xAI's WebSocket.

Clients are the official ``openai`` and ``anthropic`` SDKs and aiohttp for the Responses
WebSocket; the fake OpenAI server plays xAI's raw stream (``raw_streams``, ``ws_frames``).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn

MODEL = "grok-4.3"
_ITEM = {"id": "rs_1", "type": "reasoning", "status": "in_progress", "summary": []}
_AT = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
_DONE_ITEM = {**_ITEM, "status": "completed", "content": [{"type": "reasoning_text", "text": "thinking"}]}
_COMPLETED = {
    "type": "response.completed",
    "response": {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": MODEL,
        "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    },
}
# CPA's stream: reasoning_text events, the item with reasoning_text content, output left out
EVENTS: list[dict[str, Any]] = [
    {"type": "response.output_item.added", "output_index": 0, "item": _ITEM},
    {"type": "response.content_part.added", **_AT, "part": {"type": "reasoning_text", "text": ""}},
    {"type": "response.reasoning_text.delta", **_AT, "delta": "thinking"},
    {"type": "response.reasoning_text.done", **_AT, "text": "thinking"},
    {"type": "response.output_item.done", "output_index": 0, "item": _DONE_ITEM},
    _COMPLETED,
]
# CPA's non-stream case: only the finished item and the bare completion
WHOLE_EVENTS = [EVENTS[4], _COMPLETED]


def sse(events: list[dict[str, Any]]) -> bytes:
    out = b""
    for n, event in enumerate(events, 1):
        body = {**event, "sequence_number": n}
        out += b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"
    return out


def config(fake: Any, websockets: bool = False) -> str:
    text = f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake.base_url}/v1"\n'
    return text + ("    websockets: true\n" if websockets else "")


@pytest.fixture
async def proxy(start_proxy: Any, fake_openai: Any) -> Any:
    p = await start_proxy(config(fake_openai))
    p.fake = fake_openai
    yield p
    fake_openai.raw_streams = []


def check_summary_events(kinds: list[str], events: list[dict[str, Any]]) -> None:
    for kind in ("part.added", "text.delta", "text.done", "part.done"):
        assert f"response.reasoning_summary_{kind}" in kinds
    assert kinds.index("response.reasoning_summary_text.done") < kinds.index(
        "response.reasoning_summary_part.done"
    )
    part_done = next(e for e in events if e["type"] == "response.reasoning_summary_part.done")
    assert part_done["part"] == {"type": "summary_text", "text": "thinking"}
    assert part_done["summary_index"] == 0 and "content_index" not in part_done
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["summary"] == [{"type": "summary_text", "text": "thinking"}]
    assert done["item"].get("content") is None  # the SDK fills unset fields with None


async def test_responses_client_whole_gets_a_summary(proxy: Any) -> None:
    """CPA TestXAIExecutorExecuteNormalizesReasoningOutputForNonStreamTranslation: the
    whole answer's reasoning item has the text as a summary and no content."""
    proxy.fake.raw_streams = [sse(WHOLE_EVENTS)]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.responses.with_raw_response.create(model=MODEL, input="hello")
    assert b"reasoning_text" not in raw.content
    item = orjson.loads(raw.content)["output"][0]
    assert item["summary"] == [{"type": "summary_text", "text": "thinking"}]
    assert "content" not in item


async def test_responses_client_stream_gets_summary_events(proxy: Any) -> None:
    """CPA TestXAIExecutorExecuteStreamNormalizesReasoningTextEvents, read with the SDK:
    summary part and text events, the text's done before the part's, summary_index 0."""
    proxy.fake.raw_streams = [sse(EVENTS)]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.responses.create(model=MODEL, input="hello", stream=True)
        events = [e.model_dump() async for e in stream]
    assert "reasoning_text" not in orjson.dumps(events).decode()
    check_summary_events([e["type"] for e in events], events)
    final = events[-1]["response"]
    assert final["output"][0]["summary"] == [{"type": "summary_text", "text": "thinking"}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_and_claude_clients_get_the_reasoning(proxy: Any, stream: bool) -> None:
    """The same raw reasoning reaches a Chat client as ``reasoning_content`` and a Claude
    client as a thinking block."""
    proxy.fake.raw_streams = [sse(EVENTS), sse(EVENTS)]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        messages: Any = [{"role": "user", "content": "hello"}]
        if stream:
            chunks = await client.chat.completions.create(model=MODEL, messages=messages, stream=True)
            deltas = [c.choices[0].delta.model_dump() async for c in chunks if c.choices]
            reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
        else:
            done = await client.chat.completions.create(model=MODEL, messages=messages)
            reasoning = done.choices[0].message.model_dump()["reasoning_content"]
    assert reasoning == "thinking"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        kwargs: Any = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": "hello"}]}
        if stream:
            async with claude.messages.stream(**kwargs) as s:
                message = await s.get_final_message()
        else:
            message = await claude.messages.create(**kwargs)
    assert [(b.type, getattr(b, "thinking", None)) for b in message.content] == [("thinking", "thinking")]


async def test_websocket_client_over_xai_websocket_gets_summary_events(
    start_proxy: Any, fake_openai: Any
) -> None:
    """CPA TestXAIWebsocketsExecuteStreamNormalizesReasoningTextEvents: a Responses
    WebSocket client on a ``websockets: true`` key, xAI answering over its socket."""
    proxy = await start_proxy(config(fake_openai, websockets=True))
    fake_openai.ws_frames = [
        orjson.dumps({**e, "sequence_number": n}).decode() for n, e in enumerate(EVENTS, 1)
    ]
    try:
        async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
            events = await turn(ws, {"type": "response.create", "model": MODEL, "input": "hello"})
    finally:
        fake_openai.ws_frames = []
    assert [r.method for r in fake_openai.requests if r.method != "GET"] == ["WS"]  # over xAI's socket
    assert "reasoning_text" not in orjson.dumps(events).decode()
    check_summary_events([e["type"] for e in events], events)
