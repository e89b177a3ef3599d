"""One turn on an upstream Responses WebSocket (``providers.codex_ws`` keeps the sockets):
a kept socket (:class:`Socket`) and the answer read off it (:class:`WsResponse`): the first
event read before the answer is handed over (an ``error`` event with a status is the turn's
status), then the events as SSE frames up to the terminal one, those one network read
brought batched once the output began; the socket is closed when a turn is cut off or
fails, and a close with 1009 is the request's own 413.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import orjson

from cliproxy.errors import UpstreamError
from cliproxy.formats.responses_ws import event_type
from cliproxy.providers.codex_ws_wire import (
    bare_error_event,
    connection_limited,
    error_body,
    error_headers,
    error_status,
    sse_event,
)
from cliproxy.providers.transport import ConnectionEnded
from cliproxy.usage.timeline import Timeline

if TYPE_CHECKING:
    from cliproxy.providers.codex_ws import WebSocketUpstream

__all__ = ["TERMINAL", "Socket", "UpstreamSocket", "WsResponse", "close_socket"]

TERMINAL = frozenset(
    {"response.completed", "response.done", "response.failed", "response.incomplete", "error"}
)
# the events whose fields are read here (an error's status, ``response.done``'s rename)
_PARSED = frozenset({"error", "response.done", "response.completed", ""})
_COMPLETED = frozenset({"response.completed", "response.done"})
_FAILED = frozenset({"response.failed", "error"})
_NO_FIELDS: dict[str, Any] = {}
# text frames arrive as bytes (``decode_text=False``)
UpstreamSocket = aiohttp.ClientWebSocketResponse[Literal[False]]


class Socket:
    """One upstream socket; ``lock`` makes turns on it take their turn."""

    __slots__ = ("continuable", "headers", "idle", "key", "last_response", "lock", "ws")

    def __init__(self, key: tuple[str, str], ws: UpstreamSocket, headers: Mapping[str, str]):
        self.key = key
        self.ws = ws
        self.headers = dict(headers)
        self.lock = asyncio.Lock()
        self.continuable = False  # its provider sends follow-ups as previous_response_id
        self.last_response = ""  # the id of the response its last turn completed
        self.idle: asyncio.Task[None] | None = None  # its reader between turns

    def wait(self, gone: Callable[[], None]) -> None:
        """Read the socket while it waits for its next turn: the upstream's pings are
        answered (aiohttp answers one only while the socket is read; the Codex backend
        drops a socket that does not), and a close it sends is seen at once (``gone``)."""
        with contextlib.suppress(RuntimeError):  # no running loop at interpreter exit
            self.idle = asyncio.get_running_loop().create_task(_idle(self.ws, gone))

    async def wake(self) -> None:
        """A turn reads the socket now: its reader between turns stops."""
        idle, self.idle = self.idle, None
        if idle is not None and not idle.done():
            idle.cancel()
            await asyncio.wait((idle,))  # (a cancel of the turn itself goes on)


async def _idle(ws: UpstreamSocket, gone: Callable[[], None]) -> None:
    """Read a socket between turns until it ends (a data message there is no turn's)."""
    with contextlib.suppress(Exception):  # (a read that fails ends it as a close does)
        while not ws.closed:
            msg = await ws.receive()  # (pings are answered in there)
            if msg.type is not aiohttp.WSMsgType.TEXT and msg.type is not aiohttp.WSMsgType.BINARY:
                break  # closed by the upstream (aiohttp closes it), by us, or broken
    gone()


class WsResponse:
    """One turn's answer: the events as SSE frames, up to the terminal event."""

    __slots__ = (
        "_bare_errors",
        "_done",
        "_failed",
        "_first",
        "_output",
        "_owner",
        "_released",
        "_sid",
        "_sock",
        "_timeline",
        "body",
        "headers",
        "limited",
        "status",
    )

    def __init__(
        self,
        owner: WebSocketUpstream,
        sid: str,
        sock: Socket,
        bare_errors: bool = False,
        timeline: Timeline | None = None,
    ) -> None:
        self._owner = owner
        self._timeline = timeline  # the session's request log, when it is on
        self._bare_errors = bare_errors
        self._sid = sid
        self._sock = sock
        self._first: bytes | None = None
        self._done = False
        self._failed = False  # the turn ended in a failure: its socket is not reused (CPA)
        self._output = False  # an output event went by: batching may start
        self._released = False
        self.status = 200
        self.headers: Mapping[str, str] = sock.headers
        self.body = b""
        self.limited = False  # the socket's answer was Codex's connection limit (its age)

    async def start(self) -> None:
        """Read the first event: an ``error`` event with a status is this turn's status."""
        event = await self._next()
        assert event is not None
        data, kind, obj = event
        if kind == "error":
            status = error_status(obj)
            if status and status >= 400:
                self.status = status
                self.body = error_body(obj, status)
                self.headers = {**self.headers, **error_headers(obj)}  # Retry-After and friends
                if connection_limited(obj):  # no quota: the account is not cooled (CPA)
                    self.limited = True
                    self.headers = {k: v for k, v in self.headers.items() if k.lower() != "retry-after"}
                    self.headers["Retry-After"] = "0"
                self._done = True
                self._owner.forget(self._sid, self._sock)  # CPA drops the socket on an error
                await close_socket(self._sock.ws)
                return
        self._first = sse_event(data, kind, obj)
        self._done = kind in TERMINAL
        self._failed = kind in _FAILED
        if kind in _COMPLETED:
            self._completed(obj)

    async def _next(self, *, queued_only: bool = False) -> tuple[bytes, str, dict[str, Any]] | None:
        """The next event; ``queued_only``: ``None`` instead of waiting for the network."""
        idle = self._owner.http.idle_timeout
        ws = self._sock.ws
        while True:
            ready = _queued(ws)
            if queued_only and not ready:
                return None
            try:  # no timer for a message already read off the socket (aiohttp's costly part)
                msg = await ws.receive(timeout=None if ready else idle)
            except TimeoutError:
                if self._timeline is not None:
                    self._timeline.error("read", f"no event within {idle}s")
                raise
            except (aiohttp.ClientError, RuntimeError) as exc:
                if self._timeline is not None:
                    self._timeline.error("read", type(exc).__name__)
                raise ConnectionError(f"upstream WebSocket: {type(exc).__name__}") from exc
            if msg.type is aiohttp.WSMsgType.TEXT or msg.type is aiohttp.WSMsgType.BINARY:
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                if self._timeline is not None:
                    self._timeline.add("api.websocket.response", data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                if self._timeline is not None:
                    self._timeline.error(
                        "read", f"upstream WebSocket closed ({ws.close_code}) {msg.extra or ''}"
                    )
                if ws.close_code == _MESSAGE_TOO_BIG:
                    raise _too_big()
                # a normal close, a going-away or a dropped socket ends the connection; another
                # code is the upstream failing (CPA cools only for the latter)
                broke = ConnectionEnded if ws.close_code in _ENDED else ConnectionError
                raise broke(f"upstream WebSocket closed ({ws.close_code}) before the turn ended")
            elif msg.type is aiohttp.WSMsgType.ERROR:
                if self._timeline is not None:
                    self._timeline.error("read", f"upstream WebSocket error: {msg.data!r}")
                raise ConnectionError(f"upstream WebSocket error: {msg.data!r}")
            else:
                continue
            if data[:1] != b"{" or data[-1:] != b"}":
                data = data.strip()
                if not data:
                    continue
            kind = event_type(data)
            if kind not in _PARSED:
                return data, kind, _NO_FIELDS  # deltas: the type is all we need
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise ConnectionError("upstream WebSocket sent a message that is not JSON") from exc
            if not isinstance(obj, dict):
                continue
            kind = str(obj.get("type") or "")
            if not kind and self._bare_errors and "error" in obj:  # (xAI) an error without a type
                obj = bare_error_event(obj)
                return orjson.dumps(obj), "error", obj
            return data, kind, obj

    async def read(self) -> bytes:
        if self.status >= 400:
            return self.body
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        try:
            while not self._done:
                # the events one network read brought go on as one chunk (one client write),
                # once the output began (before, the pipeline decodes each one to fail over)
                batch = self._output  # an earlier chunk carried the first output event
                frames = [self._frame(await self._next())]
                while batch and not self._done and (event := await self._next(queued_only=True)):
                    frames.append(self._frame(event))
                yield frames[0] if len(frames) == 1 else b"".join(frames)
        finally:
            self.release()

    def _frame(self, event: tuple[bytes, str, dict[str, Any]] | None) -> bytes:
        assert event is not None
        data, kind, obj = event
        self._done = kind in TERMINAL
        self._failed = kind in _FAILED
        self._output = self._output or kind.startswith("response.output_")
        if kind in _COMPLETED:
            self._completed(obj)
        return sse_event(data, kind, obj)

    def _completed(self, obj: dict[str, Any]) -> None:
        response = obj.get("response")
        rid = response.get("id") if isinstance(response, dict) else None
        self._sock.last_response = rid if isinstance(rid, str) else ""

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        sock = self._sock
        if not self._done or self._failed:  # cut off mid-turn, or failed: never reuse it
            self._owner.forget(self._sid, sock)
            if not sock.ws.closed:
                with contextlib.suppress(RuntimeError):  # no running loop at interpreter exit
                    asyncio.get_running_loop().create_task(close_socket(sock.ws))
        elif not self._owner.has_session(self._sid):  # a one-turn socket
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(close_socket(sock.ws))
        else:  # kept for the session's next turn
            sock.wait(lambda: self._owner.forget(self._sid, sock))
        if sock.lock.locked():
            sock.lock.release()


def _queued(ws: UpstreamSocket) -> bool:
    """Whether a data message is already read off the socket and waiting in aiohttp's
    queue (its reader's ``_buffer``; ``False`` where a version hides it: no batching)."""
    buffer = getattr(getattr(ws, "_reader", None), "_buffer", None)
    if not buffer:
        return False
    msg = buffer[0][0]
    return getattr(msg, "type", None) in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


async def close_socket(ws: UpstreamSocket) -> None:
    if not ws.closed:
        with contextlib.suppress(Exception):
            await ws.close()


_MESSAGE_TOO_BIG = 1009  # RFC 6455: the upstream will not read a message that large
_ENDED = frozenset({1000, 1001, 1006, None})  # normal, going away, no close frame (aiohttp: 1006)
_TOO_BIG_BODY = (
    b'{"error":{"message":"upstream websocket message too big",'
    b'"type":"invalid_request_error","code":"message_too_big"}}'
)


def _too_big() -> UpstreamError:
    """The upstream closed with 1009: this request is too large for any account, so it
    goes back as a 413 at once, no cooldown, no other account (CPA)."""
    return UpstreamError(
        "upstream websocket message too big", status=413, body=_TOO_BIG_BODY, request_scoped=True
    )
