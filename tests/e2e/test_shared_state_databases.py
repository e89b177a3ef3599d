"""Two deployments on one Redis server, kept apart by the database number of ``state.url``
(``redis://host:6379/1`` and ``/2``) with the same (default) prefix: neither hears the
other's notifications nor writes keys outside its own database."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cliproxy.config import load_or_default
from cliproxy.server.app import listen
from cliproxy.service import Service
from cliproxy.state.redis import RedisState
from tests.conftest import Proxy
from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _post, two_claude_keys
from tests.management.conftest import MANAGEMENT_KEY, mcall


def _state(redis_server: Any, db: int) -> str:
    url = redis_server.url.rsplit("/", 1)[0]
    return f"state:\n  backend: redis\n  url: {url}/{db}\n"


async def _own_proxy(folder: Path, text: str) -> Proxy:
    """A proxy on a config file of its own (the ``start_proxy`` fixture has one per test)."""
    folder.mkdir()
    path = folder / "config.yaml"
    path.write_text(f"auth-dir: {folder / 'auths'}\n" + textwrap.dedent(text))
    config, _ = load_or_default(path)
    service = Service(config, path, watch=False)
    return Proxy(await listen(service, "127.0.0.1", 0), service, path)


async def test_a_config_edit_on_database_1_stays_out_of_database_2(
    start_proxy, fakes, redis_server, tmp_path, monkeypatch
):
    """Redis delivers a published message to every subscriber of the channel, whatever
    database either selected: the channel name carries the database. Before, B (database 2)
    took A's (database 1) management edit as its own, saved A's whole config.yaml over its
    file and served A's client keys."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a = await start_proxy(two_claude_keys(fakes, _state(redis_server, 1)))
    b = await _own_proxy(tmp_path / "b", two_claude_keys(fakes, _state(redis_server, 2)))
    heard = asyncio.Event()  # a third process on database 1: hears A, so B would have by then
    peer = RedisState(redis_server.url.rsplit("/", 1)[0] + "/1", "cliproxy:")
    peer.on_event("config", lambda _message: heard.set())
    try:
        await peer.start()
        await asyncio.sleep(0.1)  # its subscription is made
        before = b.config_path.read_text()
        assert await mcall(a, "PUT", "/api-keys", [KEY, "client-a-only"]) == (200, {"status": "ok"})
        await asyncio.wait_for(heard.wait(), 5)
        await asyncio.sleep(0.05)  # what B would do with it is done too
        assert b.config_path.read_text() == before
        assert b.service.config.api_keys == [KEY]
    finally:
        await asyncio.wait_for(peer.close(), 5)
        await b.close()


@pytest.mark.parametrize("db", [0, 3])
async def test_round_robin_cursors_live_in_the_database_of_the_url(start_proxy, fakes, redis_server, db):
    """Before, the per-request cursor went to database 0 whatever the URL said."""
    proxy = await start_proxy(two_claude_keys(fakes, _state(redis_server, db)))
    assert (await _post(proxy, MSG))[0] == 200
    client = aioredis.from_url(redis_server.url.rsplit("/", 1)[0] + f"/{db}")
    other = aioredis.from_url(redis_server.url.rsplit("/", 1)[0] + f"/{1 if db == 0 else 0}")
    try:
        assert await client.keys("cliproxy:rr|*")
        assert not await other.keys("cliproxy:rr|*")
    finally:
        await client.aclose()
        await other.aclose()
