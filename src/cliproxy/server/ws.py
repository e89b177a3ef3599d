"""The Responses WebSocket routes (``GET /v1/responses``, ``/backend-api/codex/responses``):
the upgrade and the frames. What a message means is ``cliproxy.responses_ws``.

Access control is the HTTP routes': the middleware checks the client key (``Authorization``,
``?key=``...), the loopback rule of an open proxy and its ``Origin`` check before this
handler runs, so a refused client gets an HTTP error instead of an upgrade.

One reader task takes the client's frames; turns run one at a time, in order (a message
sent during a turn waits for it). When the client goes away mid-turn the turn is
cancelled at once, which releases its upstream stream (and closes a kept upstream socket
mid-turn). Limits: a ping every :data:`HEARTBEAT` seconds (a peer that does not answer is
dropped), ``timeouts.client-websocket-idle`` (default :data:`IDLE` seconds) without a
message between turns closes the socket (1000, "idle timeout"), a message larger than ``limits.max-body-mb`` closes it (1009). Every upstream
wait has the upstream timeouts. No compression is negotiated (CPA neither). A client that
vanishes without a close frame (a FIN) is let go at once (``server.guard``); on shutdown
every open socket is closed with 1001 (going away).

With ``request-log: true`` the socket is one request log (``cliproxy.usage.timeline``):
each message read and each event sent is a timeline event, and how the socket ended is
its last (``websocket.disconnect``); the log is written when the socket is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from cliproxy.responses_ws import Close, ResponsesSession, WireInfo
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import error_response
from cliproxy.usage.hooks import recorder_of
from cliproxy.usage.mask import mask_query
from cliproxy.usage.timeline import SessionLog

__all__ = ["HEARTBEAT", "IDLE", "install", "responses_websocket"]

log = logging.getLogger(__name__)

HEARTBEAT = 30.0
IDLE = 600.0
TURN_STATE = "x-codex-turn-state"
# the sockets open now: closed (1001, going away) when the server shuts down, which would
# otherwise wait for each of them until its shutdown timeout
OPEN: web.AppKey[weakref.WeakSet[Any]] = web.AppKey("responses_sockets", weakref.WeakSet)


def install(app: web.Application) -> None:
    """Track the app's Responses sockets and close them on shutdown."""
    sockets: weakref.WeakSet[Any] = weakref.WeakSet()
    app[OPEN] = sockets

    async def close_all(app: web.Application) -> None:
        for ws in list(sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    app.on_shutdown.append(close_all)


async def responses_websocket(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT,
        compress=False,
        max_msg_size=service.config.limits.max_body_bytes,
        decode_text=False,
    )
    if not ws.can_prepare(request).ok:
        resp = error_response(
            client_format(request), 426, "this endpoint is a WebSocket: send an Upgrade: websocket request"
        )
        resp.headers["Upgrade"] = "websocket"
        return resp
    turn_state = request.headers.get(TURN_STATE, "").strip()
    if turn_state:  # kept across reconnects (CPA)
        ws.headers[TURN_STATE] = turn_state
    await ws.prepare(request)
    if (open_sockets := request.app.get(OPEN)) is not None:
        open_sockets.add(ws)
    principal = request.get(PRINCIPAL_KEY)
    resource = request.match_info.route.resource
    wire = WireInfo(
        path=request.path,
        query_string=request.query_string,
        route=resource.canonical if resource is not None else request.path,
        api_key=(principal.key or "") if principal is not None else "",
        client_ip=request.remote or "",
    )
    recorder = recorder_of(service)
    wslog = recorder.session_log(_logged_url(request), request.headers)
    session = ResponsesSession(
        service.pipeline,
        service.ws_upstream,
        request.headers,
        request.query,
        recorder=recorder,
        wire=wire,
        log=wslog,
    )
    idle = service.config.timeouts.seconds("client_websocket_idle")
    ended = "the connection was lost without a close frame"  # (the handler was cancelled)
    try:
        ended = await _serve(ws, session, idle, request.transport, wslog)
    finally:
        await session.close()
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
        if wslog is not None:
            wslog.end(ended)
    return ws


def _logged_url(request: web.Request) -> str:
    query = mask_query(request.query_string)
    return f"{request.path}?{query}" if query else request.path


async def _serve(
    ws: web.WebSocketResponse,
    session: ResponsesSession,
    idle: float | None,
    transport: asyncio.Transport | None,
    wslog: SessionLog | None = None,
) -> str:
    """Serve the socket's turns until it ends; how it ended, in words (the log's)."""
    inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
    reader = asyncio.create_task(_read(ws, inbox))
    timeline = wslog.client if wslog is not None else None

    async def send(data: bytes) -> None:
        if timeline is not None:
            timeline.add("websocket.response", data)
        await ws.send_frame(data, WSMsgType.TEXT)

    async def send_all(batch: list[bytes]) -> None:
        """The events one upstream read brought, each its own message, in one write while
        the client keeps up (an empty send buffer); else one by one through aiohttp's
        writer, which waits for the client to drain."""
        if timeline is not None:
            for data in batch:
                timeline.add("websocket.response", data)
        if _writable_at_once(batch, ws, transport):
            assert transport is not None
            transport.write(b"".join([_text_frame(data) for data in batch]))
            return
        for data in batch:
            await ws.send_frame(data, WSMsgType.TEXT)

    try:
        while True:
            try:
                async with asyncio.timeout(idle):  # not wait_for: it can swallow a cancel (3.11)
                    raw = await inbox.get()
            except TimeoutError:
                await ws.close(code=WSCloseCode.OK, message=b"idle timeout")
                return f"closed by the proxy: idle timeout after {idle:g}s without a message"
            if raw is None:
                return _client_ended(ws)  # the client closed (or broke) the socket
            if timeline is not None:
                timeline.add("websocket.request", raw)
            turn = asyncio.create_task(session.turn(raw, send, send_all))
            await asyncio.wait({turn, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not turn.done():  # the client went away mid-turn
                turn.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await turn
                return _client_ended(ws) + " during a turn"
            try:
                outcome = turn.result()
            except ConnectionError:
                log.info("responses websocket: the client went away during a turn")
                return "the client went away during a turn"
            if isinstance(outcome, Close):
                await ws.close(code=outcome.code, message=outcome.reason.encode())
                return f"closed by the proxy: {outcome.code} {outcome.reason}".rstrip()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


def _client_ended(ws: web.WebSocketResponse) -> str:
    """How the client ended the socket: a close frame's code, or none (a dropped connection)."""
    code = ws.close_code
    if code is None or code == WSCloseCode.ABNORMAL_CLOSURE:
        return "the connection was lost without a close frame"
    return f"the client closed the socket: {int(code)}"


def _writable_at_once(
    batch: list[bytes], ws: web.WebSocketResponse, transport: asyncio.Transport | None
) -> bool:
    return (
        len(batch) > 1
        and transport is not None
        and not ws.closed
        and not transport.is_closing()
        and not transport.get_write_buffer_size()
    )


def _text_frame(data: bytes) -> bytes:
    """One unmasked, uncompressed, final text frame (RFC 6455 5.2), as a server sends it."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


async def _read(ws: web.WebSocketResponse, inbox: asyncio.Queue[bytes | None]) -> None:
    """Client frames into ``inbox``; ``None`` when the socket ends."""
    try:
        async for msg in ws:  # ends on a close frame; pings are answered by aiohttp
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                data = msg.data
                inbox.put_nowait(data if isinstance(data, bytes) else data.encode())
            elif msg.type is WSMsgType.ERROR:
                log.info("responses websocket: read failed: %s", ws.exception())
                break
    finally:
        inbox.put_nowait(None)
