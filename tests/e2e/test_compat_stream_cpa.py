"""CPA's openai-compatibility stream cases (runtime/executor/
openai_compat_executor_compact_test.go) through a running proxy: a Chat Completions
upstream that writes scripted raw SSE bytes and ends (:class:`RawChat`); Chat clients on
the official ``openai`` SDK, Responses clients on aiohttp to read the exact frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer

PARTIAL = (
    b'data: {"id":"chatcmpl_1","object":"chat.completion.chunk","created":1773896263,'
    b'"model":"deepseek-v4-flash","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":"partial"},"finish_reason":null}]}\n\n'
)


class RawChat(LocalServer):
    """An OpenAI-compatible upstream answering ``POST /v1/chat/completions`` with
    ``chunks`` written one by one, then a clean end; ``json`` answers a whole request."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.json: dict[str, Any] = {}
        self.body: dict[str, Any] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.body = orjson.loads(await request.read())
        if not self.body.get("stream"):
            return web.json_response(self.json)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in self.chunks:
            await resp.write(chunk)
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self.handle)


@pytest.fixture
async def upstream() -> AsyncIterator[RawChat]:
    async with RawChat() as server:
        yield server


def _yaml(upstream: RawChat, extra: str = "") -> str:
    return (
        f'api-keys: ["{KEY}"]\ndisable-cooling: true\nopenai-compatibility:\n  - name: compat\n'
        f'    base-url: "{upstream.url}/v1"\n    api-key-entries: [{{api-key: "sk-up"}}]\n'
        f'    models: [{{name: "deepseek-v4-flash", alias: "m"}}, {{name: "custom-openai", alias: "custom-openai"}}]\n'
        f"{extra}"
    )


@pytest.fixture
async def proxy(start_proxy: Any, upstream: RawChat) -> Any:
    return await start_proxy(_yaml(upstream))


def _chat(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=20)


async def _responses(proxy: Any) -> tuple[int, bytes]:
    body = {"model": "m", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        return r.status, await r.read()


def _names(body: bytes) -> list[str]:
    return [line[6:].strip().decode() for line in body.split(b"\n") if line.startswith(b"event:")]


def _failure_text(body: bytes) -> str:
    """The message of the stream's terminal failure event (``response.failed`` or ``error``)."""
    for frame in body.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"data:") and line[5:].strip() not in (b"", b"[DONE]"):
                obj = orjson.loads(line[5:])
                if obj.get("type") == "response.failed":
                    return str(obj["response"]["error"]["message"])
                if obj.get("type") == "error":
                    return str(obj.get("message") or obj.get("error", {}).get("message"))
    return ""


async def test_plain_json_after_blank_lines_is_an_error(proxy, upstream) -> None:
    """TestOpenAICompatExecutorStreamRejectsPlainJSONAfterBlankLines: blank lines, a comment,
    a bare ``event: error`` and then a plain JSON error line (no ``data:``) are an upstream
    failure with 502, not an empty success. Differs: the client reads our message (the
    stream ended before a finish_reason), not the upstream's, which is not an SSE line."""
    upstream.chunks = [
        b"\n\n: openrouter processing\n\nevent: error\n",
        b'{"error":{"message":"upstream failed","type":"server_error"}}\n',
    ]
    async with _chat(proxy) as client:
        with pytest.raises(openai.APIStatusError) as info:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _ in stream:
                pass
    assert info.value.status_code == 502


