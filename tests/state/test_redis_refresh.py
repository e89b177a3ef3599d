"""The refresh lease: two processes (two pools and refreshers on one Redis) that both need
a rotating token refreshed call the token endpoint once; the loser reads the winner's token."""

from __future__ import annotations

import asyncio

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers.http import HttpClient
from tests.credentials.test_refresh import oauth, write
from tests.fakes.oauth import oauth_fake  # noqa: F401

redis_state = pytest.importorskip("cliproxy.state.redis")


async def test_a_refresh_needed_by_two_processes_happens_once(tmp_path, clock, redis_server, oauth_fake):  # noqa: F811
    oauth_fake.delay = 0.2  # the winner is still refreshing when the other one asks
    cred = write(tmp_path, "claude.json", oauth("claude", clock, 60))
    states = [redis_state.RedisState(redis_server.url, "lease:", clock=clock) for _ in range(2)]
    clients = [HttpClient() for _ in range(2)]
    try:
        refreshers = []
        for state, http in zip(states, clients, strict=True):
            await state.start()
            pool = Pool(state=state, clock=clock)
            pool.replace([cred])
            refreshers.append(Refresher(pool, http, token_urls={"claude": oauth_fake.url()}, clock=clock))
        results = await asyncio.gather(*(r.refresh_now(cred) for r in refreshers))
        assert len(oauth_fake.requests) == 1  # one process spent the refresh token
        assert {c.access_token for c in results} == {"at-1"}
        assert {r.pool.get(cred.id).access_token for r in refreshers} == {"at-1"}
    finally:
        for state in states:
            await state.close()
        for http in clients:
            await http.close()


async def test_two_files_of_one_account_in_two_processes_spend_the_token_once(
    tmp_path,
    clock,
    redis_server,
    oauth_fake,  # noqa: F811
):
    """Two processes, each refreshing a different auth file that holds the same refresh
    token (one account signed in twice): the lease is the token's, so one process calls,
    hands the new tokens to both files, and the other reads them from its own file, where
    it used to spend the token a second time and be refused (``refresh_token_reused``)."""
    oauth_fake.delay, oauth_fake.refuse_reused = 0.2, True
    creds = [write(tmp_path, f"{name}.json", oauth("codex", clock, 60, email=f"{name}@x")) for name in "ab"]
    states = [redis_state.RedisState(redis_server.url, "lease2:", clock=clock) for _ in range(2)]
    clients = [HttpClient() for _ in range(2)]
    try:
        refreshers = []
        for state, http in zip(states, clients, strict=True):
            await state.start()
            pool = Pool(state=state, clock=clock)
            pool.replace(creds)
            refreshers.append(Refresher(pool, http, token_urls={"codex": oauth_fake.url()}, clock=clock))
        results = await asyncio.gather(*(r.refresh_now(c) for r, c in zip(refreshers, creds, strict=True)))
        assert len(oauth_fake.requests) == 1
        assert {c.access_token for c in results} == {"at-1"}
        assert {c.refresh_token for c in results} == {"rt-1"}
    finally:
        for state in states:
            await state.close()
        for http in clients:
            await http.close()
