"""A raw HTTP/1.1 client: sends exactly the bytes a test asks for, reads the answer to EOF.

The fuzz suite needs to send what well-behaved clients refuse to: invalid UTF-8, header
values with control bytes, lying ``Content-Length``s. So it writes the request itself on a
fresh connection (``Connection: close``) and reads until the server closes, with a hard
per-request timeout: a hang is a finding, not a stuck test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from dataclasses import dataclass

__all__ = ["Answer", "Header", "WireError", "send"]

Header = tuple[str | bytes, str | bytes]
TIMEOUT = 10.0


class WireError(AssertionError):
    """The server hung, or answered with something that is not HTTP."""


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    raw_head: bytes = b""
    complete: bool = True  # False: a chunked body ended without its last chunk

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def describe(self, limit: int = 600) -> str:
        body = self.body[:limit]
        more = f"... (+{len(self.body) - limit} bytes)" if len(self.body) > limit else ""
        return f"HTTP {self.status} {self.content_type or '-'} {body!r}{more}"


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1", "replace")


def build_request(
    method: str,
    target: str,
    port: int,
    headers: list[Header],
    body: bytes,
    *,
    content_length: int | bool | None = True,
) -> bytes:
    """The request bytes. ``content_length``: True = the body's length, an int = that (a lie),
    False/None = no header at all."""
    lines = [
        f"{method} {target} HTTP/1.1".encode("latin-1", "replace"),
        f"Host: 127.0.0.1:{port}".encode(),
        b"Connection: close",
    ]
    if content_length is True:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif isinstance(content_length, int) and content_length is not False:
        lines.append(b"Content-Length: " + str(content_length).encode())
    lines.extend(_b(k) + b": " + _b(v) for k, v in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def send(
    port: int,
    method: str,
    target: str,
    headers: list[Header],
    body: bytes = b"",
    *,
    content_length: int | bool | None = True,
    timeout: float = TIMEOUT,
) -> Answer:
    """Send one request to 127.0.0.1:``port`` and read the whole answer."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(build_request(method, target, port, headers, body, content_length=content_length))
        try:
            await writer.drain()
            if content_length is not True:
                writer.write_eof()  # a lying length: let the server see the end of the input
            raw = await asyncio.wait_for(reader.read(), timeout)
        except TimeoutError:
            raise WireError(f"no complete answer within {timeout:.0f}s (hang)") from None
        except ConnectionResetError as exc:
            raw = b""
            if not reader.at_eof():
                raise WireError(f"connection reset by the server: {exc}") from None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return parse(raw, time.monotonic() - start)


def parse(raw: bytes, elapsed: float) -> Answer:
    while raw.startswith(b"HTTP/1.1 1"):  # interim answers (100 Continue) precede the real one
        raw = raw.partition(b"\r\n\r\n")[2]
    if not raw:
        raise WireError("the server closed the connection without any answer")
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise WireError(f"not an HTTP answer: {raw[:300]!r}")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"bad status line: {lines[0][:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    answer = Answer(int(parts[1]), headers, rest, elapsed, head)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        answer.body, answer.complete = _dechunk(rest)
    elif "content-length" in headers:
        size = int(headers["content-length"])
        answer.complete = len(rest) >= size
        answer.body = rest[:size]
    encoding = headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate") and answer.complete:
        answer.body = zlib.decompress(answer.body, 47)  # 47: gzip or zlib header, detected
    return answer


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), False
        try:
            size = int(data[pos:end].split(b";", 1)[0], 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        start = end + 2
        if len(data) < start + size:
            out += data[start:]
            return bytes(out), False
        out += data[start : start + size]
        pos = start + size + 2