async def test_keepalive_lines_before_the_first_data_line(proxy, upstream) -> None:
    """TestOpenAICompatExecutorStreamSkipsKeepAliveUntilDataLine"""
    upstream.chunks = [
        b"\n\n: openrouter processing\n\nevent: ping\nid: 1\nretry: 1000\n",
        b'data: {"id":"chatcmpl_1","object":"chat.completion.chunk","choices":[{"index":0,'
        b'"delta":{"content":"hello"},"finish_reason":null}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    async with _chat(proxy) as client:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "hello"


async def test_responses_stream_without_done_fails(proxy, upstream) -> None:
    """TestOpenAICompatExecutorResponsesStreamFailsOnEOFWithoutDone: the partial text
    streams, then a clean close without ``[DONE]`` ends in a failure, not a completion."""
    upstream.chunks = [PARTIAL]
    status, body = await _responses(proxy)
    names = _names(body)
    assert status == 200 and "response.output_text.delta" in names
    assert "response.completed" not in names and _failure_text(body)


ERROR_CASES = {
    "data error": (
        [
            PARTIAL,
            b'data: {"error":{"type":"server_error","code":"upstream_failed",'
            b'"message":"upstream failed"}}\n\n',
        ],
        "upstream failed",
    ),
    "data error then done": (
        [
            PARTIAL,
            b'data: {"error":{"type":"server_error","code":"upstream_failed",'
            b'"message":"upstream failed"}}\n\n',
            b"data: [DONE]\n\n",
        ],
        "upstream failed",
    ),
    "done after incomplete error data": (
        [
            PARTIAL,
            b"event: error\n",
            b'data: {"message":"incomplete upstream failure"\n',
            b"data: [DONE]\n\n",
        ],
        "",
    ),
    "named error event": (
        [
            PARTIAL,
            b"event: error\n",
            b'data: {"code":"upstream_failed",\n',
            b'data: "message":"upstream failed"}\n\n',
            b"data: [DONE]\n\n",
        ],
        "upstream failed",
    ),
    "response failed payload": (
        [
            PARTIAL,
            b'data: {"type":"response.failed","response":{"error":{"type":"server_error",'
            b'"code":"upstream_failed","message":"response failed upstream"}}}\n\n',
            b"data: [DONE]\n\n",
        ],
        "response failed upstream",
    ),
    "data before named error": (
        [
            PARTIAL,
            b'data: {"detail":"data before event failure"}\n',
            b"event: error\n\n",
            b"data: [DONE]\n\n",
        ],
        "data before event failure",
    ),
    "done immediately after error event": (
        [PARTIAL, b"event: error\n", b"data: [DONE]\n\n"],
        "error event ended before [DONE]",
    ),
    "incomplete data across frames": (
        [
            PARTIAL,
            b"data: {\n\n",
            b'data: "id":"chatcmpl_2","object":"chat.completion.chunk","choices":[]}\n\n',
            b"data: [DONE]\n\n",
        ],
        "",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
async def test_responses_stream_upstream_errors(proxy, upstream, case: str) -> None:
    """TestOpenAICompatExecutorResponsesStreamPreservesUpstreamDataError,
    TestOpenAICompatExecutorResponsesStreamPreservesNamedErrorEvent,
    TestOpenAICompatExecutorResponsesStreamHandlesAdditionalErrorShapes: an upstream
    error after output (an ``error`` object, a named ``event: error`` frame, a
    ``response.failed`` chunk) ends the Responses stream in a failure, never in
    ``response.completed``; where the upstream names a message the client reads it.
    Differs: the failure carries the upstream's message, not its whole payload as CPA's
    error text does."""
    upstream.chunks, want = ERROR_CASES[case]
    status, body = await _responses(proxy)
    assert status == 200 and "response.completed" not in _names(body)
    failure = _failure_text(body)
    assert failure and want in failure


async def test_payload_override_wins_over_thinking_suffix(start_proxy, upstream) -> None:
    """TestOpenAICompatExecutorPayloadOverrideWinsOverThinkingSuffix: a payload override of
    ``reasoning_effort`` beats the ``(high)`` the client put on the model name."""
    rules = (
        "payload:\n  override:\n    - models: [{name: custom-openai, protocol: openai}]\n"
        "      params: {reasoning_effort: low}\n"
    )
    proxy = await start_proxy(_yaml(upstream, rules))
    upstream.json = {
        "id": "chatcmpl_1",
        "object": "chat.completion",
        "created": 1,
        "model": "custom-openai",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    async with _chat(proxy) as client:
        await client.chat.completions.create(
            model="custom-openai(high)", messages=[{"role": "user", "content": "hi"}]
        )
    assert upstream.body["reasoning_effort"] == "low"


@pytest.mark.parametrize("joined", [False, True], ids=["own read", "same read"])
async def test_chat_stream_drops_chunks_after_done(proxy, upstream, joined: bool) -> None:
    """TestOpenAICompatExecutorStreamDropsChunksAfterDone: a Chat client on a Chat upstream
    that writes a metadata chunk after ``data: [DONE]`` (OpenCode zen's cost) gets the
    stream up to ``[DONE]`` and not that chunk, whether it comes in its own read or in the
    one holding ``[DONE]``; the openai SDK reads the answer."""
    head = b'data: {"id":"c1a4ba22","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    after = b'data: {"choices":[],"cost":"0"}\n\n'
    upstream.chunks = [
        head + b'[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n',
        head + b'[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n',
        *([b"data: [DONE]\n\n" + after] if joined else [b"data: [DONE]\n\n", after]),
    ]
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        raw = await r.read()
    assert r.status == 200 and raw.endswith(b"data: [DONE]\n\n") and raw.find(b'"cost"') < 0
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    assert len(chunks) == 2 and all(c.get("id") for c in chunks)
    async with _chat(proxy) as client:
        stream = await client.chat.completions.create(model="m", messages=body["messages"], stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "hi"


async def test_chunks_after_done_are_dropped(proxy, upstream) -> None:
    """CPA: TestConvertOpenAIResponseToOpenAIDropsChunksAfterDone,
    TestConvertOpenAIResponseToOpenAIPassthroughWithoutDone: a chunk an upstream writes
    after ``[DONE]`` (OpenRouter's cost note) never reaches the client; what came before
    passes as it was."""
    upstream.chunks = [PARTIAL, b"data: [DONE]\n\n", b'data: {"choices":[],"cost":"0"}\n\n']
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers) as r:
            data = await r.read()
    assert b'"content":"partial"' in data and data.rstrip().endswith(b"data: [DONE]")
    assert b'"cost"' not in data


async def test_whole_answer_calls_without_ids_get_ids_of_their_own(proxy, upstream) -> None:
    """An OpenAI-compatible upstream's whole answer with tool calls that carry no ``id``:
    a Claude client gets a ``toolu_`` id for each (CPA: TestGenerateClaudeToolCallID, the
    24 characters after ``toolu_``) and a Responses client a ``call_id`` for each; before,
    both Claude calls were ``toolu_empty`` and the Responses ones had an empty ``call_id``,
    so the client could not answer them apart."""
    call = {"type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}}
    upstream.json = {
        "id": "chatcmpl_1",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-v4-flash",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call, call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        msg = await client.messages.create(
            model="m", max_tokens=64, messages=[{"role": "user", "content": "look"}], tools=[tool]
        )
    ids = [b.id for b in msg.content if b.type == "tool_use"]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(i.startswith("toolu_") and len(i) == 30 and i[6:].isalnum() for i in ids)
    async with _chat(proxy) as chat:
        done = await chat.responses.create(
            model="m",
            input="look",
            tools=[{"type": "function", "name": "lookup", "parameters": tool["input_schema"]}],
        )
    call_ids = [o.call_id for o in done.output if o.type == "function_call"]
    assert len(call_ids) == 2 and len(set(call_ids)) == 2 and all(call_ids)
