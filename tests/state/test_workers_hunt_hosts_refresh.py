"""Several hosts on one Redis with a token store: a rotating refresh token is spent once.

docs/deploy.md promises the refresh lease across ``workers: N`` and several hosts ("one
process refreshes a rotating token, the others wait for the new one"). On one host the
workers share one auth-dir (or the token store's one workspace), and the waiter reads the
winner's token from the file they share (tests/state/test_redis_refresh.py). Hosts with a
token store each run on their own workspace and pull nothing from the store while they run
(``credentials.stores.mirror`` only pushes), so before, the host that waited read its own,
unchanged file and spent the rotated refresh token a second time: Codex answered
``refresh_token_reused`` and the account was marked refused on that host. Now the winner
seals the token endpoint's answer in Redis (``credentials.refresh_spent``) and the other
host takes it.

Two pools with their own copy of the auth file on one Redis stand for two hosts (the copy in
each workspace is what the store's bootstrap left there).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from redis import asyncio as aioredis

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers.http import HttpClient
from tests.credentials.test_refresh import oauth, write
from tests.fakes.oauth import oauth_fake  # noqa: F401

redis_state = pytest.importorskip("cliproxy.state.redis")


async def _hosts(tmp_path: Path, clock, redis_server, url: str, prefix: str):
    creds, states, clients, refreshers = [], [], [], []
    for host in ("host-a", "host-b"):
        (tmp_path / host).mkdir()
        cred = write(tmp_path / host, "codex.json", oauth("codex", clock, 60))
        state = redis_state.RedisState(redis_server.url, prefix, clock=clock)
        await state.start()
        http = HttpClient()
        pool = Pool(state=state, clock=clock)
        pool.replace([cred])
        creds.append(cred)
        states.append(state)
        clients.append(http)
        refreshers.append(Refresher(pool, http, token_urls={"codex": url}, clock=clock))
    return creds, states, clients, refreshers


async def _close(states, clients) -> None:
    for state in states:
        await state.close()
    for http in clients:
        await http.close()


def _saved(cred: Credential) -> tuple[str, str]:
    assert cred.path is not None
    data = orjson.loads(cred.path.read_bytes())
    return data["access_token"], data["refresh_token"]


async def test_two_hosts_refreshing_at_once_spend_a_rotating_token_once(
    tmp_path,
    clock,
    redis_server,
    oauth_fake,  # noqa: F811
):
    oauth_fake.delay, oauth_fake.refuse_reused = 0.2, True
    creds, states, clients, refreshers = await _hosts(tmp_path, clock, redis_server, oauth_fake.url(), "h1:")
    try:
        results = await asyncio.gather(
            *(r.refresh_now(c) for r, c in zip(refreshers, creds, strict=True)), return_exceptions=True
        )
        assert len(oauth_fake.requests) == 1, results  # one host spent the refresh token
        assert [getattr(c, "access_token", c) for c in results] == ["at-1", "at-1"]
        assert [_saved(c) for c in creds] == [("at-1", "rt-1")] * 2  # each host's workspace
        raw = aioredis.from_url(redis_server.url)
        try:  # Redis holds neither the spent token nor the new ones in the clear
            for key in await raw.keys("h1:*"):
                if await raw.type(key) == b"string":
                    value = await raw.get(key)
                    assert not any(t in value for t in (b"old-rt", b"rt-1", b"at-1")), key
        finally:
            await raw.aclose()
    finally:
        await _close(states, clients)


async def test_a_host_refreshing_later_takes_the_tokens_another_host_got(
    tmp_path,
    clock,
    redis_server,
    oauth_fake,  # noqa: F811
):
    """Host A refreshed a while ago; host B's copy still holds the spent token when its own
    refresh comes due: it takes A's answer instead of calling."""
    oauth_fake.refuse_reused = True
    creds, states, clients, refreshers = await _hosts(tmp_path, clock, redis_server, oauth_fake.url(), "h2:")
    try:
        assert (await refreshers[0].refresh_now(creds[0])).access_token == "at-1"
        clock.advance(30)
        assert (await refreshers[1].refresh_now(creds[1])).access_token == "at-1"
        assert len(oauth_fake.requests) == 1
        assert refreshers[1].pool.get(creds[1].id).refresh_token == "rt-1"
        assert _saved(creds[1]) == ("at-1", "rt-1")
    finally:
        await _close(states, clients)
