"""A closed Responses WebSocket leaves nothing of its connection behind.

aiohttp reports a WebSocket's access (``log_access``) when its handler returns, which is
after the connection was lost; the guard took that as the connection going idle and armed
its keep-alive timer (``timeouts.client-keepalive``, 75 s) on the dead connection. The
timer held the connection's handler, and through it the request, the socket and its
transport, for those 75 s after every closed socket: a client opening and dropping
sockets kept rate x 75 s of them in memory.
"""

from __future__ import annotations

import asyncio
import gc
import json

import aiohttp

from cliproxy.server.guard import GuardedHandler
from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import TERMINAL, ws_config

SOCKETS = 20


def handlers() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is GuardedHandler)


async def one_socket(session: aiohttp.ClientSession, url: str, n: int) -> None:
    async with session.ws_connect(url, headers={"Authorization": f"Bearer {KEY}"}) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": f"s{n}"}))
        if n % 2:  # every other client goes away mid-turn
            return
        while json.loads((await ws.receive(timeout=10)).data)["type"] not in TERMINAL:
            pass


async def test_closed_sockets_release_their_connection_handlers(start_proxy, fakes) -> None:
    proxy = await start_proxy(ws_config(fakes))
    before = handlers()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_socket(session, proxy.url + "/v1/responses", n) for n in range(SOCKETS)))
    left = SOCKETS
    for _ in range(10):  # the closing handshakes and the handlers' ends run in the background
        await asyncio.sleep(0.2)
        left = handlers() - before
        if left <= 0:
            break
    assert left <= 0, f"{left} connection handlers of closed sockets are still alive"
