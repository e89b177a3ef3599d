"""A flood of made-up keys against bcrypt-hashed ``api-keys`` entries stays bounded."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import bcrypt
import pytest

RIGHT = "sk-right-key"
BODY = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}


async def _status(session: aiohttp.ClientSession, url: str, key: str) -> tuple[int, str]:
    async with session.post(url, json=BODY, headers={"Authorization": f"Bearer {key}"}) as resp:
        await resp.read()
        return resp.status, resp.headers.get("Retry-After", "")


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_made_up_keys_wait_in_a_bounded_queue(start_proxy, engine):
    """Each key no cache knows costs a bcrypt run per hashed entry (our key-hash feature,
    not CPA's). Before, every such request queued one more run in the shared thread pool:
    a flood of made-up keys from anyone who can reach the proxy took every thread and a
    queue without end. Now two run at once and 64 wait; a request beyond that is 503 with
    Retry-After, never a wrong 401; the right key is still let in once the flood is over."""
    stored = bcrypt.hashpw(RIGHT.encode(), bcrypt.gensalt(8)).decode()
    proxy = await start_proxy(f'api-keys:\n  - key-hash: "{stored}"\n', engine=engine)
    url = proxy.url + "/v1/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        got = Counter(await asyncio.gather(*(_status(session, url, f"made-up-{i}") for i in range(150))))
        assert set(got) == {(401, ""), (503, "1")}, got
        assert got[(503, "1")] > 0
        assert (await _status(session, url, RIGHT))[0] == 400  # let in: the model is unknown
