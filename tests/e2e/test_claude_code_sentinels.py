"""CPA's Claude Code compatibility sentinels (test/claude_code_compatibility_sentinel_test.go),
through a running proxy.

CPA keeps literal fixtures of three messages of Claude Code's streaming protocol
(``tool_progress``, ``system`` / ``session_state_changed``, ``tool_use_summary``) and checks
their shape: "sentinels for future drift", with no CPA code run. Here the same fixtures are
events a Claude upstream adds to a stream (the kind of drift they guard against: event
types the proxy does not know). A Claude client gets each one as it was sent, with the
facts CPA asserts intact, and the answer around them whole; a client of another format
gets the answer, the unknown events left out. Difference on purpose: the facts are asserted
on what the proxy delivered, not on the literal alone, so the test can fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE

TOOL_PROGRESS = {
    "type": "tool_progress",
    "tool_use_id": "toolu_123",
    "tool_name": "Bash",
    "parent_tool_use_id": None,
    "elapsed_time_seconds": 2.5,
    "task_id": "task_123",
    "uuid": "11111111-1111-4111-8111-111111111111",
    "session_id": "sess_123",
}
SESSION_STATE = {
    "type": "system",
    "subtype": "session_state_changed",
    "state": "requires_action",
    "uuid": "22222222-2222-4222-8222-222222222222",
    "session_id": "sess_123",
}
TOOL_USE_SUMMARY = {
    "type": "tool_use_summary",
    "summary": "Searched in auth/",
    "preceding_tool_use_ids": ["toolu_1", "toolu_2"],
    "uuid": "33333333-3333-4333-8333-333333333333",
    "session_id": "sess_123",
}
SENTINELS = [TOOL_PROGRESS, SESSION_STATE, TOOL_USE_SUMMARY]


def _event(data: dict[str, Any]) -> bytes:
    return b"event: " + str(data["type"]).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _text(text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


HEAD = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    },
}
CHUNKS = [
    _event(HEAD)
    + _event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    _event(_text("Hello")),
    *(_event(s) for s in SENTINELS),
    _event(_text(" more"))
    + _event({"type": "content_block_stop", "index": 0})
    + _event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 2},
        }
    )
    + _event({"type": "message_stop"}),
]


@pytest.fixture
async def proxy(start_proxy: Any) -> AsyncIterator[tuple[Any, RawSSE]]:
    async with RawSSE() as upstream:
        upstream.chunks = CHUNKS
        proxy = await start_proxy(
            f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "k-claude"\n    base-url: "{upstream.url}"\n'
            '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
        )
        yield proxy, upstream


def _events(raw: bytes) -> list[dict[str, Any]]:
    """The ``data:`` payloads of an SSE stream, each with its ``event:`` name checked."""
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in lines:
            data = orjson.loads(lines[b"data"])
            assert lines.get(b"event", b"").decode() == data["type"]
            out.append(data)
    return out


def _strings(obj: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(obj.get(key), str) and obj[key], key


async def test_sentinel_events_reach_a_claude_client_as_sent(proxy: tuple[Any, RawSSE]) -> None:
    """CPA: TestClaudeCodeSentinel_ToolProgressShape, TestClaudeCodeSentinel_SessionStateShape,
    TestClaudeCodeSentinel_ToolUseSummaryShape"""
    server, _ = proxy
    async with (
        anthropic.AsyncAnthropic(base_url=server.url, api_key=KEY, max_retries=0) as client,
        client.messages.with_streaming_response.create(
            model="claude-model", max_tokens=16, stream=True, messages=[{"role": "user", "content": "hi"}]
        ) as resp,
    ):
        raw = await resp.read()
    events = _events(raw)
    got = [e for e in events if e["type"] in ("tool_progress", "system", "tool_use_summary")]
    assert got == SENTINELS
    progress, state, summary = got
    _strings(progress, "type", "tool_use_id", "tool_name", "session_id")
    assert isinstance(progress["elapsed_time_seconds"], float)
    _strings(state, "type", "subtype", "state", "session_id")
    assert state["subtype"] == "session_state_changed" and state["state"] in (
        "idle",
        "running",
        "requires_action",
    )
    _strings(summary, "type", "summary")
    ids = summary["preceding_tool_use_ids"]
    assert ids and all(isinstance(i, str) and i for i in ids)
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert texts == ["Hello", " more"] and events[-1] == {"type": "message_stop"}
    async with (
        anthropic.AsyncAnthropic(base_url=server.url, api_key=KEY, max_retries=0) as client,
        client.messages.stream(
            model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        final = await stream.get_final_message()
    assert final.content[0].text == "Hello more" and final.stop_reason == "end_turn"  # type: ignore[union-attr]


async def test_a_translated_stream_leaves_the_sentinels_out(proxy: tuple[Any, RawSSE]) -> None:
    """CPA: TestClaudeCodeSentinel_ToolProgressShape (the other side: a Chat Completions
    client of the same upstream gets the answer and no stray chunk)."""
    server, _ = proxy
    chunks = []
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="claude-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            chunks.append(chunk)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello more"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
