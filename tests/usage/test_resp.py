"""The usage queue over the Redis protocol on the proxy's own port.

Ports CPA's ``internal/api/redis_queue_protocol_integration_test.go`` (``TestRedisProtocol_*``)
and adds a real Redis client (redis-py) popping records made by real requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from cliproxy.usage import recorder_of
from tests.usage.helpers import CLIENT_KEY, UPSTREAM_KEY, close_recorder

MKEY = "m-resp-secret"


def config(up: Any) -> str:
    return f"""
api-keys: ["{CLIENT_KEY}"]
usage-statistics-enabled: true
usage-ledger: {{enabled: false}}
openai-compatibility:
  - name: up
    base-url: "{up.base_url}/v1"
    api-key-entries: [{{api-key: "{UPSTREAM_KEY}"}}]
    models: [{{name: gpt-4o-mini, alias: m}}]
"""


@pytest.fixture
async def proxy(start_proxy, fake_openai, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    p = await start_proxy(config(fake_openai))
    yield p
    close_recorder(p)


def command(*args: str) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        raw = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(raw), raw)
    return out


class Raw:
    """A bare RESP connection (the CPA test's reader and writer helpers)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, *args: str) -> None:
        self.w.write(command(*args))
        await self.w.drain()

    async def line(self) -> bytes:
        return (await asyncio.wait_for(self.r.readuntil(b"\r\n"), 5))[:-2]

    async def bulk(self) -> bytes | None:
        head = await self.line()
        assert head[:1] == b"$", head
        size = int(head[1:])
        if size < 0:
            return None
        data = await asyncio.wait_for(self.r.readexactly(size + 2), 5)
        return data[:-2]

    async def array(self) -> list[Any]:
        head = await self.line()
        assert head[:1] == b"*", head
        out: list[Any] = []
        for _ in range(int(head[1:])):
            peek = await asyncio.wait_for(self.r.readexactly(1), 5)
            if peek == b":":
                out.append(int(await self.line()))
                continue
            rest = await self.line()
            size = int(rest)
            out.append(None if size < 0 else (await asyncio.wait_for(self.r.readexactly(size + 2), 5))[:-2])
        return out

    async def closed(self) -> bool:
        """Whether the proxy closed the connection (ours is closed either way)."""
        ended = await asyncio.wait_for(self.r.read(1), 5) == b""
        await self.close()
        return ended

    async def close(self) -> None:
        self.w.close()
        await self.w.wait_closed()


async def test_auth_and_pop_contracts(proxy):
    """CPA ``TestRedisProtocol_AUTH_And_PopContracts``."""
    conn = await Raw.open(proxy.port)
    await conn.send("LPOP", "usage")
    assert await conn.line() == b"-NOAUTH Authentication required."
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    queue = recorder_of(proxy.service).queue
    for item in (b"a", b"b", b"c"):
        queue.push(item)
    await conn.send("RPOP", "usage")
    assert await conn.bulk() == b"a"
    await conn.send("LPOP", "usage")
    assert await conn.bulk() == b"b"
    await conn.send("RPOP", "usage", "10")
    assert await conn.array() == [b"c"]
    await conn.send("LPOP", "usage")
    assert await conn.bulk() is None
    await conn.send("RPOP", "usage", "2")
    assert await conn.array() == []
    await conn.send("RPOP", "errors", "2")
    assert await conn.line() == b"-ERR unsupported channel 'errors'"
    await conn.send("LPOP", "usage", "0")
    assert await conn.line() == b"-ERR value is not an integer or out of range"
    await conn.send("FLUSHALL")
    assert await conn.line() == b"-ERR unknown command 'flushall'"
    await conn.close()


async def test_wrong_key_is_refused(proxy):
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", "wrong")
    assert (await conn.line()).startswith(b"-ERR invalid management key")
    await conn.send("AUTH")
    assert await conn.line() == b"-ERR wrong number of arguments for 'auth' command"
    await conn.close()


async def test_subscribe_usage_sends_support_refresh_then_records(proxy):
    """CPA ``TestRedisProtocol_SUBSCRIBE_UsageSendsSupportRefresh``, with a real request."""
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.send("SUBSCRIBE", "usage")
    assert await conn.array() == [b"subscribe", b"usage", 1]
    assert await conn.array() == [b"message", b"usage", b'{"support_refresh":true}']
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    kind, channel, payload = await conn.array()
    assert (kind, channel) == (b"message", b"usage")
    assert orjson.loads(payload)["alias"] == "m"
    await conn.send("PING", "x")
    assert await conn.array() == [b"pong", b"x"]
    await conn.send("UNSUBSCRIBE")
    assert await conn.array() == [b"unsubscribe", b"usage", 0]
    assert await conn.closed()


async def test_subscribe_errors_receives_failed_requests(proxy, fake_openai):
    """CPA ``TestRedisProtocol_SUBSCRIBE_ErrorsReceivesErrorEvents``."""
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.send("SUBSCRIBE", "errors")
    assert await conn.array() == [b"subscribe", b"errors", 1]
    fake_openai.fail_next(400)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    kind, channel, payload = await conn.array()
    assert (kind, channel) == (b"message", b"errors")
    event = orjson.loads(payload)
    cred = proxy.service.pool.credentials()[0]
    assert (event["status_code"], event["auth_index"], event["provider"]) == (400, cred.index, cred.provider)
    assert event["body"] and event["auth_status"] == {
        "status": "error",
        "disabled": False,
        "unavailable": False,
    }
    await conn.send("QUIT")
    assert await conn.line() == b"+OK"
    assert await conn.closed()


async def test_an_error_event_carries_the_cooled_models_state(proxy, fake_openai):
    """CPA: TestManagerMarkResultPublishesErrorEventAfterAuthStateUpdate: the event of a 429
    that cooled the credential shows the state it left: unavailable, the quota exceeded, and
    the model's own state with its retry time. Before, ``auth_status`` said only
    ``unavailable``. (CPA's ``code`` and ``retryable`` come from its own error values and
    are empty for an upstream's HTTP error, so cliproxy writes neither.)"""
    conn = await Raw.open(proxy.port)
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.send("SUBSCRIBE", "errors")
    assert await conn.array() == [b"subscribe", b"errors", 1]
    fake_openai.fail_next(429, message="quota")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    _, _, payload = await conn.array()
    status = orjson.loads(payload)["auth_status"]
    retry = status.pop("next_retry_after")
    quota = {"exceeded": True, "reason": "quota", "next_recover_at": retry}
    assert status == {
        "status": "error",
        "disabled": False,
        "unavailable": True,
        "quota": quota,
        "model": {
            "name": "m",
            "status": "error",
            "unavailable": True,
            "next_retry_after": retry,
            "quota": quota,
        },
    }
    await conn.send("QUIT")
    assert await conn.line() == b"+OK"
    assert await conn.closed()


async def test_management_disabled_closes_the_connection(start_proxy, fake_openai, monkeypatch):
    """CPA ``TestRedisProtocol_ManagementDisabled_RejectsConnection``."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    p = await start_proxy(config(fake_openai))
    try:
        conn = await Raw.open(p.port)
        await conn.send("AUTH", "anything")
        assert await conn.closed()
    finally:
        close_recorder(p)


async def test_redis_py_pops_records_of_real_requests(proxy):
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        for _ in range(3):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    r = aioredis.Redis(host="127.0.0.1", port=proxy.port, password=MKEY, socket_timeout=5, protocol=2)
    try:
        first = await r.lpop("usage")
        rest = await r.rpop("usage", 10)
        assert first is not None and len(rest) == 2
        records = [orjson.loads(x) for x in (first, *rest)]
        assert all(rec["alias"] == "m" and rec["failed"] is False for rec in records)
        assert await r.lpop("usage") is None
    finally:
        await r.aclose()
    noauth = aioredis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=5, protocol=2)
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            await noauth.lpop("usage")
    finally:
        await noauth.aclose()
    # the port still speaks HTTP to everyone else
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
