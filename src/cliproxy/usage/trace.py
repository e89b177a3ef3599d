"""One request as the logs and the usage queue see it.

The server and the pipeline call the hooks below only when the recorder is active. The
hooks keep references (headers, bodies already in memory) and timestamps; the work of
formatting and writing happens once, in the writer thread, when the request is over.
In error-only mode (``request-log: false``) nothing is copied or spooled at all: the
file is written only if the answer was an error.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cliproxy.calls import Reply, StreamReply
from cliproxy.requestid import request_id
from cliproxy.usage.recording import Timed, timed
from cliproxy.usage.writer import Spool

if TYPE_CHECKING:
    from cliproxy.usage.recorder import Recorder

__all__ = ["Attempt", "RequestTrace"]

ERROR_BODY_LIMIT = 1 << 20  # request bytes an error-only log keeps (CPA)


@dataclass(slots=True)
class Attempt:
    """One upstream call."""

    index: int
    sent: float
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    provider: str = ""
    auth_id: str = ""
    label: str = ""
    auth_kind: str = ""
    auth_value: str = ""
    auth_index: str = ""
    auth_provider: str = ""
    cooled: bool = False
    status: int | None = None
    received: float | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    error: str = ""
    spool: Spool | None = None
    chunks: Timed | None = None  # the stream with its timing, while recording


class RequestTrace:
    """Collects one request; ``finish`` hands it to the writer and the usage queue."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        endpoint: str,
        fmt: Any,
        alias: str,
        api_key: str,
        client_ip: str,
    ) -> None:
        self.recorder = recorder
        self.id = request_id()  # the id this request's log lines carry (cliproxy.requestid)
        self.started = time.time()
        self._t0 = time.perf_counter()
        self.full = recorder.request_log
        self.method, self.url, self.headers, self.body = method, url, headers, body
        self.body_limit: int | None = None if self.full else ERROR_BODY_LIMIT
        self.endpoint, self.fmt, self.alias, self.api_key, self.client_ip = (
            endpoint,
            fmt,
            alias,
            api_key,
            client_ip,
        )
        self.attempts: list[Attempt] = []
        self.status = 0
        self.response_headers: Mapping[str, str] = {}
        self.response_body = b""
        self.spool: Spool | None = None
        self.error: tuple[int, str] | None = None
        self.credential: Any = None
        self.model = ""
        self.usage: Any = None
        self.stream = False
        self.cooldowns: list[tuple[str, str]] = []
        # the client stream with its timing, only while recording (cliproxy.usage.recording)
        self.chunks: Timed | None = None if recorder.capture is None else []
        self._last_chunk = 0.0
        self._ttft: float | None = None
        self._done = False
        # called with (usage, upstream model) when the request is over (a key's policy)
        self.on_usage: Callable[[Any, str], None] | None = None

    # -- pipeline hooks (one upstream attempt each)

    def upstream_request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        cred: Any,
        provider: str,
        model: str,
    ) -> None:
        self.model = model
        self.attempts.append(
            Attempt(
                len(self.attempts) + 1,
                time.time(),
                method,
                url,
                headers,
                body,
                provider,
                cred.id,
                cred.label,
                cred.kind,
                cred.api_key,
                cred.index,
                cred.provider,
            )
        )

    def cooled(self, provider: str, scope: str) -> None:
        """The pipeline put the credential of the current attempt in cooldown."""
        self.cooldowns.append((provider, scope))
        if self.attempts:
            self.attempts[-1].cooled = True

    def upstream_response(self, status: int, headers: Mapping[str, str]) -> None:
        a = self.attempts[-1]
        a.status, a.received, a.response_headers = status, time.time(), headers
        if self._ttft is None and status < 400:
            self._ttft = time.perf_counter()

    def upstream_body(self, data: bytes) -> None:
        """A whole upstream body (an error, or a non-streamed answer)."""
        a = self.attempts[-1]
        if self.full or (a.status or 0) >= 400 or self.chunks is not None:
            a.response_body = data

    def upstream_chunks(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The upstream stream, appended to the log's spool as it flows (full mode only)."""
        if self.chunks is not None:
            into: Timed = []
            self.attempts[-1].chunks = into
            chunks = timed(chunks, into)
        if not self.full:
            return chunks
        spool = self.attempts[-1].spool = self.recorder.spool(f"{self.id}-api")
        return _tee(chunks, spool)

    # -- server hooks

    def reply(self, result: Reply | StreamReply) -> Reply | StreamReply:
        self.credential = result.credential
        if isinstance(result, Reply):
            self.respond(result.status, result.headers, result.body)
            self.finish()
            return result
        self.status, self.response_headers = 200, result.headers
        self.stream = True
        if self.full:
            self.spool = self.recorder.spool(f"{self.id}-resp")
        sniffer = self.recorder.sniffer(self.fmt)
        first = result.first
        if first:
            self._first_chunk(first, sniffer)
        return StreamReply(
            result.headers, first, _ClientStream(self, result.rest, sniffer), result.credential
        )

    def failed(self, status: int, message: str, headers: Mapping[str, str], body: bytes) -> None:
        """The request ended with an error answer."""
        self.error = (status, message)
        self.respond(status, headers, body)
        self.finish()

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.response_headers, self.response_body = status, headers, body

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.recorder.finished(self)

    # -- usage facts

    def latency_ms(self) -> int:
        return int((time.perf_counter() - self._t0) * 1000)

    @property
    def first_byte(self) -> bool:
        """Whether an answer's first byte was seen (a successful upstream answer)."""
        return self._ttft is not None

    def elapsed(self) -> float:
        """Seconds since the request was read."""
        return time.perf_counter() - self._t0

    def ttft(self) -> float | None:
        """Seconds to the first byte of the answer, ``None`` when there was none."""
        return None if self._ttft is None else self._ttft - self._t0

    def ttft_ms(self) -> int:
        return int(((self._ttft or time.perf_counter()) - self._t0) * 1000)

    def _first_chunk(self, chunk: bytes, sniffer: Any) -> None:
        self._ttft = time.perf_counter()
        self._chunk(chunk, sniffer)

    def _chunk(self, chunk: bytes, sniffer: Any) -> None:
        if sniffer is not None:
            sniffer.feed(chunk)
        if self.spool is not None:
            self.spool.append(chunk)
        if self.chunks is not None:
            now = time.perf_counter()
            self.chunks.append((now - (self._last_chunk or self._t0), chunk))
            self._last_chunk = now

    def _stream_done(self, sniffer: Any) -> None:
        if sniffer is not None:
            self.usage = sniffer.usage
        self.finish()


class _ClientStream:
    """The client stream, seen on its way out; closing it always closes the source
    (even when it was never started) and ends the trace."""

    __slots__ = ("_rest", "_sniffer", "_trace")

    def __init__(self, trace: RequestTrace, rest: AsyncIterator[bytes], sniffer: Any) -> None:
        self._trace, self._rest, self._sniffer = trace, rest, sniffer

    def __aiter__(self) -> _ClientStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._rest.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        t = self._trace
        if t._ttft is None:
            t._ttft = time.perf_counter()
        t._chunk(chunk, self._sniffer)
        return chunk

    async def aclose(self) -> None:
        try:
            await self._rest.aclose()  # type: ignore[attr-defined]
        finally:
            self._trace._stream_done(self._sniffer)


async def _tee(chunks: AsyncIterator[bytes], spool: Spool) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        spool.append(chunk)
        yield chunk
