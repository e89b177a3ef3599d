"""Whether the client of the request being served is still connected.

The server puts the client's transport in :data:`CLIENT` where a request enters (one
``ContextVar.set``; the request's task and the tasks it spawns see it, no other request
does). A wait the proxy chooses to make on the client's behalf (a short pause before asking
an upstream again) goes through :func:`pause`, which ends early once the client has gone
away: nobody would read the answer. Gone means the connection was reset or the client sent
its end of stream, as Go's server (CPA's) ends a request's context at the client's EOF; the
server still answers a client that half-closes (it may read the answer), but waits made for
it stop.

A client that closed its socket and one that only half-closed (``nc -N``) look alike to the
server until it writes: only the first answers a write with a reset. :func:`watch` tells
them apart for a request whose answer has not started: it writes an interim
``100 Continue`` (any HTTP/1.1 client reads and drops one, RFC 9110 15.2) and looks at the
connection's TCP state every :data:`STEP`; a reset means the client left, and the server
then drops the connection, which cancels the request's task (its upstream call with it).

A leaf module: anything may import it, it imports nothing of cliproxy.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from contextvars import ContextVar

__all__ = ["CLIENT", "PROBE", "STEP", "client_gone", "pause", "peer_reset", "watch"]

CLIENT: ContextVar[asyncio.BaseTransport | None] = ContextVar("cliproxy_client", default=None)
STEP = 0.1  # how often a pause looks at the client's connection, in seconds
PROBE = b"HTTP/1.1 100 Continue\r\n\r\n"  # an interim answer: what a client that left resets
_TCP_CLOSE = 7  # Linux's TCP_CLOSE, the first byte of TCP_INFO: the peer reset the connection
_TCP_INFO = getattr(socket, "TCP_INFO", None)


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


def peer_reset(transport: asyncio.BaseTransport) -> bool:
    """The connection was reset by its peer (its TCP state is closed): False where the
    system does not say (no ``TCP_INFO``), or for a transport without a socket."""
    sock = transport.get_extra_info("socket")
    if sock is None or _TCP_INFO is None:
        return False
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0] == _TCP_CLOSE)
    except (OSError, IndexError):
        return False


def watch(transport: asyncio.WriteTransport, busy: Callable[[], bool]) -> None:
    """The client sent its end of stream while its HTTP/1.1 request is answered and nothing
    of the answer went out yet: write :data:`PROBE`, then look for a reset every
    :data:`STEP` while ``busy()`` (the request is not answered yet) and the connection is
    open; at a reset, abort the connection (its loss cancels the request)."""
    if _TCP_INFO is None or transport.is_closing():
        return
    transport.write(PROBE)
    loop = asyncio.get_running_loop()

    def look() -> None:
        if transport.is_closing() or not busy():
            return
        if peer_reset(transport):
            transport.abort()
            return
        loop.call_later(STEP, look)

    loop.call_later(STEP / 2, look)
