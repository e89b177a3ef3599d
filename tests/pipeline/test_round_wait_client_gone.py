"""The wait before another retry round (``max-retry-interval``) ends when the client has
left: nobody would read the answer, and the upstream would be asked again for nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.e2e.clients import KEY


def _config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
request-retry: 2
max-retry-interval: 10
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k"}}]
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
"""


def _generations(fakes: Any) -> int:
    return sum(1 for r in fakes.openai.requests if r.path.endswith("/chat/completions"))


async def _send(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    return reader, writer


async def test_a_client_that_stays_is_served_after_the_wait(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.openai.fail_next(429, retry_after=1)
    reader, writer = await _send(proxy.port)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200") and _generations(fakes) == 2
    writer.close()


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_client_that_leaves_ends_the_round_wait(start_proxy, fakes, engine: str) -> None:
    proxy = await start_proxy(_config(fakes), engine=engine)
    fakes.openai.fail_next(429, retry_after=1)  # the account cools 1 s: the next round waits
    _reader, writer = await _send(proxy.port)
    for _ in range(100):  # until the 429 is in and the wait began
        if _generations(fakes):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    writer.transport.abort()
    await asyncio.sleep(2.0)  # past the cooldown and the most jitter (0.25 s)
    assert _generations(fakes) == 1  # the wait ended: no second request
