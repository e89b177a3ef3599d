"""The usage queue's Redis protocol (RESP) on the main port, before a client authenticates:
it is reachable by anyone who can reach the proxy while management is on (the key is asked
for by ``AUTH``), so a client without the key must not hold sockets or memory at will."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket

import pytest

from cliproxy.usage import resp as resp_module
from cliproxy.usage.resp import RespSession
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


def _sessions() -> list[RespSession]:
    return [o for o in gc.get_objects() if isinstance(o, RespSession)]


async def test_a_client_that_does_not_read_cannot_fill_memory(mproxy):
    """A client that sends commands and never reads the answers: the proxy stops reading
    from it once answers pile up (as Redis and CPA's blocking writer do). Before, every
    command was parsed and answered at once (4 MB of ``PING`` commands: 300,000 queued
    commands and about 10 MB of ``-NOAUTH`` answers buffered for a client that reads
    nothing, without key, for as long as it keeps sending); now what is buffered stays small."""
    proxy = await mproxy()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", proxy.port))
    payload = command("PING") * 900_000  # 12.6 MB, each answered with 34 bytes of NOAUTH
    sent = 0
    try:
        async with asyncio.timeout(1):
            while sent < len(payload):
                await loop.sock_sendall(sock, payload[sent : sent + 65536])
                sent += 65536
    except TimeoutError:
        pass  # the proxy stopped reading: what matters is what it holds
    await asyncio.sleep(0.3)
    sessions = [s for s in _sessions() if s._transport is not None and not s._closing]
    assert len(sessions) == 1
    session = sessions[0]
    assert session._transport is not None
    buffered = session._transport.get_write_buffer_size()
    queued = len(session._commands)
    sock.close()
    assert buffered < 1 << 20, f"{buffered} bytes of answers buffered for a client that reads nothing"
    assert queued < 100_000, f"{queued} commands queued"


async def test_an_empty_command_is_answered_and_the_connection_goes_on(mproxy):
    """``*0`` (an array of no strings) is CPA's "ERR empty command", and the connection
    goes on. Before, it stopped the session's reader with an IndexError: nothing more was
    answered, and every command the client sent after it was queued in memory unread."""
    proxy = await mproxy()
    conn = await Raw.open(proxy.port)
    conn.w.write(b"*0\r\n")
    assert await conn.line() == b"-ERR empty command"
    await conn.send("AUTH", MKEY)
    assert await conn.line() == b"+OK"
    await conn.close()
