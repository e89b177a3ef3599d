"""Two WebSockets joined: every message of one goes to the other as it comes, text as text
and binary as binary (CPA ``relayWebsockets``).

The first side to end decides how both close: a close frame's code and reason are passed on
(1005, 1006 and 1015, which no peer may send, become 1000); a broken socket (a read or write
error, a peer that stopped answering pings) closes both with 1011 "relay closed"; no message
either way for ``idle`` seconds closes both with 1000 "idle timeout". A write that cannot
finish within :data:`WRITE_TIMEOUT` seconds is a broken socket.

``watch``, when given, sees each upstream text frame once it is on its way to the client
(the usage of the socket's responses and transcriptions, ``cliproxy.realtime.ResponseUsage``).

``wslog``, when given (``request-log: true``), gets every frame on both of its timelines
(``cliproxy.usage.timeline``): a client frame is ``websocket.request`` when read and
``api.websocket.request`` once sent upstream; an upstream frame ``api.websocket.response``
when read and ``websocket.response`` once sent to the client. A binary frame is logged by
its size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType

from cliproxy.usage.timeline import SessionLog, Timeline

__all__ = ["RELAY_BROKEN", "RELAY_IDLE", "WRITE_TIMEOUT", "Ended", "relay"]

WRITE_TIMEOUT = 30.0
_UNSENDABLE = frozenset({1005, 1006, 1015})
_ENDED = frozenset({WSMsgType.CLOSING, WSMsgType.CLOSED})
_BROKEN = RELAY_BROKEN = (1011, "relay closed")  # a broken socket: how both close
RELAY_IDLE = (1000, "idle timeout")
Ended = tuple[int, str, bool]  # the close code and reason both got; whether the client ended


async def relay(
    client: Any,
    upstream: Any,
    idle: float | None,
    watch: Callable[[bytes], None] | None = None,
    wslog: SessionLog | None = None,
) -> Ended:
    """Relay until one side ends; both are closed on return. ``client`` and ``upstream``
    are aiohttp WebSockets made with ``autoclose=False``."""
    loop = asyncio.get_running_loop()
    seen = [loop.time()]  # when a message last went by, either way
    up = down = None
    if wslog is not None:
        up = _Logged(wslog.client, "websocket.request", wslog.api, "api.websocket.request")
        down = _Logged(wslog.api, "api.websocket.response", wslog.client, "websocket.response")
    from_client = asyncio.create_task(_pump(client, upstream, seen, loop, None, up))
    pumps = {from_client, asyncio.create_task(_pump(upstream, client, seen, loop, watch, down))}
    outcome = RELAY_IDLE
    by_client = False
    try:
        while True:
            wait = None if idle is None else max(0.0, seen[0] + idle - loop.time())
            done, _ = await asyncio.wait(pumps, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if done:
                first = done.pop()
                outcome, by_client = first.result(), first is from_client
                break
            if idle is not None and loop.time() - seen[0] >= idle:
                break
    finally:
        code, reason = outcome
        for ws in (client, upstream):
            await _close(ws, code, reason)
        for task in pumps:
            task.cancel()
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return code, reason, by_client


class _Logged:
    """Where one direction's frames are logged: as read, then as sent on."""

    __slots__ = ("read", "read_event", "sent", "sent_event")

    def __init__(self, read: Timeline, read_event: str, sent: Timeline, sent_event: str) -> None:
        self.read, self.read_event, self.sent, self.sent_event = read, read_event, sent, sent_event

    def frame(self, timeline: Timeline, event: str, data: bytes, kind: WSMsgType) -> None:
        if kind is WSMsgType.TEXT:
            timeline.add(event, data)
        else:
            timeline.binary(event, len(data))


async def _pump(
    source: Any,
    sink: Any,
    seen: list[float],
    loop: asyncio.AbstractEventLoop,
    watch: Callable[[bytes], None] | None,
    logged: _Logged | None = None,
) -> tuple[int, str]:
    """``source``'s messages into ``sink`` until ``source`` ends: how both should close."""
    while True:
        try:
            msg = await source.receive()
        except Exception:
            return _BROKEN
        kind = msg.type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            seen[0] = loop.time()
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if logged is not None:
                logged.frame(logged.read, logged.read_event, data, kind)
            try:
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await sink.send_frame(data, kind)
            except Exception:
                return _BROKEN
            if logged is not None:
                logged.frame(logged.sent, logged.sent_event, data, kind)
            if watch is not None and kind is WSMsgType.TEXT:
                watch(data)
        elif kind is WSMsgType.CLOSE:
            code = msg.data if isinstance(msg.data, int) else 1000
            if code in _UNSENDABLE:
                return 1000, ""
            return code, msg.extra if isinstance(msg.extra, str) else ""
        elif kind in _ENDED:
            return 1000, ""
        elif kind is WSMsgType.ERROR:
            return _BROKEN
        # PING / PONG: answered by aiohttp (autoping)


async def _close(ws: Any, code: int, reason: str) -> None:
    if ws.closed:
        return
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=reason.encode()[:123])  # a close reason's limit
