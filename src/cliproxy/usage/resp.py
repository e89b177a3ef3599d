"""The usage queue over the Redis protocol (RESP), on the main port, as CPA serves it.

A connection whose first byte is a RESP type prefix (``* $ + - :``) is handed here by the
connection guard (``cliproxy.server.guard``). Commands (CPA's
``internal/api/redis_queue_protocol.go``): ``AUTH [user] <management key>``, then
``LPOP usage [count]`` / ``RPOP usage [count]`` (both pop the oldest records; without a
count one bulk string or nil, with a count an array), ``SUBSCRIBE usage`` (first message
``{"support_refresh":true}``, then each record as it is made) or ``SUBSCRIBE errors``
(one event per failed upstream attempt); inside a subscription ``PING [msg]``, ``UNSUBSCRIBE`` and ``QUIT``.
The connection closes while the management API is disabled.

Timeouts: a connection that has not authenticated is closed ``AUTH_TIMEOUT`` after it
began, however many commands it sends; an authenticated one that sends nothing (outside a
subscription) after ``IDLE_TIMEOUT``. Reading stops while :data:`MAX_QUEUED` commands wait
or the answers are not being read (as a blocking writer would), so a client that sends
without reading holds a bounded buffer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

from cliproxy.usage.hooks import recorder_of
from cliproxy.usage.queue import Subscriber, UsageQueue

__all__ = [
    "AUTH_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_COMMAND",
    "MAX_QUEUED",
    "RESP_PREFIXES",
    "RespSession",
    "session_factory",
]

log = logging.getLogger(__name__)

RESP_PREFIXES = frozenset(b"*$+-:")
AUTH_TIMEOUT = 10.0
IDLE_TIMEOUT = 300.0
MAX_COMMAND = 1 << 20  # bytes one command may take
MAX_QUEUED = 64  # commands parsed and not yet answered before reading pauses
SUPPORT_REFRESH = b'{"support_refresh":true}'

Authenticate = Callable[[str], Awaitable[str | None]]  # password -> error message or None


class ProtocolError(Exception):
    pass


def _bulk(payload: bytes | None) -> bytes:
    if payload is None:
        return b"$-1\r\n"
    return b"$%d\r\n%s\r\n" % (len(payload), payload)


def _array(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(_bulk(i) for i in items)


def _error(message: str) -> bytes:
    return b"-" + message.replace("\r", " ").replace("\n", " ").encode() + b"\r\n"


def parse_command(buf: bytearray) -> list[bytes] | None:
    """One whole command off the front of ``buf`` (removed from it), ``None`` when more
    bytes are needed; ``ProtocolError`` for anything but an array of strings."""
    if not buf:
        return None
    if buf[0] != ord("*"):
        raise ProtocolError("protocol error")
    pos = 0

    def line() -> bytes | None:
        nonlocal pos
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        out = bytes(buf[pos:end])
        pos = end + 2
        return out

    head = line()
    if head is None:
        return None
    try:
        count = int(head[1:])
    except ValueError:
        raise ProtocolError("protocol error") from None
    if count < 0 or count > 1024:
        raise ProtocolError("protocol error")
    args: list[bytes] = []
    for _ in range(count):
        if pos >= len(buf):
            return None
        kind = buf[pos]
        item = line()
        if item is None:
            return None
        if kind in b"+:":
            args.append(item[1:])
            continue
        if kind != ord("$"):
            raise ProtocolError("protocol error")
        try:
            size = int(item[1:])
        except ValueError:
            raise ProtocolError("protocol error") from None
        if size < 0:
            args.append(b"")
            continue
        if size > MAX_COMMAND:
            raise ProtocolError("protocol error")
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise ProtocolError("protocol error")
        args.append(bytes(buf[pos : pos + size]))
        pos += size + 2
    del buf[:pos]
    return args


class RespSession(asyncio.Protocol):
    """One RESP connection. ``queues``: channel name -> queue (``usage``, ``errors``);
    only ``usage`` can be popped. ``enabled``: whether the management API is on."""

    def __init__(
        self,
        *,
        authenticate: Authenticate,
        queues: dict[str, UsageQueue],
        enabled: Callable[[], bool],
        peer: str = "",
    ) -> None:
        self._authenticate = authenticate
        self._queues = queues
        self._enabled = enabled
        self.peer = peer
        self._buf = bytearray()
        self._commands: deque[list[bytes]] = deque()
        self._wake = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._authed = False
        self._sub: tuple[UsageQueue, Subscriber, str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._reading = True
        self._writable = asyncio.Event()
        self._writable.set()
        self.peer_ip = peer  # (the connection guard counts this connection by it)
        self.released: Callable[[], None] | None = None  # called once the connection is gone

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: uvloop's TCPTransport (the event loop of the
        # ``cliproxy`` command) is no subclass of asyncio.Transport, though it is one in kind
        self._transport = transport = cast("asyncio.Transport", transport)
        if not self._enabled():
            transport.close()
            self._closing = True
            return
        self._arm(AUTH_TIMEOUT)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buf += data
        try:
            while (cmd := parse_command(self._buf)) is not None:
                self._commands.append(cmd)
        except ProtocolError as exc:
            self._commands.append([b"\x00protocol", str(exc).encode()])
        else:
            if len(self._buf) > MAX_COMMAND + 64:
                self._commands.append([b"\x00protocol", b"command too long"])
        if len(self._commands) >= MAX_QUEUED and self._reading and self._transport is not None:
            self._reading = False
            self._transport.pause_reading()
        self._wake.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def eof_received(self) -> bool | None:
        self._commands.append([b"\x00eof"])
        self._wake.set()
        return True  # keep writing what is queued; _serve closes

    def connection_lost(self, exc: BaseException | None) -> None:
        self._closing = True
        self._unsubscribe()
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
        released, self.released = self.released, None
        if released is not None:
            released()

    # -- serving

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        if self._sub is None and self._transport is not None:
            log.info("RESP connection from %s closed: idle", self.peer or "?")
            self.close()

    def force_close(self) -> None:
        self.close()

    def close(self) -> None:
        self._closing = True
        self._unsubscribe()
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transport.close()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def _serve(self) -> None:
        while not self._closing:
            if not self._commands:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._writable.is_set():  # the client is not reading our answers
                await self._writable.wait()
            cmd = self._commands.popleft()
            if not self._reading and len(self._commands) < MAX_QUEUED // 2 and self._transport is not None:
                self._reading = True
                self._transport.resume_reading()
            if not self._enabled():
                self.close()
                return
            if cmd and cmd[0].startswith(b"\x00"):
                if cmd[0] == b"\x00protocol":
                    self._write(_error("ERR " + cmd[1].decode()))
                self.close()
                return
            if self._sub is not None:
                if not self._in_subscription(cmd):
                    self.close()
                    return
                continue
            await self._command(cmd)
            if not self._closing and self._sub is None and self._authed:
                self._arm(IDLE_TIMEOUT)  # (before AUTH, the deadline set at the start holds)

    async def _command(self, args: list[bytes]) -> None:
        if not args:
            self._write(_error("ERR empty command"))
            return
        name = args[0].decode("utf-8", "replace").strip().upper()
        if name != "AUTH" and not self._authed:
            self._write(_error("NOAUTH Authentication required."))
            return
        if name == "AUTH":
            await self._auth(args)
        elif name == "SUBSCRIBE":
            self._subscribe(args)
        elif name in ("LPOP", "RPOP"):
            await self._pop(name.lower(), args)
        else:
            self._write(_error(f"ERR unknown command '{name.lower()}'"))

    async def _auth(self, args: list[bytes]) -> None:
        if len(args) not in (2, 3):
            self._write(_error("ERR wrong number of arguments for 'auth' command"))
            return
        problem = await self._authenticate(args[-1].decode("utf-8", "replace"))
        if problem is not None:
            self._write(_error("ERR " + problem))
            return
        self._authed = True
        self._write(b"+OK\r\n")

    async def _pop(self, name: str, args: list[bytes]) -> None:
        if len(args) not in (2, 3):
            self._write(_error(f"ERR wrong number of arguments for '{name}' command"))
            return
        count = 1
        if len(args) == 3:
            try:
                count = int(args[2].strip())
            except ValueError:
                count = 0
        if count <= 0:
            self._write(_error("ERR value is not an integer or out of range"))
            return
        channel = args[1].decode("utf-8", "replace").strip()
        if channel.lower() != "usage":
            self._write(_error(f"ERR unsupported channel '{channel}'"))
            return
        items = await self._queues["usage"].take(count)
        if len(args) == 3:
            self._write(_array(items))
        else:
            self._write(_bulk(items[0] if items else None))

    def _subscribe(self, args: list[bytes]) -> None:
        if len(args) != 2:
            self._write(_error("ERR wrong number of arguments for 'subscribe' command"))
            return
        channel = args[1].decode("utf-8", "replace").strip()
        queue = self._queues.get(channel.lower())
        if queue is None:
            self._write(_error(f"ERR unsupported channel '{channel}'"))
            return
        if self._timer is not None:
            self._timer.cancel()
        name = channel.encode()
        self._write(b"*3\r\n" + _bulk(b"subscribe") + _bulk(name) + b":1\r\n")
        sub = queue.subscribe(lambda payload: self._message(name, payload))
        self._sub = (queue, sub, channel)
        if channel.lower() == "usage":
            self._message(name, SUPPORT_REFRESH)

    def _message(self, channel: bytes, payload: bytes) -> None:
        if not payload:  # the queue dropped this subscriber (it stopped reading)
            self.close()
            return
        self._write(b"*3\r\n" + _bulk(b"message") + _bulk(channel) + _bulk(payload))
        transport = self._transport
        if transport is not None and self._sub is not None:
            # a client that stops reading builds up the write buffer: count it as pending
            self._sub[1].pending = transport.get_write_buffer_size() // 512

    def _in_subscription(self, args: list[bytes]) -> bool:
        """A command inside a subscription; False ends the connection."""
        assert self._sub is not None
        name = args[0].decode("utf-8", "replace").strip().upper() if args else ""
        if not name:
            self._write(_error("ERR empty command"))
            return True
        if name == "PING":
            self._write(b"*2\r\n" + _bulk(b"pong") + _bulk(args[1] if len(args) > 1 else None))
            return True
        if name == "UNSUBSCRIBE":
            self._write(b"*3\r\n" + _bulk(b"unsubscribe") + _bulk(self._sub[2].encode()) + b":0\r\n")
            return False
        if name == "QUIT":
            self._write(b"+OK\r\n")
            return False
        self._write(_error(f"ERR unknown command '{name.lower()}'"))
        return True

    def _unsubscribe(self) -> None:
        if self._sub is not None:
            queue, sub, _ = self._sub
            queue.unsubscribe(sub)
            self._sub = None


def session_factory(service: Any) -> Callable[[str], RespSession]:
    """RESP sessions for ``service``'s usage queues, authenticated with its management key
    (the same gate, bans included, as ``/v0/management``)."""

    def make(peer: str) -> RespSession:
        rec = recorder_of(service)

        async def authenticate(password: str) -> str | None:
            denied = await service.management.check(service.config, peer, {"X-Management-Key": password})
            return None if denied is None else str(denied.message)

        def enabled() -> bool:
            return bool(service.management.enabled(service.config))

        return RespSession(
            authenticate=authenticate,
            queues={"usage": rec.queue, "errors": rec.errors},
            enabled=enabled,
            peer=peer,
        )

    return make
