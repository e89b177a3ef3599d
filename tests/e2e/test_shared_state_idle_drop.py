"""The notification channel after its connection was dropped silently on the way (a load
balancer or NAT forgetting an idle flow: no FIN, no RST, the bytes simply go nowhere):
the subscriber notices within its keepalive and subscribes again, so edits made after
that reach it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from cliproxy.state import redis as redis_state
from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _post, two_claude_keys
from tests.management.conftest import MANAGEMENT_KEY, mcall


class Relay:
    """A TCP relay to Redis; :meth:`drop` makes every connection open so far a black hole
    (kept open, its bytes discarded both ways) while new connections pass as before."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.generation = 0
        self.opened = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def drop(self) -> None:
        self.generation += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        born = self.generation
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst, born))
            self.tasks.add(task)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, born: int) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(65536):
                if born == self.generation:
                    dst.write(data)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 5)


@pytest.fixture
async def relay(redis_server: Any) -> Any:
    relay = Relay(redis_server.port)
    await relay.start()
    yield relay
    await relay.close()


async def test_a_silently_dropped_channel_is_noticed_and_subscribed_again(
    start_proxy, fakes, redis_server, relay, monkeypatch
):
    """Before, the subscriber read its connection with no limit: after a silent drop it
    waited forever, and no config edit, auth-dir reload, ban or cooldown notice reached this
    process again until it restarted."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    monkeypatch.setattr(redis_state, "LISTEN_KEEPALIVE", 0.2)
    direct = two_claude_keys(fakes, f"state:\n  backend: redis\n  url: {redis_server.url}\n")
    via_relay = direct.replace(f":{redis_server.port}/", f":{relay.server.sockets[0].getsockname()[1]}/")
    b = await start_proxy(via_relay)
    a = await start_proxy(direct)
    for _ in range(100):  # B's subscriber is connected through the relay
        if relay.opened:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    relay.drop()
    opened = relay.opened
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while relay.opened == opened:  # B subscribes again on a new connection
        assert loop.time() < deadline, "B never noticed its channel was gone"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the SUBSCRIBE is answered
    assert await mcall(a, "PUT", "/api-keys", [KEY, "client-new"]) == (200, {"status": "ok"})
    deadline = loop.time() + 5
    while "client-new" not in b.service.config.api_keys:
        assert loop.time() < deadline, "B did not hear A's edit"
        await asyncio.sleep(0.02)


async def test_a_silently_dropped_cursor_link_is_replaced(start_proxy, fakes, redis_server, relay, caplog):
    """The per-request round-robin link is a connection of its own: a command it sent that
    went unanswered (1 s) now closes it, so the next request opens a new one. Before, the
    link kept writing into the dead connection: every request waited the full second, took
    Redis for unreachable (a WARNING) and the probe brought it back at once, for as long as
    the process ran."""
    caplog.set_level(logging.WARNING, "cliproxy.state")
    port = relay.server.sockets[0].getsockname()[1]
    text = two_claude_keys(fakes, f"state:\n  backend: redis\n  url: redis://127.0.0.1:{port}/0\n")
    proxy = await start_proxy(text)
    assert (await _post(proxy, MSG))[0] == 200  # the link is open
    relay.drop()
    assert (await _post(proxy, MSG))[0] == 200  # served on local state after the 1 s limit
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not proxy.service.state.available:  # the probe finds Redis again
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    caplog.clear()
    for _ in range(3):
        started = loop.time()
        assert (await _post(proxy, MSG))[0] == 200
        assert loop.time() - started < 0.5
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
