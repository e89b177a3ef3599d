"""A gzip answer made of several members (gzip streams one after another, as a gateway
that compresses each flush on its own writes them) is decoded to its end, as Go's
``gzip.Reader`` reads it (multistream, CPA's transport). Before, the decoder stopped at
the end of the first member and dropped the rest: a stream gave its first frame only (an
OpenAI client then got a 502 for the missing finish_reason; a format with no such check
ended short), and a whole answer cut in two members was a 502 (not JSON).

The upstream here is an OpenAI-compatible gateway (a small aiohttp app) that gzips each
frame as a member of its own; the client is the official OpenAI SDK through the proxy,
on the fast client and on aiohttp.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web

KEY = "sk-client"
TEXT = ["Hello", " from", " several", " gzip", " members"]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    event = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def _completions(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if not body.get("stream"):
        answer = orjson.dumps(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(TEXT)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            }
        )
        half = len(answer) // 2
        packed = gzip.compress(answer[:half]) + gzip.compress(answer[half:])
        return web.Response(
            body=packed, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"})
    await resp.prepare(request)
    frames = [_chunk({"role": "assistant", "content": ""})]
    frames += [_chunk({"content": t}) for t in TEXT]
    frames += [_chunk({}, "stop"), b"data: [DONE]\n\n"]
    for frame in frames:
        await resp.write(gzip.compress(frame))  # one member per frame
    await resp.write_eof()
    return resp


@asynccontextmanager
async def chat_gateway(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """An OpenAI-compatible gateway on 127.0.0.1 whose /v1/chat/completions is ``handler``:
    its base URL."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway() -> AsyncIterator[str]:
    async with chat_gateway(_completions) as url:
        yield url


def config(url: str, upstream_http: str) -> str:
    return f"""
api-keys: ["{KEY}"]
upstream-http: {upstream_http}
openai-compatibility:
  - name: gz
    base-url: "{url}/v1"
    api-key-entries: [{{api-key: "sk-up"}}]
    models: [{{name: gpt-4o-mini, alias: gz-model}}]
"""


PATHS = pytest.mark.parametrize("upstream_http", ["fast", "aiohttp"])


@PATHS
async def test_a_whole_gzip_answer_of_two_members_is_read_whole(
    start_proxy: Any, gateway: str, upstream_http: str
) -> None:
    """Before: the first member's half of the JSON, a 502 (not JSON)."""
    proxy = await start_proxy(config(gateway, upstream_http))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        whole = await sdk.chat.completions.create(
            model="gz-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert whole.choices[0].message.content == "".join(TEXT)


@PATHS
async def test_a_gzip_stream_of_one_member_per_frame_is_read_to_its_end(
    start_proxy: Any, gateway: str, upstream_http: str
) -> None:
    """Before: the first frame only (the role), then a 502 (ended before a finish_reason)."""
    proxy = await start_proxy(config(gateway, upstream_http))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(
            model="gz-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text, finish = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
    assert text == "".join(TEXT)
    assert finish == "stop"
