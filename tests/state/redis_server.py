"""A throwaway ``redis-server`` (the Debian package) on 127.0.0.1 at a random port."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest


def _below_ephemeral() -> tuple[int, int]:
    """A range of ports the kernel never hands out on its own: the ones below its ephemeral
    range (``ip_local_port_range``), from which every ``bind(0)`` and every outgoing
    connection's own port are taken."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return (max(1025, low - 12000), low)


def _free_port() -> int:
    """A free port below the ephemeral range, chosen at random: :meth:`RedisServer.start`
    binds it again after an outage, and while the server is down no other socket of this
    machine's tests (their listeners bind port 0, their connections take ephemeral ports)
    can take it in between."""
    low, high = _below_ephemeral()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


class RedisServer:
    """One server process; ``kill`` and ``start`` again reuse the same port (a Redis outage).
    With ``tls`` (a certificate and its key) it speaks TLS only (``rediss://``); with
    ``unix`` it listens on a Unix socket only (``unix://``)."""

    def __init__(self, binary: str, tls: tuple[Path, Path] | None = None, *, unix: bool = False) -> None:
        self.binary = binary
        self.port = _free_port()
        self.tls = tls
        self.unix = unix
        self.dir = Path(tempfile.mkdtemp(prefix="cliproxy-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.unix:
            return f"unix://{self.dir / 'redis.sock'}?db=0"
        if self.tls is not None:  # the certificate is its own CA
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        listen = ["--port", str(self.port)]
        if self.unix:
            listen = ["--port", "0", "--unixsocket", str(self.dir / "redis.sock"), "--unixsocketperm", "700"]
        elif self.tls is not None:
            cert, key = self.tls
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert),
                      "--tls-key-file", str(key), "--tls-auth-clients", "no"]  # fmt: skip
        self.process = subprocess.Popen(
            [
                self.binary,
                *listen,
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with self._connect() as raw:
                    if self._pong(raw):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("redis-server exited at start")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def _connect(self) -> socket.socket:
        if not self.unix:
            return socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(0.2)
        try:
            conn.connect(str(self.dir / "redis.sock"))
        except OSError:
            conn.close()
            raise
        return conn

    def _pong(self, raw: socket.socket) -> bool:
        if self.tls is not None:
            with _unverified().wrap_socket(raw) as conn:
                return self._pong_on(conn)
        return self._pong_on(raw)

    @staticmethod
    def _pong_on(conn: socket.socket) -> bool:
        conn.settimeout(1)
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def redis_binary() -> str:
    """The ``redis-server`` path, or skip (fail where CI installed it: CLIPROXY_REQUIRE_REDIS)."""
    pytest.importorskip("redis")
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found is None:
        if os.environ.get("CLIPROXY_REQUIRE_REDIS"):  # CI installs it: a skip would hide a failure
            pytest.fail("redis-server is not installed but CLIPROXY_REQUIRE_REDIS is set")
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    return found


# a Lua loop that answers nobody (Redis runs one script at a time) for ARGV[1] microseconds
_BUSY = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1])
return 1
"""


async def keep_busy(url: str, seconds: float) -> None:
    """Hold the whole server busy for ``seconds``: every command sent meanwhile (a slot
    script, an ``AUTH``) waits for its reply until then, which opens a window to cancel in."""
    from redis import asyncio as aioredis

    client = aioredis.from_url(url, socket_timeout=seconds + 5)
    try:
        await client.eval(_BUSY, 0, int(seconds * 1_000_000))
    finally:
        await client.aclose()


async def hold_busy(url: str, seconds: float) -> asyncio.Task[None]:
    """:func:`keep_busy` in a task, returned once the server has stopped answering (a
    ``PING`` left unanswered for 50 ms), so that what a test sends next waits behind it."""
    task = asyncio.create_task(keep_busy(url, seconds))
    where = urlsplit(url)
    async with asyncio.timeout(5):
        while True:
            reader, writer = await asyncio.open_connection(where.hostname, where.port)
            try:
                writer.write(b"PING\r\n")
                await asyncio.wait_for(reader.readline(), 0.05)  # answered (even NOAUTH): not yet
            except TimeoutError:
                return task
            finally:
                writer.close()
            await asyncio.sleep(0.01)
