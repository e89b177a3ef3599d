"""CPA's fourth Claude Code sentinel (test/claude_code_compatibility_sentinel_test.go,
TestClaudeCodeSentinel_ControlRequestCanUseToolShape), through a running proxy.

``control_request`` / ``can_use_tool`` is the message Claude Code's stream-json protocol
sends when a tool needs the user's permission. CPA only checks its literal fixture; as for
the other three sentinels (tests/e2e/test_claude_code_sentinels.py), here it is an event a
Claude upstream adds mid-stream, and the facts CPA asserts are checked on what a Claude
client received: ``type``, a ``request_id``, and a ``request`` with subtype
``can_use_tool``, a ``tool_name``, a ``tool_use_id`` and a non-empty ``input``. The answer
around it stays whole; a Chat Completions client of the same upstream gets the answer only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE, claude_event, claude_start

CONTROL_REQUEST = {
    "type": "control_request",
    "request_id": "req_123",
    "request": {
        "subtype": "can_use_tool",
        "tool_name": "Bash",
        "input": {"command": "npm test"},
        "tool_use_id": "toolu_123",
        "description": "Running npm test",
    },
}


def _delta(text: str) -> bytes:
    return claude_event("content_block_delta", index=0, delta={"type": "text_delta", "text": text})


CHUNKS = [
    claude_start(3),
    _delta("Hello"),
    b"event: control_request\ndata: " + orjson.dumps(CONTROL_REQUEST) + b"\n\n",
    _delta(" more")
    + claude_event("content_block_stop", index=0)
    + claude_event(
        "message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None}, usage={"output_tokens": 2}
    )
    + claude_event("message_stop"),
]


@pytest.fixture
async def proxy(start_proxy: Any) -> AsyncIterator[Any]:
    async with RawSSE() as upstream:
        upstream.chunks = CHUNKS
        yield await start_proxy(
            f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "k-claude"\n    base-url: "{upstream.url}"\n'
            '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
        )


def _events(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in lines:
            data = orjson.loads(lines[b"data"])
            assert lines.get(b"event", b"").decode() == data["type"]
            out.append(data)
    return out


def _nonempty_string(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    assert isinstance(value, str) and value, key
    return value


async def test_control_request_reaches_a_claude_client_as_sent(proxy: Any) -> None:
    """CPA: TestClaudeCodeSentinel_ControlRequestCanUseToolShape"""
    async with (
        anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client,
        client.messages.with_streaming_response.create(
            model="claude-model", max_tokens=16, stream=True, messages=[{"role": "user", "content": "hi"}]
        ) as resp,
    ):
        raw = await resp.read()
    events = _events(raw)
    got = [e for e in events if e["type"] == "control_request"]
    assert got == [CONTROL_REQUEST]
    control = got[0]
    _nonempty_string(control, "request_id")
    request = control["request"]
    assert _nonempty_string(request, "subtype") == "can_use_tool"
    _nonempty_string(request, "tool_name")
    _nonempty_string(request, "tool_use_id")
    assert isinstance(request["input"], dict) and request["input"]
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert texts == ["Hello", " more"] and events[-1] == {"type": "message_stop"}


async def test_a_chat_client_gets_the_answer_without_the_control_request(proxy: Any) -> None:
    """CPA: TestClaudeCodeSentinel_ControlRequestCanUseToolShape (the translated side)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="claude-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello more"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
