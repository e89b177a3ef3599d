"""A request the proxy streams from its upstream (a streaming client, or any client of
Codex, which only streams) whose upstream answers status 200 with a whole JSON error object
instead of a stream (a gateway's or relay's way to refuse it) gets that error, as the same
answer to a non-streaming request does (tests/e2e/test_chaos_error_answers.py).

Before, the stream decoders found no SSE event in the body and reported a cut stream: an
OpenAI or Claude upstream gave the client a 502 ("upstream stream ended before a
finish_reason" / "before message_stop"), a Gemini one a 500, and both cooled the credential
as a transient error for a context-length error, the client's own mistake; a Codex one gave
a 408 "upstream stream closed before response.completed" (CPA's answer to a Codex stream
without its end) and tried no other credential for an overloaded one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.chaos_upstream import RawRequest, RawUpstream, answer, head, proxy_config
from tests.e2e.clients import KEY, ask

CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}
OVERLOADED = {"error": {"message": "upstream overloaded", "type": "server_error"}}


class Upstream(RawUpstream):
    """``k-b`` answers; every other key gets :attr:`error` as a 200 JSON body."""

    def __init__(self) -> None:
        super().__init__(self._script)
        self.error: dict[str, Any] = CONTEXT

    async def _script(self, req: RawRequest, writer: Any) -> bool:
        if req.key == "k-b":
            return await answer(req, writer)
        body = orjson.dumps(self.error)
        writer.write(head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body)
        await writer.drain()
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream() as up:
        yield up


PATHS = {"openai": "/v1/chat/completions", "claude": "/v1/messages"}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("model", ["gpt-solo", "claude-solo", "gemini-solo", "codex-solo"])
@pytest.mark.parametrize("client", ["openai", "claude"])
async def test_a_200_json_context_error_is_the_clients_400_and_cools_nothing(
    start_proxy, upstream, client, model, stream
) -> None:
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    body = {
        "model": model,
        "stream": stream,
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + PATHS[client], json=body, headers=headers) as r,
    ):
        status, data = r.status, await r.read()
    pool = proxy.service.pool
    cooled = [rec for c in pool.credentials() for rec in await pool.cooldowns(c)]
    assert (status, cooled) == (400, []), data
    assert b"maximum context length" in data
    error = orjson.loads(data)
    assert (error["type"] == "error") if client == "claude" else ("error" in error)


PAIRS = [
    (Format.OPENAI, "gpt-model"),  # passed through
    (Format.CLAUDE, "claude-model"),
    (Format.GEMINI, "gemini-model"),
    (Format.RESPONSES, "codex-model"),
    (Format.OPENAI, "codex-model"),  # translated
    (Format.CLAUDE, "gemini-model"),
    (Format.GEMINI, "gpt-model"),
    (Format.RESPONSES, "claude-model"),
]


@pytest.mark.parametrize(("fmt", "model"), PAIRS, ids=[f"{f.value}->{m}" for f, m in PAIRS])
async def test_a_200_json_server_error_to_a_stream_fails_over(start_proxy, upstream, fmt, model) -> None:
    """Through the official SDKs: the next key serves the stream, the first one cools."""
    upstream.error = OVERLOADED
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    got = await ask(fmt, proxy.url, model, "hi", stream=True)
    assert got.text == "hello from k-b"
    assert [r.key for r in upstream.requests] == ["k-a", "k-b"]
    pool = proxy.service.pool
    assert [rec for c in pool.credentials() if c.api_key == "k-a" for rec in await pool.cooldowns(c)]
