"""A whole answer that is an error object with status 200 (a gateway's or relay's way to
fail): the proxy reads it as the error it is, in every client format, passed through or
translated. Before, a client of the upstream's own format got a 200 whose body was no
answer, and a client of another format a 200 empty answer (no text, no usage), with no
other credential tried; the same object as a stream's first event already failed over.

The upstream (``tests.e2e.chaos_upstream``) answers ``k-a`` with the error and ``k-b``
healthily; ``*-solo`` models have one key, so the client sees the error itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.chaos_upstream import RawRequest, RawUpstream, answer, api_of, head, proxy_config
from tests.e2e.clients import KEY, ask

# each API's own error shape, as its gateways send it with a 200
ERRORS = {
    "openai": {"error": {"message": "upstream overloaded", "type": "server_error", "code": None}},
    "claude": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    "gemini": {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
}
CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}


class Upstream(RawUpstream):
    def __init__(self) -> None:
        super().__init__(self._script)
        self.error: dict[str, Any] | None = None  # the 200 error body (else each API's own)

    async def _script(self, req: RawRequest, writer: Any) -> bool:
        if req.key == "k-b":
            return await answer(req, writer)
        body = orjson.dumps(self.error or ERRORS[api_of(req)])
        writer.write(head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body)
        await writer.drain()
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream() as up:
        yield up


PAIRS = [
    (Format.OPENAI, "gpt-model"),  # passed through
    (Format.CLAUDE, "claude-model"),
    (Format.GEMINI, "gemini-model"),
    (Format.OPENAI, "claude-model"),  # translated
    (Format.RESPONSES, "gemini-model"),
    (Format.CLAUDE, "gpt-model"),
    (Format.GEMINI, "claude-model"),
]


@pytest.mark.parametrize(("fmt", "model"), PAIRS, ids=[f"{f.value}->{m}" for f, m in PAIRS])
async def test_a_200_error_body_fails_over_to_the_next_key(start_proxy, upstream, fmt, model) -> None:
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    got = await ask(fmt, proxy.url, model, "hi", stream=False)
    assert got.text == "hello from k-b"
    assert [r.key for r in upstream.requests] == ["k-a", "k-b"]
    records = [
        r
        for c in proxy.service.pool.credentials()
        if c.api_key == "k-a"
        for r in await proxy.service.pool.cooldowns(c)
    ]
    assert records, "the key that failed was not cooled"


SOLO = {"openai": "gpt-solo", "claude": "claude-solo", "gemini": "gemini-solo"}
PATHS = {Format.OPENAI: "/v1/chat/completions", Format.CLAUDE: "/v1/messages"}


async def _post(proxy: Any, fmt: Format, model: str) -> tuple[int, dict[str, Any]]:
    if fmt is Format.GEMINI:
        path, body = f"/v1beta/models/{model}:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}
    else:
        path = PATHS[fmt]
        body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, json=body, headers=headers) as r:
        return r.status, orjson.loads(await r.read())


@pytest.mark.parametrize(
    ("api", "status"), [("openai", 500), ("claude", 529), ("gemini", 503)], ids=["openai", "claude", "gemini"]
)
@pytest.mark.parametrize("fmt", [Format.OPENAI, Format.CLAUDE, Format.GEMINI], ids=lambda f: f.value)
async def test_a_200_error_body_alone_is_its_error_in_the_client_format(
    start_proxy, upstream, api, status, fmt
) -> None:
    """With no other key, the client gets the upstream's error, with the status it names
    (OpenAI's server_error: 500; Anthropic's overloaded_error: 529), in its own error shape:
    never a 200."""
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    got, body = await _post(proxy, fmt, SOLO[api])
    assert got == status, body
    if fmt is Format.CLAUDE:
        assert body["type"] == "error" and body["error"]["message"], body
    else:
        assert body["error"]["message"], body
    assert "candidates" not in body and "choices" not in body and "content" not in body


@pytest.mark.parametrize("fmt", [Format.OPENAI, Format.CLAUDE], ids=lambda f: f.value)
async def test_a_200_context_length_error_is_the_clients_400_and_cools_nothing(
    start_proxy, upstream, fmt
) -> None:
    """The request's own fault, said with a 200: a 400 at once, no other key, no cooldown."""
    upstream.error = CONTEXT
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    got, body = await _post(proxy, fmt, "gpt-model")
    assert got == 400, body
    assert [r.key for r in upstream.requests] == ["k-a"]
    pool = proxy.service.pool
    assert not [r for c in pool.credentials() for r in await pool.cooldowns(c)]


async def test_an_answer_beside_a_null_error_is_an_answer(start_proxy, upstream) -> None:
    """``"error": null`` first, then the answer (some gateways write it): still the answer."""
    upstream.error = {
        "error": None,
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "up-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}
        ],
    }
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    for fmt, model in ((Format.OPENAI, "gpt-solo"), (Format.CLAUDE, "gpt-solo")):
        got = await ask(fmt, proxy.url, model, "hi", stream=False)
        assert got.text == "fine"
