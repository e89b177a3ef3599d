"""Upstream SSE framing the full fakes cannot script, through a running proxy with the
official SDKs (the upstream is :class:`~tests.fakes.raw_sse.RawSSE`, which writes given
bytes as separate reads):

- an error event cut into two reads anywhere, even ahead of what names it
  (``data: {"err`` | ``or": ...``), after a pass-through answer began, still ends the
  client's stream in its own format and cools the key (``translate/late_errors.py``; the
  exhaustive cut at every byte is in tests/translate/test_late_errors.py);
- an event of several ``data:`` lines each holding a whole object
  (``data: {a}\\ndata: {b}``) loses neither: CPA's executors read an upstream's stream line
  by line (``bufio.Scanner``), so each line is a payload of its own
  (``formats.sse.SSEDecoder``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE, claude_event, claude_start

MESSAGES: Any = [{"role": "user", "content": "hi"}]
TROUBLE = "mid-stream trouble"


def _chat(text: str, finish: str | None = None) -> bytes:
    delta = {"content": text} if text else {}
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "up-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def _claude_text(text: str) -> bytes:
    return orjson.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    )


def _gemini(text: str, finish: str | None = None) -> bytes:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return orjson.dumps({"candidates": [cand], "modelVersion": "gemini-2.5-pro"})


CHAT_END = b"data: " + _chat("", "stop") + b"\n\ndata: [DONE]\n\n"
CLAUDE_HEAD = claude_start(3)
CLAUDE_END = (
    claude_event("content_block_stop", index=0)
    + claude_event(
        "message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None}, usage={"output_tokens": 2}
    )
    + claude_event("message_stop")
)
GEMINI_END = b"data: " + _gemini("", "STOP") + b"\r\n\r\n"

# the answer's start, an error event after it, what the upstream would send after that
ANSWERS = {
    "chat": b"data: " + _chat("Hello") + b"\n\n",
    "claude": CLAUDE_HEAD + b"event: content_block_delta\ndata: " + _claude_text("Hello") + b"\n\n",
    "gemini": b"data: " + _gemini("Hello") + b"\r\n\r\n",
}
ERRORS = {
    "chat": b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"choices":[],'
    b'"error":{"message":"' + TROUBLE.encode() + b'","type":"server_error","code":503}}\n\n',
    "claude": b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"'
    + TROUBLE.encode()
    + b'"}}\n\n',
    "gemini": b'data: {"error":{"code":503,"message":"'
    + TROUBLE.encode()
    + b'","status":"UNAVAILABLE"}}\r\n\r\n',
}
ENDS = {
    "chat": b"data: " + _chat(" more") + b"\n\n" + CHAT_END,
    "claude": b"event: content_block_delta\ndata: " + _claude_text(" more") + b"\n\n" + CLAUDE_END,
    "gemini": b"data: " + _gemini(" more") + b"\r\n\r\n" + GEMINI_END,
}
MODELS = {"chat": "chat-model", "claude": "claude-model", "gemini": "gem-model"}


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
        f'gemini-api-key:\n  - api-key: "k-gemini"\n    base-url: "{url}"\n'
        '    models: [{name: "gemini-2.5-pro", alias: "gem-model"}]\n'
    )


async def _stream(proxy: Any, client: str, model: str) -> tuple[str, Exception | None]:
    """A streamed answer's text through ``client``'s SDK, and the error that ended it."""
    text = ""
    try:
        if client == "chat":
            async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
                # (asking the usage: the proxy then relays the reads as they come, none held)
                stream = await oai.chat.completions.create(
                    model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        text += chunk.choices[0].delta.content
        elif client == "claude":
            async with (
                anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as ant,
                ant.messages.stream(model=model, max_tokens=16, messages=MESSAGES) as s,
            ):
                async for piece in s.text_stream:
                    text += piece
        else:
            options = gtypes.HttpOptions(
                base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
            )
            gem = genai.Client(api_key=KEY, http_options=options)
            try:
                async for chunk in await gem.aio.models.generate_content_stream(model=model, contents="hi"):
                    text += chunk.text or ""
            finally:
                await gem.aio.aclose()
    except (openai.APIError, anthropic.APIError, genai.errors.APIError) as exc:
        return text, exc
    return text, None


async def _cooled(proxy: Any) -> list[str]:
    """The API keys with a blocking cooldown record."""
    pool = proxy.service.pool
    return [c.api_key for c in pool.credentials() if await pool.cooldowns(c)]


def _cut(fmt: str, where: str) -> int:
    """An offset in ``ERRORS[fmt]``: inside the token that names the event an error (before
    it, the read names nothing yet), or inside its message."""
    error = ERRORS[fmt]
    if where == "name":
        return error.index(b"event: er") + 9 if fmt == "claude" else error.index(b'"error"') + 4
    return error.index(TROUBLE.encode()) + 5


@pytest.mark.parametrize("where", ["name", "message"])
@pytest.mark.parametrize("fmt", ["chat", "claude", "gemini"])
async def test_an_error_event_cut_anywhere_ends_the_pass_through(
    proxy, upstream, fmt: str, where: str
) -> None:
    """The upstream writes the answer's start, then its error event in two reads cut at
    ``where``, then more answer: the client (its format's SDK) gets the text so far, then
    an error with the upstream's message, nothing after it; the key cools. Before, a cut
    ahead of the event's name (``data: {"err`` | ``or":...``, ``event: er`` | ``ror``)
    let the event go out raw: a Chat or Gemini client took it for a chunk, and no key
    cooled."""
    cut = _cut(fmt, where)
    upstream.chunks = [ANSWERS[fmt], ERRORS[fmt][:cut], ERRORS[fmt][cut:], ENDS[fmt]]
    text, err = await _stream(proxy, fmt, MODELS[fmt])
    assert text == "Hello" and err is not None and TROUBLE in str(err), (text, err)
    assert await _cooled(proxy) == [upstream.keys[0]] and len(upstream.keys) == 1


# an answer whose two text pieces came in one event of two data: lines
TWO_LINES = {
    "chat": [b"data: " + _chat("Hello") + b"\ndata: " + _chat(" world") + b"\n\n", CHAT_END],
    "claude": [
        CLAUDE_HEAD,
        b"event: content_block_delta\ndata: "
        + _claude_text("Hello")
        + b"\ndata: "
        + _claude_text(" world")
        + b"\n\n",
        CLAUDE_END,
    ],
    "gemini": [b"data: " + _gemini("Hello") + b"\r\ndata: " + _gemini(" world") + b"\r\n\r\n", GEMINI_END],
}


@pytest.mark.parametrize(("fmt", "client"), [("chat", "claude"), ("claude", "chat"), ("gemini", "chat")])
async def test_an_event_of_two_data_lines_loses_neither_translated(
    proxy, upstream, fmt: str, client: str
) -> None:
    """An upstream event with two ``data:`` lines, each a whole object: translated for a
    client of another format, both pieces of text arrive, as CPA's line-by-line readers
    translate each line. Before, the lines joined by the SSE rules (``{a}\\n{b}``) were not
    JSON and the stream failed (a Chat or Gemini upstream's) or lost the event (Claude's).
    CPA's OpenAI-compatible executor fails such a frame ("incomplete SSE data frame"): a
    deliberate difference, since each line parses and its Claude and Gemini executors
    take them one by one."""
    upstream.chunks = TWO_LINES[fmt]
    text, err = await _stream(proxy, client, MODELS[fmt])
    assert (text, err) == ("Hello world", None)


async def test_a_pass_through_event_of_two_data_lines_stays_as_it_came(proxy, upstream) -> None:
    """The same event as a Chat pass-through's first: the client gets the upstream's
    bytes as they came (its own SSE reader joins the lines, as it would talking to the
    upstream directly: a pass-through does not rewrite frames; CPA's Claude pass-through
    relays such an event as it came too), and the proxy's own reading takes the lines one
    by one: the answer begins, no failover, no failure. Before, the proxy read the joined
    lines as an event that is not JSON and failed the request with a 502 before its first
    byte."""
    upstream.chunks = TWO_LINES["chat"]
    body = {"model": "chat-model", "messages": MESSAGES, "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        assert r.status == 200
        raw = await r.read()
    assert raw == b"".join(TWO_LINES["chat"]) and upstream.keys == ["k-chat"]
    assert await _cooled(proxy) == []


def _payload(event: bytes) -> bytes:
    """The ``data:`` value of a one-line event."""
    return event[event.index(b"data: ") + 6 :].rstrip(b"\r\n")


# an event of two data: lines: an answer's chunk, then the upstream's error
CHUNK_THEN_ERROR = {
    "chat": b"data: " + _chat(" world") + b"\ndata: " + _payload(ERRORS["chat"]) + b"\n\n",
    "claude": b"event: content_block_delta\ndata: "
    + _claude_text(" world")
    + b"\ndata: "
    + _payload(ERRORS["claude"])
    + b"\n\n",
    "gemini": b"data: " + _gemini(" world") + b"\r\ndata: " + _payload(ERRORS["gemini"]) + b"\r\n\r\n",
}


@pytest.mark.parametrize("fmt", ["chat", "claude", "gemini"])
async def test_a_pass_through_error_in_a_second_data_line_is_read(proxy, upstream, fmt: str) -> None:
    """A pass-through whose second event holds a chunk and the upstream's error on two
    ``data:`` lines: the client (its format's SDK) gets the chunk's text ("Hello world"),
    then that error (the upstream's message; 503 for the google-genai client), and the key
    cools for it, as CPA's executors read the stream line by line, relaying the chunk
    before failing at the error's line. Before, the whole event was replaced by the
    error, so the chunk's text was lost ("Hello"); earlier still, the joined lines read as
    an event that is not JSON and the client got a generic 502."""
    upstream.chunks = [ANSWERS[fmt], CHUNK_THEN_ERROR[fmt], ENDS[fmt]]
    text, err = await _stream(proxy, fmt, MODELS[fmt])
    assert text == "Hello world" and err is not None and TROUBLE in str(err), (text, err)
    if fmt == "gemini":
        assert isinstance(err, genai.errors.APIError) and err.code == 503
    assert await _cooled(proxy) == [upstream.keys[0]] and len(upstream.keys) == 1
