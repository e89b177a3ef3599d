"""The usage queue's Redis protocol (RESP) on the main port, before a client authenticates:
it is reachable by anyone who can reach the proxy while management is on (the key is asked
for by ``AUTH``), so a client without the key must not hold sockets or memory at will."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from cliproxy.usage import resp as resp_module
from tests.usage.test_resp import MKEY, Raw, command
from tests.usage.test_resp import config as resp_config


@pytest.fixture
async def mproxy(start_proxy, fake_openai, monkeypatch):
    async def start(extra: str = "") -> object:
        monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
        return await start_proxy(resp_config(fake_openai) + extra)

    return start


async def test_an_unauthenticated_connection_is_closed_however_busy(mproxy, monkeypatch):
    """``AUTH_TIMEOUT`` counts from the connection's start. Before, every command (each
    answered NOAUTH) re-armed it, so a client without the key that sent one command every
    few seconds held its socket for ever; now it is closed on time, and one that
    authenticated in time is not."""
    monkeypatch.setattr(resp_module, "AUTH_TIMEOUT", 0.4)
    proxy = await mproxy()
    conn = await Raw.open(proxy.port)
    good = await Raw.open(proxy.port)
    await good.send("AUTH", MKEY)
    assert await good.line() == b"+OK"
    loop = asyncio.get_running_loop()
    started = loop.time()
    closed_at = None
    while loop.time() - started < 1.5:
        try:
            await conn.send("LPOP", "usage")
            reply = await conn.r.readuntil(b"\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            closed_at = loop.time() - started
            break
        assert reply == b"-NOAUTH Authentication required.\r\n"
        await asyncio.sleep(0.05)
    assert closed_at is not None, "the unauthenticated connection was still open after 1.5 s"
    assert closed_at < 1.0
    with contextlib.suppress(ConnectionError):
        await conn.close()
    await good.send("LPOP", "usage")
    assert await good.bulk() is None  # the authenticated one is served after AUTH_TIMEOUT
    await good.close()


@pytest.mark.parametrize("cap", ["max-connections: 3", "max-connections-per-ip: 3"])
async def test_resp_connections_count_against_the_connection_caps(mproxy, cap):
    """A RESP connection is a client socket like any other: it counts against
    ``limits.max-connections`` and ``limits.max-connections-per-ip``. Before, a
    connection left the guard's count once its first byte was a RESP prefix, so a client
    without the key could open any number of them (each an open file of the proxy's
    budget, which the caps keep for HTTP clients and upstream sockets)."""
    proxy = await mproxy(f"limits:\n  {cap}\n")
    held = [await Raw.open(proxy.port) for _ in range(3)]
    for conn in held:
        await conn.send("LPOP", "usage")
        assert await conn.line() == b"-NOAUTH Authentication required."
    extra = await Raw.open(proxy.port)
    extra.w.write(command("AUTH", MKEY))
    head = await asyncio.wait_for(extra.r.read(64), 5)
    assert head.startswith(b"HTTP/1.1 503"), head  # the guard's refusal: no room
    await extra.close()
    await held[0].close()
    await asyncio.sleep(0.05)
    again = await Raw.open(proxy.port)  # a closed one gave its place back
    await again.send("AUTH", MKEY)
    assert await again.line() == b"+OK"
    for conn in [*held[1:], again]:
        await conn.close()
