"""Nothing is lost: 500 concurrent requests while half the credentials fail."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.clients import KEY

N = 500


def six_keys(fakes) -> str:
    keys = "\n".join(
        f"""  - api-key: "sk-{i}"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]"""
        for i in range(6)
    )
    return f'api-keys: ["{KEY}"]\nclaude-api-key:\n{keys}\n'


async def test_500_concurrent_requests_with_half_the_credentials_failing(start_proxy, fakes):
    proxy = await start_proxy(six_keys(fakes))
    fakes.claude.fail_key("sk-0", 429, retry_after=60)
    fakes.claude.fail_key("sk-1", 500)
    fakes.claude.fail_key("sk-2", 503)
    fakes.claude.stream_delay = 0.001
    conn = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def one(i: int) -> tuple[int, bytes]:
            stream = i % 2 == 0
            body = {
                "model": "claude-model",
                "max_tokens": 20,
                "stream": stream,
                "messages": [{"role": "user", "content": f"hi {i}"}],
            }
            path = "/v1/messages" if i % 3 else "/v1/chat/completions"
            if path == "/v1/chat/completions":
                body.pop("max_tokens")
            async with s.post(proxy.url + path, json=body, headers={"x-api-key": KEY}) as r:
                return r.status, await r.read()

        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(N))), timeout=120)
    statuses = [st for st, _ in results]
    assert statuses.count(200) == N, {st: statuses.count(st) for st in set(statuses)}
    for _, raw in results:
        assert b"internal error in cliproxy" not in raw
        assert b"Hello from fake" in raw
