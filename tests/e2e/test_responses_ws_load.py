"""Many Responses WebSockets at once: 200 client sockets, each with its own upstream
socket, several turns each; afterwards every socket is closed on both sides and neither
file descriptors nor memory stayed behind (the fakes run in this process too)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import TERMINAL, ws_config

SOCKETS = 200
TURNS = 2


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def one_socket(session: aiohttp.ClientSession, url: str, n: int, turns: int) -> int:
    completed = 0
    async with session.ws_connect(url, headers={"Authorization": f"Bearer {KEY}"}) as ws:
        for t in range(turns):
            message: dict[str, Any] = {
                "type": "response.create",
                "model": "codex-model",
                "input": f"s{n} t{t}",
            }
            if t:
                message = {"type": "response.append", "input": [{"role": "user", "content": f"t{t}"}]}
            await ws.send_str(json.dumps(message))
            while True:
                event = json.loads((await ws.receive(timeout=30)).data)
                if event["type"] in TERMINAL:
                    completed += event["type"] == "response.completed"
                    break
    return completed


async def wave(proxy: Any, count: int, turns: int = TURNS) -> int:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        done = await asyncio.gather(
            *(one_socket(session, proxy.url + "/v1/responses", n, turns) for n in range(count))
        )
    return sum(done)


async def settle(proxy: Any, fake: Any, fds: int | None = None) -> None:
    """Until both sides closed every socket (closing handshakes finish in the background)."""
    for _ in range(250):
        gc.collect()
        if (
            proxy.service.ws_upstream.open_sockets == 0
            and getattr(fake, "ws_open", 0) == 0
            and (fds is None or open_fds() <= fds + 5)
        ):
            return
        await asyncio.sleep(0.02)


async def test_200_sockets_at_once_leave_nothing_behind(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes))
    fds = open_fds()
    # a first wave brings pools, caches and the allocator to their working size
    assert await wave(proxy, SOCKETS, 1) == SOCKETS
    await settle(proxy, fakes.responses, fds)
    rss = rss_mb()
    started = time.monotonic()
    assert await wave(proxy, SOCKETS) == SOCKETS * TURNS  # the same again: nothing may pile up
    elapsed = time.monotonic() - started
    await settle(proxy, fakes.responses, fds)
    assert proxy.service.ws_upstream.open_sockets == 0 and fakes.responses.ws_open == 0
    assert fakes.responses.ws_opened == 2 * SOCKETS  # one upstream socket per client socket
    assert open_fds() <= fds + 5, (fds, open_fds())
    grown = rss_mb() - rss
    assert grown < 15, f"RSS grew by {grown:.1f} MB over the second {SOCKETS} sockets"
    print(
        f"\n{SOCKETS} sockets x {TURNS} turns in {elapsed:.2f}s; fds {fds}->{open_fds()}, RSS {grown:+.1f} MB"
    )
