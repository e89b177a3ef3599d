"""A minimal RESP2 client: a pipelined connection for the per-request command, and the
reader the notification listener uses (redis-py costs several times more CPU per call)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["DOWN", "Address", "Link", "command", "read"]

# what makes a state call fall back to this process's own state: Redis unreachable, too
# slow, or refusing the command (full at maxmemory, a read-only replica, MISCONF)
DOWN = (RedisConnectionError, RedisTimeoutError, ResponseError, OSError, asyncio.TimeoutError)


def command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


async def read(reader: asyncio.StreamReader) -> Any:
    """One RESP2 value (enough for SUBSCRIBE replies and pushed messages)."""
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [await read(reader) for _ in range(int(rest))]
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await reader.readexactly(size + 2))[:-2]
    if kind == b":":
        return int(rest)
    if kind == b"-":
        raise ValueError(rest.decode(errors="replace"))
    return rest


@dataclass(frozen=True, slots=True)
class Address:
    """Where a Redis listens and how to sign in, as redis-py read them from ``state.url``
    (so cliproxy's own connections go where its pool goes, with the same password and TLS)."""

    where: tuple[str, int] | str  # (host, port), or the path of a Unix socket
    username: str = ""
    password: str = ""
    tls: ssl.SSLContext | None = None

    def hello(self) -> list[list[bytes]]:
        """What a new connection sends first: AUTH, when there is a password."""
        if not self.password:
            return []
        return [[b"AUTH", *([self.username.encode()] if self.username else []), self.password.encode()]]

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self.where, str):
            return await asyncio.open_unix_connection(self.where)
        return await asyncio.open_connection(*self.where, ssl=self.tls)


class Link:
    """A pipelined RESP connection for the per-request command (the round-robin ``INCR``):
    commands are written as they come and replies matched in order, so concurrent requests
    share one socket with no per-command pool checkout (redis-py costs ~10x more CPU)."""

    def __init__(self, address: Address, timeout: float, db: int = 0) -> None:
        self._address = address
        # what a new connection sends before its first command: AUTH, then SELECT <db>
        self._hello = address.hello()
        if db:
            self._hello.append([b"SELECT", b"%d" % db])
        self._timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self._reader_task: asyncio.Task[None] | None = None
        self.on_open: Callable[[], None] | None = None  # after each connection opens (a restarted Redis)

    async def call(self, *parts: bytes) -> Any:
        writer = self._writer
        if writer is None or writer.is_closing():
            await self._connect()
            writer = self._writer
            if writer is None:
                raise RedisConnectionError("connection closed")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(reply)
        writer.write(command(*parts))
        try:
            async with asyncio.timeout(self._timeout):  # (3.11's wait_for can swallow a cancel)
                return await reply
        except TimeoutError:
            # unanswered: the connection may be gone without a word (a flow a load balancer
            # dropped); the next call opens a new one, the commands still waiting here fail
            self._drop(writer)
            raise

    async def _connect(self) -> None:
        """Open the connection, once for every caller that finds it closed. The connect runs
        in a task of its own: a caller's cancel ends that caller's wait (a cancel, not a
        connection error) and the others still get the connection."""
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._open())
            self._connecting.add_done_callback(_retrieved)
        await asyncio.shield(self._connecting)

    async def _open(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(self._address.connect(), self._timeout)
        except Exception as exc:  # unreachable or too slow
            raise RedisConnectionError(str(exc) or type(exc).__name__) from exc
        try:
            if self._hello:
                writer.write(b"".join(command(*parts) for parts in self._hello))
                for _ in self._hello:
                    await asyncio.wait_for(read(reader), self._timeout)
        except BaseException as exc:  # too slow or refused (a wrong password, no database)
            writer.close()
            if isinstance(exc, Exception):
                raise RedisConnectionError(str(exc) or type(exc).__name__) from exc
            raise
        if self._closed:  # closed while connecting: nothing is left open behind it
            writer.close()
            raise RedisConnectionError("connection closed")
        waiting: deque[asyncio.Future[Any]] = deque()  # this connection's replies, in order
        self._writer, self._waiting = writer, waiting
        self._reader_task = asyncio.get_running_loop().create_task(
            self._read_replies(reader, writer, waiting)
        )
        if self.on_open is not None:
            self.on_open()

    async def _read_replies(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, waiting: deque[asyncio.Future[Any]]
    ) -> None:
        error: BaseException = RedisConnectionError("connection closed")
        try:
            while True:
                try:
                    value: Any = await read(reader)
                except ValueError as exc:  # an error reply belongs to its command
                    value = ResponseError(str(exc))
                if not waiting:
                    continue
                reply = waiting.popleft()
                if reply.done():
                    continue
                if isinstance(value, RedisError):
                    reply.set_exception(value)
                else:
                    reply.set_result(value)
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            error = RedisConnectionError(str(exc) or type(exc).__name__)
        finally:
            self._drop(writer)
            while waiting:
                reply = waiting.popleft()
                if not reply.done():
                    reply.set_exception(error)

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        """Close one connection; it stops being the link's if it still is (a newer one stays)."""
        writer.close()
        if self._writer is writer:
            self._writer = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None and not self._connecting.done():
            with contextlib.suppress(Exception):  # bounded by the connect timeout
                await asyncio.shield(self._connecting)
        self.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
            self._reader_task = None


def _retrieved(task: asyncio.Task[None]) -> None:
    """A connect every caller stopped waiting for: its failure is not left unretrieved."""
    if not task.cancelled():
        task.exception()
