"""Small forward proxies for tests: an HTTP proxy and a SOCKS5 proxy (asyncio, 127.0.0.1:0).

``HttpProxy`` forwards absolute-URI requests (``GET http://host:port/path``) to plain HTTP
targets, one request per connection, and tunnels ``CONNECT host:port``. ``Socks5Proxy``
speaks SOCKS5 without authentication and supports CONNECT only. Both count the client
connections they relayed (``connections``) and remember the targets (``targets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from collections.abc import AsyncIterator
from typing import Self
from urllib.parse import urlsplit

import pytest

__all__ = ["HttpProxy", "Socks5Proxy", "http_proxy", "socks_proxy"]


class _Proxy:
    scheme = ""

    def __init__(self) -> None:
        self.connections = 0
        self.targets: list[str] = []
        self.auths: list[str] = []  # Proxy-Authorization values received (HTTP proxy)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        port: int,
        first: bytes = b"",
        reply: bytes = b"",
    ) -> None:
        """Connect to host:port, send ``reply`` to the client and ``first`` upstream, then pipe."""
        up_reader, up_writer = await asyncio.open_connection(host, port)
        self.connections += 1
        self.targets.append(f"{host}:{port}")
        try:
            if reply:
                writer.write(reply)
                await writer.drain()
            if first:
                up_writer.write(first)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()


class HttpProxy(_Proxy):
    scheme = "http"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode("latin-1").split(" ", 2)
        for header in rest.split(b"\r\n"):
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "proxy-authorization":
                self.auths.append(value.strip())
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            await self.relay(
                reader,
                writer,
                host.strip("[]"),
                int(port),
                reply=b"HTTP/1.1 200 Connection established\r\n\r\n",
            )
            return
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = [
            h for h in rest.split(b"\r\n") if h and not h.lower().startswith((b"proxy-", b"connection:"))
        ]
        first = (
            f"{method} {path} {version}\r\n".encode()
            + b"\r\n".join([*headers, b"Connection: close"])
            + b"\r\n\r\n"
        )
        await self.relay(reader, writer, url.hostname, url.port or 80, first=first)


class Socks5Proxy(_Proxy):
    scheme = "socks5"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(b"\x05\x00")
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            raise ValueError("bad address type")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            writer.write(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        await self.relay(reader, writer, host, port, reply=b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


@pytest.fixture
async def http_proxy() -> AsyncIterator[HttpProxy]:
    async with HttpProxy() as proxy:
        yield proxy


@pytest.fixture
async def socks_proxy() -> AsyncIterator[Socks5Proxy]:
    async with Socks5Proxy() as proxy:
        yield proxy
