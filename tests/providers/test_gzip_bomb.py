"""A compressed upstream answer that expands without measure (a "gzip bomb": deflate
expands up to ~1,000 times) is refused piece by piece, before the decoded bytes pile up:
one read of the compressed body may decode to at most ``decoding.MAX_PIECE`` bytes, else
the read is broken (a 502 in the client's format, or an error event once a stream began).
Before, a read of a few hundred KiB could become hundreds of MiB in one call, before the
limits on a stream's events or a whole answer (which count decoded bytes) saw any of it.

The upstream is an OpenAI-compatible gateway (a small aiohttp app) whose answer is gzip of
a JSON string padded with spaces; the limit is patched down so the test stays small, and
the same answer passes under the real limit.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web

from cliproxy.providers import decoding
from tests.providers.test_review_gzip_members import KEY, PATHS, chat_gateway, config

PAD = 4 << 20  # 4 MiB of spaces: ~4 KiB compressed


def _answer() -> bytes:
    return orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok" + " " * PAD},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        }
    )


def _frame(content: str, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
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
        return web.Response(
            body=gzip.compress(_answer()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"})
    await resp.prepare(request)
    await resp.write(gzip.compress(_frame("first")))  # a member of its own: decoded at once
    await asyncio.sleep(0.1)  # (the client has it before the bomb comes)
    await resp.write(gzip.compress(_frame("x" + " " * PAD) + _frame("", "stop") + b"data: [DONE]\n\n"))
    await resp.write_eof()
    return resp


@pytest.fixture
async def gateway() -> AsyncIterator[str]:
    async with chat_gateway(_completions) as url:
        yield url


ASK: dict[str, Any] = {"model": "gz-model", "messages": [{"role": "user", "content": "hi"}]}


@PATHS
async def test_a_whole_answer_that_expands_past_the_limit_is_a_502(
    start_proxy: Any,
    gateway: str,
    upstream_http: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(decoding, "MAX_PIECE", 1 << 20)
    proxy = await start_proxy(config(gateway, upstream_http))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        with pytest.raises(openai.APIStatusError) as caught:
            await sdk.chat.completions.create(**ASK)
    assert caught.value.status_code == 502
    assert "decodes to more than 1048576 bytes" in caplog.text  # the operator's log says why


@PATHS
async def test_a_stream_piece_that_expands_past_the_limit_ends_the_stream_with_an_error(
    start_proxy: Any, gateway: str, upstream_http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decoding, "MAX_PIECE", 1 << 20)
    proxy = await start_proxy(config(gateway, upstream_http))
    texts: list[str] = []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        with pytest.raises(openai.APIError):
            stream = await sdk.chat.completions.create(**ASK, stream=True)
            async for chunk in stream:
                if chunk.choices:
                    texts.append(chunk.choices[0].delta.content or "")
    assert "".join(texts) == "first"  # what came before the bomb reached the client


@PATHS
async def test_under_the_real_limit_the_same_answers_pass(
    start_proxy: Any, gateway: str, upstream_http: str
) -> None:
    proxy = await start_proxy(config(gateway, upstream_http))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        whole = await sdk.chat.completions.create(**ASK)
        assert (whole.choices[0].message.content or "").startswith("ok")
        stream = await sdk.chat.completions.create(**ASK, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.startswith("firstx") and len(text) > PAD
