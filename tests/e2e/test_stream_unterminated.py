"""A pass-through stream whose upstream ends its body cleanly but before the answer's
terminal event (a Chat Completions stream with no finish_reason and no ``[DONE]``, a
Claude stream with no ``message_stop``), through a running proxy with the official SDKs
against :class:`~tests.fakes.raw_sse.RawSSE`.

The translated paths already end such a stream with an in-format error (their decoders:
"upstream stream ended before a finish_reason" / "... before message_stop"), and a
Responses pass-through does too (CPA: a stream closed before its terminal event is a
failure, never a 200 that stops mid-answer). A Chat or Claude client of its own format's
upstream now gets the same error after the text it had, instead of a stream that just
stops and reads as complete. The credential is not cooled, as on the translated path: a
cut connection says nothing about the key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE, claude_event, claude_start

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _chat(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


CHAT_HEAD = [_chat({"role": "assistant", "content": ""}), _chat({"content": "Hello"})]
CLAUDE_HEAD = [
    claude_start(3),
    claude_event("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hello"}),
]


@pytest.fixture
async def upstream() -> AsyncIterator[RawSSE]:
    async with RawSSE() as server:
        yield server


@pytest.fixture
async def proxy(start_proxy: Any, upstream: RawSSE) -> Any:
    url = upstream.url
    return await start_proxy(
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n    base-url: "{url}/v1"\n'
        '    api-key-entries: [{api-key: "k-chat"}]\n    models: [{name: "up-model", alias: "chat-model"}]\n'
        f'claude-api-key:\n  - api-key: "k-claude"\n    base-url: "{url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
    )


async def _cooled(proxy: Any) -> list[str]:
    pool = proxy.service.pool
    return [c.api_key for c in pool.credentials() if await pool.cooldowns(c)]


async def _chat_stream(proxy: Any, **extra: Any) -> tuple[str, Exception | None]:
    text = ""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as oai:
        try:
            stream = await oai.chat.completions.create(
                model="chat-model", messages=MESSAGES, stream=True, **extra
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
        except openai.APIError as exc:
            return text, exc
    return text, None


@pytest.mark.parametrize("usage", [False, True], ids=["plain", "usage-asked"])
async def test_chat_stream_cut_before_its_finish_ends_with_an_error(proxy, upstream, usage: bool) -> None:
    """The upstream sends the role and some text, then ends its body: the openai SDK gets
    the text, then raises with the proxy's error. Before, the stream just stopped (no
    finish_reason, no [DONE], no error) and read as a whole answer."""
    upstream.chunks = CHAT_HEAD
    extra = {"stream_options": {"include_usage": True}} if usage else {}
    text, err = await _chat_stream(proxy, **extra)
    assert text == "Hello" and isinstance(err, openai.APIError), (text, err)
    assert "ended before a finish_reason" in str(err)
    assert await _cooled(proxy) == []


async def test_chat_stream_with_its_finish_but_no_done_gets_the_done(proxy, upstream) -> None:
    """The upstream says its finish_reason, then ends its body without ``data: [DONE]``:
    the answer is whole, so no error; the client's stream ends with the ``[DONE]`` CPA's
    handler writes at every clean end."""
    upstream.chunks = [*CHAT_HEAD, _chat({}, "stop")]
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "chat-model", "stream": True, "messages": MESSAGES}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s,
        s.post(proxy.url + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        data = await r.read()
    assert r.status == 200 and data.endswith(b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'), data[-200:]
    assert b'"error"' not in data
    assert (await _chat_stream(proxy)) == ("Hello", None)


@pytest.mark.parametrize(
    "tail", [[], [claude_event("content_block_stop", index=0)]], ids=["mid-block", "after-block"]
)
async def test_claude_stream_cut_before_message_stop_ends_with_an_error(proxy, upstream, tail) -> None:
    """The same for a Claude client of a Claude upstream: the anthropic SDK gets the text,
    then its stream raises with the proxy's ``api_error`` event. Before, the stream just
    stopped without ``message_stop``."""
    upstream.chunks = [*CLAUDE_HEAD, *tail]
    text = ""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=10) as ant:
        with pytest.raises(anthropic.APIStatusError) as err:
            async with ant.messages.stream(model="claude-model", max_tokens=16, messages=MESSAGES) as s:
                async for piece in s.text_stream:
                    text += piece
    assert text == "Hello"
    assert "ended before message_stop" in str(err.value)
    assert await _cooled(proxy) == []


async def test_a_claude_keepalive_after_message_stop_is_no_cut(proxy, upstream) -> None:
    """``message_stop``, then an SSE comment (a keep-alive) in a read of its own, then the
    body's end: the answer is whole and the anthropic SDK reads it without an error. Before,
    only the last read was searched for the end event, so such a stream got the proxy's
    "ended before message_stop" error after a whole answer."""
    stop_reason = {"stop_reason": "end_turn", "stop_sequence": None}
    upstream.chunks = [
        *CLAUDE_HEAD,
        claude_event("content_block_stop", index=0),
        claude_event("message_delta", delta=stop_reason, usage={"output_tokens": 2}),
        claude_event("message_stop"),
        b": keepalive\n\n",
    ]
    text = ""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=10) as ant:
        async with ant.messages.stream(model="claude-model", max_tokens=16, messages=MESSAGES) as s:
            async for piece in s.text_stream:
                text += piece
    assert text == "Hello"


async def test_a_chat_usage_chunk_after_the_finish_is_no_cut(proxy, upstream) -> None:
    """The finish chunk, then a usage chunk whose choice says ``finish_reason: null`` (some
    OpenAI-compatible upstreams write it so), then the body's end without ``[DONE]``: the
    answer is whole, the client gets the ``[DONE]`` and no error. Before, the usage chunk
    alone was read for the finish and the stream got the "ended before a finish_reason" error."""
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "up-model",
             "choices": [{"index": 0, "delta": {}, "finish_reason": None}], "usage": usage}  # fmt: skip
    upstream.chunks = [*CHAT_HEAD, _chat({}, "stop"), b"data: " + orjson.dumps(chunk) + b"\n\n"]
    assert (await _chat_stream(proxy)) == ("Hello", None)
