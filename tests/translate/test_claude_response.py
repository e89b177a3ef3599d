"""Whole Claude responses and count_tokens, checked against the official anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx2
import orjson

from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER

NATIVE = {
    "id": "msg_01ABC",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "See", "citations": [{"type": "char_location", "cited_text": "x"}]},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, 2]}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30,
        "output_tokens": 40,
    },
    "container": {"id": "c1", "expires_at": "2030-01-01T00:00:00Z"},
}


def test_native_response_round_trip():
    resp = ADAPTER.parse_response(NATIVE)
    assert resp.usage == ir.Usage(
        input_tokens=60, output_tokens=40, cache_read_tokens=30, cache_write_tokens=20
    )
    assert resp.stop_reason == "tool_use"
    assert isinstance(resp.content[-1], ir.ToolCall) and orjson.loads(resp.content[-1].arguments) == {
        "a": [1, 2]
    }
    assert ADAPTER.build_response(resp) == NATIVE


def test_unmapped_stop_reason_is_kept():
    body = NATIVE | {
        "stop_reason": "model_context_window_exceeded",
        "content": [{"type": "text", "text": "x"}],
    }
    resp = ADAPTER.parse_response(body)
    assert resp.stop_reason == "max_tokens" and resp.extras["stop_raw"] == "model_context_window_exceeded"
    assert ADAPTER.build_response(resp) == body


def foreign_response() -> ir.Response:
    return ir.Response(
        id="chatcmpl-9",
        model="claude-sonnet-4-6",
        source="openai",
        stop_reason="end_turn",
        content=[
            ir.Thinking("reasoned", family="openai", signature="enc"),
            ir.Text("Hello"),
            ir.ToolCall("call:1", "get_weather", '{"city": "Paris"}'),
            ir.ToolCall("call_2", "get_time", "{broken"),
            ir.ServerTool("openai", {"type": "web_search_call"}),
        ],
        usage=ir.Usage(input_tokens=100, output_tokens=20, cache_read_tokens=60, reasoning_tokens=5),
    )


def test_foreign_response_build():
    body = ADAPTER.build_response(foreign_response())
    assert body["content"] == [
        # Codex's encrypted reasoning, carried by the client back to Codex (CPA)
        {"type": "thinking", "thinking": "reasoned", "signature": "enc"},
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {
        "input_tokens": 40,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 60,
        "output_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 5},
    }


def client_for(payload: dict) -> anthropic.AsyncAnthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, content=orjson.dumps(payload), headers={"content-type": "application/json"}
        )

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return anthropic.AsyncAnthropic(
        api_key="k", base_url="http://upstream.test", http_client=http, max_retries=0
    )


async def test_sdk_parses_built_response():
    client = client_for(ADAPTER.build_response(foreign_response()))
    async with client:
        msg = await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]
        )
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert msg.content[2].input == {"city": "Paris"} and msg.stop_reason == "tool_use"
    assert msg.usage.cache_read_input_tokens == 60 and msg.usage.input_tokens == 40
    assert msg.usage.output_tokens_details.thinking_tokens == 5


async def test_sdk_parses_native_response_and_count_tokens():
    client = client_for(ADAPTER.build_response(ADAPTER.parse_response(NATIVE)))
    async with client:
        msg = await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]
        )
    assert msg.content[0].signature == "sig" and msg.content[1].data == "opaque"
    assert msg.container.id == "c1"
    client = client_for(ADAPTER.count_tokens_response(1234))
    async with client:
        count = await client.messages.count_tokens(model="m", messages=[{"role": "user", "content": "foo"}])
    assert count.input_tokens == 1234
