"""A 429 whose reset no clock can add, named where b6132f6 did not look: Anthropic's
unified rate-limit reset headers (``anthropic-ratelimit-unified-reset``, a subscription
account's and a gateway's) and a Codex usage-limit body (``resets_at`` /
``resets_in_seconds``). As for ``Retry-After`` (b6132f6), such a wait is no hint: the keys
cool by back-off and the client gets the 429 with a short Retry-After (UpstreamError reads
any wait past Go's longest Duration as none). Before, an infinite one (``1e400``) made the
client's answer a 500 "internal error", and a finite one cooled the key for ages and told
the client a Retry-After of 12 to 300 digits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.chaos_upstream import RawRequest, RawUpstream, head, proxy_config
from tests.e2e.clients import KEY


class Upstream(RawUpstream):
    def __init__(self) -> None:
        super().__init__(self._script)
        self.wait: dict[str, str] = {}
        self.body = b'{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}'

    async def _script(self, req: RawRequest, writer: Any) -> bool:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(self.body)), **self.wait}
        writer.write(head(429, headers) + self.body)
        await writer.drain()
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream() as up:
        yield up


async def _post(proxy: Any, model: str) -> tuple[int, dict[str, str], bytes]:
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        return r.status, dict(r.headers), await r.read()


@pytest.mark.parametrize("reset", ["1e400", "99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_unified_reset_no_clock_can_add_is_no_hint(start_proxy, upstream, reset) -> None:
    upstream.wait = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-reset": reset,
        "anthropic-ratelimit-unified-5h-reset": reset,
    }
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    for _ in range(2):
        status, headers, body = await _post(proxy, "claude-model")
        assert status == 429, body
        assert int(headers.get("Retry-After", "0")) <= 60, headers


@pytest.mark.parametrize(
    "error",
    [
        b'"resets_in_seconds":1e300',
        b'"resets_at":1e300',
        b'"resets_in_seconds":1e20',
    ],
)
async def test_a_codex_reset_no_clock_can_add_is_no_hint(start_proxy, upstream, error) -> None:
    upstream.body = b'{"error":{"type":"usage_limit_reached","message":"limit",' + error + b"}}"
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    for _ in range(2):
        status, headers, body = await _post(proxy, "codex-model")
        assert status == 429, body
        assert int(headers.get("Retry-After", "0")) <= 60, headers
