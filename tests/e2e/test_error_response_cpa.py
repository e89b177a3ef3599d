"""Error answers a client gets from the proxy: the headers on them (Retry-After, an
upstream's own headers under ``passthrough-headers``), CPA's ``handlers_error_response_test.go``
and ``header_filter_test.go``, through a running proxy with the official OpenAI SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer

HEAD = f'api-keys: ["{KEY}"]\n'
RATE_LIMIT = {"error": {"message": "rate limit", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}
UPSTREAM_HEADERS = {
    "Retry-After": "30",
    "X-Request-Id": "req-1",
    "Connection": "keep-alive, x-hop",
    "X-Hop": "hop",
    "Set-Cookie": "session=secret",
    "x-cpa-trace-id": "upstream-trace",
    "Access-Control-Expose-Headers": "upstream-header",
}


class _Limited(LocalServer):
    """A Chat Completions upstream that answers every request with a 429 and headers of
    every kind."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self.chat)

    async def chat(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            status=429,
            body=orjson.dumps(RATE_LIMIT),
            content_type="application/json",
            headers=UPSTREAM_HEADERS,
        )


@pytest.fixture
async def limited_upstream() -> AsyncIterator[str]:
    async with _Limited() as server:
        yield f"http://127.0.0.1:{server.port}"


def config(base: str, passthrough: bool) -> str:
    return (
        HEAD
        + f"""
request-retry: 0
passthrough-headers: {"true" if passthrough else "false"}
openai-compatibility:
  - name: up
    base-url: "{base}/v1"
    api-key-entries:
      - api-key: "sk-up"
    models:
      - name: "m"
"""
    )


async def rate_limited(url: str) -> openai.RateLimitError:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    try:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    finally:
        await client.close()
    return caught.value


def lower(headers: object) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}  # type: ignore[attr-defined]


async def test_without_passthrough_the_upstreams_headers_stay_behind(start_proxy, limited_upstream) -> None:
    """CPA TestWriteErrorResponse_AddonHeadersDisabledByDefault: with ``passthrough-headers``
    off, an upstream 429's own headers (X-Request-Id) do not reach the client.

    DIFFERS on purpose: the Retry-After the upstream gave does (CPA drops it). It is the
    proxy's own reading of when to come back (the same number it cools the credential
    for), and the SDKs wait that long before retrying instead of guessing."""
    proxy = await start_proxy(config(limited_upstream, passthrough=False))
    err = await rate_limited(proxy.url)
    got = lower(err.response.headers)
    assert err.status_code == 429 and err.body == RATE_LIMIT["error"]
    assert got["retry-after"] == "30"
    assert "x-request-id" not in got and "x-hop" not in got and "set-cookie" not in got


async def test_with_passthrough_the_error_answer_carries_the_safe_upstream_headers(
    start_proxy, limited_upstream
) -> None:
    """CPA TestWriteErrorResponse_AddonHeadersEnabled and
    TestFilterUpstreamHeaders_RemovesConnectionScopedHeaders: with ``passthrough-headers``
    on, the upstream's headers go on the error answer as on a success (they were dropped
    from error answers before), minus hop-by-hop and connection-scoped ones, cookies,
    CORS and the proxy's own trace header. CPA's repeated X-Request-Id values are not
    asserted: an upstream error keeps one value a header."""
    proxy = await start_proxy(config(limited_upstream, passthrough=True))
    err = await rate_limited(proxy.url)
    got = lower(err.response.headers)
    assert err.status_code == 429 and err.body == RATE_LIMIT["error"]
    assert got["retry-after"] == "30" and got["x-request-id"] == "req-1"
    assert got["content-type"] == "application/json"
    for name in ("x-hop", "set-cookie", "access-control-expose-headers"):
        assert name not in got, name
    assert got["x-cpa-trace-id"] != "upstream-trace"  # the proxy's own (cliproxy.server.trace_id)
