"""Two cliproxy services on different ports sharing one real Redis (two hosts in
miniature): cooldowns, round-robin and session affinity are global, and Redis going away
mid-run degrades to local state with one WARNING and recovers, losing no request."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import anthropic
import orjson

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys
from tests.management.conftest import MANAGEMENT_KEY, mcall


def shared(redis_server) -> str:
    return f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'e2e:'\n"


async def pair(start_proxy, fakes, redis_server, extra: str = ""):
    text = two_claude_keys(fakes, shared(redis_server) + extra)
    return await start_proxy(text), await start_proxy(text)


async def test_round_robin_alternates_across_both(start_proxy, fakes, redis_server):
    a, b = await pair(start_proxy, fakes, redis_server)
    assert a.port != b.port
    for proxy in (a, b, a, b):
        status, body, _ = await _post(proxy, MSG)
        assert status == 200, body
    keys = _keys(fakes.claude)  # one cursor, not two (two would give a, a, b, b)
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[2] != keys[3], keys


async def test_a_cooldown_set_through_a_is_honoured_by_b(start_proxy, fakes, redis_server):
    a, b = await pair(start_proxy, fakes, redis_server)
    assert (await _post(b, MSG))[0] == 200  # B has read (and cached) the empty cooldown map
    fakes.claude.clear()
    fakes.claude.fail_key("sk-a", 429, retry_after=60)
    for _ in range(2):
        assert (await _post(a, MSG))[0] == 200
    assert _keys(fakes.claude).count("sk-a") == 1  # A tried it once, then cooled it
    for _ in range(50):  # pub/sub: B drops its cached map within milliseconds
        if await b.service.state.get_cooldowns("claude-sonnet-4-6"):
            break
        await asyncio.sleep(0.01)
    fakes.claude.clear()
    for _ in range(4):
        assert (await _post(b, MSG))[0] == 200
    assert _keys(fakes.claude) == ["sk-b"] * 4  # B never called the cooling key


async def test_affinity_made_on_a_holds_on_b(start_proxy, fakes, redis_server):
    a, b = await pair(start_proxy, fakes, redis_server, "routing:\n  session-affinity: true\n")
    served = []
    for proxy in (a, b, a, b, b):
        async with anthropic.AsyncAnthropic(
            base_url=proxy.url,
            api_key=KEY,
            max_retries=0,
            default_headers={"X-Claude-Code-Session-Id": "session-one"},
        ) as client:
            await client.messages.create(
                model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        served.append(_keys(fakes.claude)[-1])
    assert len(set(served)) == 1, served


async def test_redis_killed_mid_run_degrades_and_recovers(start_proxy, fakes, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="cliproxy.state.redis")
    a, b = await pair(start_proxy, fakes, redis_server)
    statuses = [(await _post(p, MSG))[0] for p in (a, b)]
    redis_server.kill()
    statuses += [(await _post(p, MSG))[0] for p in (a, b, a, b)]
    assert not a.service.state.available and not b.service.state.available
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 2  # one per process, not one per request
    redis_server.start()
    for _ in range(200):
        if a.service.state.available and b.service.state.available:
            break
        await asyncio.sleep(0.02)
    assert a.service.state.available and b.service.state.available
    fakes.claude.clear()
    statuses += [(await _post(p, MSG))[0] for p in (a, b, a, b)]
    assert statuses == [200] * 10  # no request lost
    keys = _keys(fakes.claude)  # one shared cursor again (the restarted Redis starts it over)
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[2] != keys[3], keys


async def test_a_key_added_through_a_management_api_works_on_b(start_proxy, fakes, redis_server, monkeypatch):
    """No watcher runs (``watch=False``): only the notification can bring the edit to B."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, fakes, redis_server)
    body = {"model": "claude-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}

    async def status_on(proxy, key: str) -> int:
        async with (
            aiohttp.ClientSession() as s,
            s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": key}) as r,
        ):
            return r.status

    assert await status_on(b, "client-new") == 401
    assert await mcall(a, "PUT", "/api-keys", [KEY, "client-new"]) == (200, {"status": "ok"})
    deadline = asyncio.get_running_loop().time() + 1.0
    while await status_on(b, "client-new") != 200:
        assert asyncio.get_running_loop().time() < deadline, "B did not take A's new key within a second"
        await asyncio.sleep(0.02)
    assert await status_on(b, KEY) == 200


async def test_a_management_ban_made_on_a_holds_on_b(start_proxy, fakes, redis_server, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, fakes, redis_server)
    assert (await mcall(b, "GET", "/api-keys"))[0] == 200
    for _ in range(5):
        assert (await mcall(a, "GET", "/api-keys", headers={"Authorization": "Bearer wrong"}))[0] == 401
    for _ in range(50):  # the ban travels by notification
        status, body = await mcall(b, "GET", "/api-keys")
        if status == 403:
            break
        await asyncio.sleep(0.02)
    assert status == 403 and "banned" in str(body)


async def test_an_auth_file_added_through_a_management_api_is_loaded_by_b(
    start_proxy, fakes, redis_server, monkeypatch
):
    """Both share the auth-dir (one host, or a token store); no watcher runs, so only the
    notification makes B read the directory again."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, fakes, redis_server)
    data = orjson.dumps(
        {
            "type": "claude",
            "access_token": "at-claude",
            "refresh_token": "rt",
            "expired": "2099-01-01T00:00:00Z",
            "email": "user@example.com",
            "base_url": fakes.claude.base_url,
        }
    )
    assert b.service.pool.get("claude-new.json") is None
    assert await mcall(a, "POST", "/auth-files?name=claude-new.json", data=data) == (200, {"status": "ok"})
    for _ in range(50):
        if b.service.pool.get("claude-new.json") is not None:
            break
        await asyncio.sleep(0.02)
    assert b.service.pool.get("claude-new.json") is not None
