"""Whether the client of the request being served is still connected.

The server puts the client's transport in :data:`CLIENT` where a request enters (one
``ContextVar.set``; the request's task and the tasks it spawns see it, no other request
does). A wait the proxy chooses to make on the client's behalf (a short pause before asking
an upstream again) goes through :func:`pause`, which ends early once the client has gone
away: nobody would read the answer. Gone means the connection was reset or the client sent
its end of stream, as Go's server (CPA's) ends a request's context at the client's EOF; the
server still answers a client that half-closes (it may read the answer), but waits made for
it stop.

A leaf module: anything may import it, it imports nothing of cliproxy.
"""

from __future__ import annotations

import asyncio
import socket
from contextvars import ContextVar

__all__ = ["CLIENT", "STEP", "client_gone", "pause"]

CLIENT: ContextVar[asyncio.BaseTransport | None] = ContextVar("cliproxy_client", default=None)
STEP = 0.1  # how often a pause looks at the client's connection, in seconds


def client_gone() -> bool:
    """The current request's client closed or reset its connection (False outside a
    request). The server may have stopped reading the connection while it works, so the
    socket itself is asked: a peek that finds the end of the stream or an error means gone,
    one that would block (or finds the client's next request) means still there."""
    transport = CLIENT.get()
    if transport is None:
        return False
    if transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        with sock.dup() as peer:  # (asyncio's socket wrapper offers no recv of its own)
            return not peer.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


async def pause(seconds: float) -> bool:
    """Sleep ``seconds`` (at most), looking at the client every :data:`STEP`; False as soon
    as the client has gone, True when the whole pause was slept. A cancelled task stops
    here as anywhere."""
    loop = asyncio.get_running_loop()
    end = loop.time() + max(0.0, seconds)
    while True:
        if client_gone():
            return False
        left = end - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(STEP, left))
