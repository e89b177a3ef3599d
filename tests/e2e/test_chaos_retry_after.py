"""A 429's wait as upstreams write it, through a running proxy whose every key is refused.

``retry-after-ms`` alone (OpenAI's and Azure OpenAI's header, which the official SDKs read
first): the keys cool for that long and the client gets it as ``Retry-After``. Before, it was
not read (nor is it in CPA): the keys cooled by back-off (1 s) and the client got no
``Retry-After``.

A ``Retry-After`` no clock can add (``inf``, ``1e400``, twenty nines): no hint, as in CPA
(whose parse gives no deadline past Go's longest duration). Before, the client got a 500
"internal error" and every later request for the model another 500, the keys cooled
without end.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.chaos_upstream import RawRequest, RawUpstream, head, proxy_config
from tests.e2e.clients import KEY

REFUSAL = b'{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}'


class Upstream(RawUpstream):
    def __init__(self) -> None:
        super().__init__(self._script)
        self.wait: dict[str, str] = {}  # the 429's wait headers

    async def _script(self, req: RawRequest, writer: Any) -> bool:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(REFUSAL)), **self.wait}
        writer.write(head(429, headers) + REFUSAL)
        await writer.drain()
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream() as up:
        yield up


PATHS = {"openai": "/v1/chat/completions", "claude": "/v1/messages"}


async def _post(proxy: Any, client: str, model: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + PATHS[client], json=body, headers=headers) as r,
    ):
        return r.status, dict(r.headers), orjson.loads(await r.read())


@pytest.mark.parametrize("model", ["gpt-model", "claude-model"])
@pytest.mark.parametrize("client", ["openai", "claude"])
async def test_retry_after_ms_cools_for_its_wait_and_reaches_the_client(
    start_proxy, upstream, client, model
) -> None:
    upstream.wait = {"retry-after-ms": "45000"}
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    status, headers, body = await _post(proxy, client, model)
    assert (status, headers.get("Retry-After")) == (429, "45"), body
    assert [r.key for r in upstream.requests] == ["k-a", "k-b"]
    pool = proxy.service.pool
    ends = [rec.until() for c in pool.credentials() if c.api_key == "k-a" for rec in await pool.cooldowns(c)]
    assert ends and all(40 < end - time.time() <= 45 for end in ends), ends
    status, headers, body = await _post(proxy, client, model)  # the pool waits: the client is told how long
    assert status == 429 and 40 < int(headers["Retry-After"]) <= 45, (headers, body)


@pytest.mark.parametrize("wait", ["inf", "1e400", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
@pytest.mark.parametrize("client", ["openai", "claude"])
async def test_a_retry_after_no_clock_can_add_is_no_hint(start_proxy, upstream, client, wait) -> None:
    upstream.wait = {"Retry-After": wait}
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    for _ in range(2):  # the refusal, then the pool's own answer while the keys cool (back-off)
        status, headers, body = await _post(proxy, client, "gpt-model")
        assert status == 429, body
        assert int(headers.get("Retry-After", "0")) <= 60, headers
