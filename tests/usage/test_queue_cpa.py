"""The usage queue's subscriber rules against CPA's internal/redisqueue/queue_test.go."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import openai
import pytest

from cliproxy.usage import recorder_of
from cliproxy.usage.queue import UsageQueue
from tests.usage.helpers import CLIENT_KEY, close_recorder
from tests.usage.test_resp import MKEY, Raw, proxy  # noqa: F401  (proxy: a fixture)


def test_a_record_goes_to_every_subscriber_instead_of_the_queue() -> None:
    """CPA: TestEnqueueBroadcastsToUsageSubscribersAndSkipsQueue."""
    queue = UsageQueue()
    first: list[bytes] = []
    second: list[bytes] = []
    a, b = queue.subscribe(first.append), queue.subscribe(second.append)
    queue.push(b"usage-record")
    assert first == second == [b"usage-record"]
    assert queue.pop(1) == []
    queue.unsubscribe(a)
    queue.unsubscribe(b)
    queue.push(b"queued-record")
    assert queue.pop(1) == [b"queued-record"]
    assert first == second == [b"usage-record"]


def test_turning_the_queue_off_closes_its_subscribers() -> None:
    """CPA: TestSetEnabledFalseClosesUsageSubscribers. ``clear`` is what the recorder runs
    when management is turned off, on both the usage and the errors queue: each subscriber
    is marked closed and told so with an empty record (its connection then ends)."""
    queue = UsageQueue()
    got: list[bytes] = []
    sub = queue.subscribe(got.append)
    queue.clear()
    assert sub.closed and got == [b""] and not queue.subscribers
    queue.push(b"after")
    assert got == [b""]


async def test_error_events_without_a_subscriber_are_discarded(proxy, fake_openai):  # noqa: F811
    """CPA: TestEnqueueErrorBroadcastsToErrorSubscribersAndDiscardsWithoutSubscribers. A
    failed request while a ``SUBSCRIBE errors`` client listens reaches it; one after the
    client left is not kept anywhere."""
    errors = recorder_of(proxy.service).errors
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.send("SUBSCRIBE", "errors")
    assert await conn.array() == [b"subscribe", b"errors", 1]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        fake_openai.fail_next(400)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        kind, channel, _ = await conn.array()
        assert (kind, channel) == (b"message", b"errors")
        await conn.send("UNSUBSCRIBE")
        assert await conn.array() == [b"unsubscribe", b"errors", 0]
        assert await conn.closed()
        fake_openai.fail_next(400)
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(errors) == 0 and errors.pop(10) == []


async def test_the_refresh_notice_reaches_usage_subscribers_only(start_proxy, monkeypatch):
    """CPA: TestNotifyUsageRefreshBroadcastsOnlyToUsageSubscribers. A reload tells the
    ``SUBSCRIBE usage`` client ``{"refresh":true}`` (after its ``support_refresh``
    greeting), while a ``SUBSCRIBE errors`` client is told nothing (its next message is the
    answer to its own PING). With nobody listening, a reload's notice is not kept: the
    usage queue stays empty over RESP and over HTTP."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    running = await start_proxy("api-keys: [k]\nusage-ledger: {enabled: false}\n", watch=True)
    svc = running.service
    usage, errors = await Raw.open(running.port), await Raw.open(running.port)
    try:
        for conn, channel in ((usage, "usage"), (errors, "errors")):
            await conn.send("AUTH", MKEY)
            assert await conn.line() == b"+OK"
            await conn.send("SUBSCRIBE", channel)
            assert await conn.array() == [b"subscribe", channel.encode(), 1]
        assert await usage.array() == [b"message", b"usage", b'{"support_refresh":true}']
        await _reload(svc, "request-retry: 2\n")
        assert await usage.array() == [b"message", b"usage", b'{"refresh":true}']
        await errors.send("PING", "x")
        assert await errors.array() == [b"pong", b"x"]
        await usage.send("UNSUBSCRIBE")
        assert await usage.array() == [b"unsubscribe", b"usage", 0]
        assert await usage.closed()
        await _reload(svc, "max-retry-interval: 7\n")
        async with aiohttp.ClientSession() as s:
            url = running.url + "/v0/management/usage-queue?count=5"
            async with s.get(url, headers={"Authorization": f"Bearer {MKEY}"}) as r:
                assert r.status == 200 and await r.json() == []
        pop = await Raw.open(running.port)
        await pop.send("AUTH", MKEY)
        assert await pop.line() == b"+OK"
        await pop.send("LPOP", "usage")
        assert await pop.bulk() is None
        await pop.close()
    finally:
        await usage.close()
        await errors.close()
        close_recorder(running)


async def _reload(svc, line: str) -> None:  # type: ignore[no-untyped-def]
    before = svc.reloads
    path = svc.config_path
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(path.read_text() + line)
    os.replace(tmp, path)
    async with asyncio.timeout(10):
        while svc.reloads == before:
            await asyncio.sleep(0.01)
