"""Usage counters and the usage queue shared by two cliproxy services on one real Redis:
requests through A and B count in the same counters (``/auth-files``, ``/api-key-usage``,
``/usage/keys`` on either show the sum) and a record made by A is popped through B."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _post, two_claude_keys
from tests.e2e.test_shared_state import shared
from tests.management.conftest import MANAGEMENT_KEY, mcall

USAGE = "usage-statistics-enabled: true\n"


@pytest.fixture(autouse=True)
def _management(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)


async def eventually(read: Any, want: Any, seconds: float = 2.0) -> Any:
    """``await read()`` until it equals ``want`` (the other process flushes every 100 ms)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        got = await read()
        if got == want or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.02)


def _key_usage_totals(body: dict[str, Any]) -> tuple[int, int, int]:
    entries = [e for bucket in body.values() for e in bucket.values()]
    recent = sum(b["success"] for e in entries for b in e["recent_requests"])
    return sum(e["success"] for e in entries), sum(e["failed"] for e in entries), recent


async def test_api_key_usage_on_either_shows_the_sum(start_proxy, fakes, redis_server):
    text = two_claude_keys(fakes, shared(redis_server) + USAGE)
    a, b = await start_proxy(text), await start_proxy(text)
    for proxy in (a, a, b):
        assert (await _post(proxy, MSG))[0] == 200
    fakes.claude.fail_key("sk-a", 400)
    fakes.claude.fail_key("sk-b", 400)
    assert (await _post(b, MSG))[0] == 400

    async def totals(proxy: Any) -> tuple[int, int, int]:
        status, body = await mcall(proxy, "GET", "/api-key-usage")
        assert status == 200
        return _key_usage_totals(body)

    assert await eventually(lambda: totals(a), (3, 1, 3)) == (3, 1, 3)
    assert await totals(b) == (3, 1, 3)

    async def keys(proxy: Any) -> list[tuple[str, int, int, int]]:
        status, body = await mcall(proxy, "GET", "/usage/keys")
        assert status == 200
        return [(k["api_key"], k["success"], k["failed"], k["total_tokens"] > 0) for k in body["keys"]]

    for proxy in (a, b):  # one client key, its label shared too
        [(label, ok, bad, tokens)] = await keys(proxy)
        assert (ok, bad, tokens) == (3, 1, True) and label


async def test_auth_files_on_either_shows_the_sum(start_proxy, fakes, redis_server, tmp_path):
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / "claude-user.json").write_bytes(
        orjson.dumps(
            {
                "type": "claude",
                "access_token": "at-claude",
                "refresh_token": "rt",
                "expired": "2099-01-01T00:00:00Z",
                "email": "user@example.com",
                "base_url": fakes.claude.base_url,
            }
        )
    )
    text = f'api-keys: ["{KEY}"]\n' + shared(redis_server) + USAGE
    a, b = await start_proxy(text), await start_proxy(text)
    body = {**MSG, "model": "claude-sonnet-4-6"}
    for proxy in (a, b, b):
        status, answer, _ = await _post(proxy, body)
        assert status == 200, answer

    async def counts(proxy: Any) -> tuple[int, int, int]:
        status, listing = await mcall(proxy, "GET", "/auth-files")
        assert status == 200
        [entry] = listing["files"]
        return entry["success"], entry["failed"], sum(r["success"] for r in entry["recent_requests"])

    assert await eventually(lambda: counts(a), (3, 0, 3)) == (3, 0, 3)
    assert await counts(b) == (3, 0, 3)


async def test_a_record_queued_by_a_is_popped_through_b(start_proxy, fakes, redis_server):
    text = two_claude_keys(fakes, shared(redis_server) + USAGE)
    a, b = await start_proxy(text), await start_proxy(text)
    assert (await _post(a, MSG))[0] == 200
    assert (await _post(b, MSG))[0] == 200

    async def pop(proxy: Any) -> list[Any]:
        status, records = await mcall(proxy, "GET", "/usage-queue?count=10")
        assert status == 200
        return records

    records: list[Any] = []
    deadline = asyncio.get_running_loop().time() + 2.0
    while len(records) < 2 and asyncio.get_running_loop().time() < deadline:
        records += await pop(b)
        await asyncio.sleep(0.02)
    assert len(records) == 2  # A's record and B's own, once each
    assert len({r["request_id"] for r in records}) == 2
    assert all(r["model"] == "claude-sonnet-4-6" and r["failed"] is False for r in records)
    assert await pop(a) == [] and await pop(b) == []  # popped once, from every process


async def test_resp_lpop_on_b_returns_a_record_made_by_a(start_proxy, fakes, redis_server):
    """The RESP usage queue (redis-py against B's own port) pops what A recorded."""
    text = two_claude_keys(fakes, shared(redis_server) + USAGE)
    a, b = await start_proxy(text), await start_proxy(text)
    assert (await _post(a, MSG))[0] == 200
    r = aioredis.Redis(host="127.0.0.1", port=b.port, password=MANAGEMENT_KEY, socket_timeout=5, protocol=2)
    try:
        found: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + 2.0
        while not found and asyncio.get_running_loop().time() < deadline:
            found = await r.lpop("usage", 10) or []
            await asyncio.sleep(0.02)
        assert len(found) == 1 and orjson.loads(found[0])["model"] == "claude-sonnet-4-6"
        assert await r.lpop("usage") is None
    finally:
        await r.aclose()


async def test_records_made_while_redis_is_away_are_flushed_when_it_returns(start_proxy, fakes, redis_server):
    text = two_claude_keys(fakes, shared(redis_server) + USAGE)
    a, b = await start_proxy(text), await start_proxy(text)
    redis_server.kill()
    assert (await _post(a, MSG))[0] == 200  # served on local state
    redis_server.start()
    deadline = asyncio.get_running_loop().time() + 3.0
    while not (a.service.state.available and b.service.state.available):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    records: list[Any] = []
    while not records and asyncio.get_running_loop().time() < deadline:
        records = (await mcall(b, "GET", "/usage-queue"))[1]
        await asyncio.sleep(0.02)
    assert len(records) == 1 and records[0]["model"] == "claude-sonnet-4-6"
    status, body = await mcall(b, "GET", "/api-key-usage")
    assert status == 200 and _key_usage_totals(body)[:2] == (1, 0)
