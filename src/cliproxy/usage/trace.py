"""One request as the logs and the usage queue see it.

The server and the pipeline call the hooks below only when the recorder is active. The
hooks keep references (headers, bodies already in memory) and timestamps; the work of
formatting and writing happens once, in the writer thread, when the request is over.
In error-only mode (``request-log: false``) nothing is copied or spooled at all: the
file is written only if the answer was an error.

Hot path: a trace is opened for every generation request, so the per-request work is
kept to attribute stores. Fields a request rarely sets (an error, cooldowns, a spool)
are class-level defaults an instance only overrides when it has to, and a client stream
is watched by one async generator (or, pushed, by one function per chunk) whose
per-chunk work is one sniffer feed unless a request log or a recording keeps the chunks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from cliproxy.calls import LazyStream, Reply, StreamReply
from cliproxy.requestid import NO_REQUEST, REQUEST_ID, new_request_id
from cliproxy.usage.record import stream_service_tier
from cliproxy.usage.recording import Timed, timed
from cliproxy.usage.writer import Spool

if TYPE_CHECKING:
    from cliproxy.translate.ir import Usage
    from cliproxy.usage.recorder import Recorder
    from cliproxy.usage.tool_usage import ToolUsage

__all__ = ["CLIENT_CLOSED", "Attempt", "RequestTrace"]

CLIENT_CLOSED = 499  # the status a request the client left is recorded with (nginx's, CPA's)

_wall = time.time
_clock = time.perf_counter
_NO_HEADERS: Mapping[str, str] = {}


class Attempt:
    """One upstream call. ``RequestTrace.upstream_request`` sets what the pipeline knows
    when it sends (no ``__init__``: one frame less per attempt); the rest keeps its class
    default until the answer (or an error) says otherwise. The credential's facts are read
    off ``cred`` when a log or an error event asks for them (a credential is replaced,
    never changed, once it serves: a refresh makes a new one)."""

    index: int
    sent: float
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    provider: str
    cred: Any
    status: int | None = None
    received: float | None = None
    response_headers: Mapping[str, str] = _NO_HEADERS
    response_body: bytes = b""
    error: str = ""
    cooled: bool = False
    cooled_model: str = ""  # the model it cools for ("" when the whole credential cools)
    cooled_reason: str = ""  # the cooldown's reason ("quota", "unauthorized"...)
    cooled_until: float = 0.0  # wall time the cooldown ends; 0: not timed
    spool: Spool | None = None
    chunks: Timed | None = None  # the stream with its timing, while recording

    @property
    def auth_id(self) -> str:
        return self.cred.id

    @property
    def label(self) -> str:
        return self.cred.label

    @property
    def auth_kind(self) -> str:
        return self.cred.kind

    @property
    def auth_value(self) -> str:
        return self.cred.api_key

    @property
    def auth_index(self) -> str:
        return self.cred.index

    @property
    def auth_provider(self) -> str:
        return self.cred.provider


class RequestTrace:
    """Collects one request; ``finish`` hands it to the writer and the usage queue."""

    # defaults a request overrides only when it has to (see the module docstring)
    status = 0
    response_headers: Mapping[str, str] = _NO_HEADERS
    response_body = b""
    spool: Spool | None = None
    error: tuple[int, str] | None = None
    credential: Any = None
    model = ""
    provider = ""  # the provider no attempt names (a router's choice of a plugin's executor)
    usage: Any = None
    stream = False
    cooldowns: tuple[tuple[str, str], ...] = ()
    chunks: Timed | None = None  # the client stream with its timing, only while recording
    _last_chunk = 0.0
    stream_tier = ""  # the service tier a stream's events named last (the usage queue's record)
    tool_usage: ToolUsage | None = None  # the answer's own tool usage (``usage.tool_usage``)
    _ttft: float | None = None
    _done = False
    full = False  # logged in full (``request-log`` on when the request began)
    # whether a successful upstream body is kept (a full log or a recording): without it,
    # ``upstream_body`` keeps error bodies only, so a caller may skip it for a good answer
    keep_bodies = False
    # called with (usage, upstream model) when the request is over (a key's policy)
    on_usage: Callable[[Any, str], None] | None = None
    # the WebSocket session whose turn this is (``usage.timeline.SessionLog``), while its
    # log is on: the session's log takes this request's upstream calls
    session: Any = None

    def __init__(
        self,
        recorder: Recorder,
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
        rid = REQUEST_ID.get()  # the id this request's log lines carry (cliproxy.requestid)
        self.id = rid if rid != NO_REQUEST else new_request_id()
        self.started = _wall()
        self._t0 = _clock()
        self.method = method  # one store each: a tuple of more than three is built, then unpacked
        self.url = url
        self.headers = headers
        self.body = body
        self.endpoint = endpoint
        self.fmt = fmt
        self.alias = alias
        self.api_key = api_key
        self.client_ip = client_ip
        self.attempts: list[Attempt] = []
        if recorder.request_log:
            self.full = self.keep_bodies = True
        if recorder.capture is not None:
            self.chunks = []
            self.keep_bodies = True

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
        attempts = self.attempts
        a = Attempt()
        attempts.append(a)
        a.index = len(attempts)
        a.sent = self.started + (_clock() - self._t0)  # wall time, as ``upstream_response`` reads it
        a.method = method
        a.url = url
        a.headers = headers
        a.body = body
        a.provider = provider
        a.cred = cred

    def cooled(
        self, provider: str, scope: str, model: str = "", reason: str = "", seconds: float = 0.0
    ) -> None:
        """The pipeline put the credential of the current attempt in cooldown (``scope``
        ``model`` for ``model``, else the whole credential) for ``seconds``, for ``reason``."""
        self.cooldowns = (*self.cooldowns, (provider, scope))
        if self.attempts:
            a = self.attempts[-1]
            a.cooled, a.cooled_reason = True, reason
            a.cooled_model = model if scope == "model" else ""
            a.cooled_until = time.time() + seconds if seconds > 0 else 0.0

    def upstream_calls(self) -> list[Attempt]:
        """The proxy's own upstream calls, in order: ``attempts`` without a plugin's
        ``host.http`` calls (recorded for the request log; they name no provider)."""
        return [a for a in self.attempts if a.provider]

    def answer_headers(self) -> Mapping[str, str] | None:
        """The headers of the last upstream answer: a plugin's own calls (a response
        interceptor may call out after the answer) are not one, unless they are all there
        is (a plugin executor's)."""
        calls = self.upstream_calls() or self.attempts
        return calls[-1].response_headers if calls else None

    def upstream_response(self, status: int, headers: Mapping[str, str]) -> None:
        a = self.attempts[-1]
        now = _clock()  # the wall time it stands for: the start's plus the time since (one call)
        a.status, a.received, a.response_headers = status, self.started + (now - self._t0), headers
        if self._ttft is None and status < 400:
            self._ttft = now

    def upstream_body(self, data: bytes) -> None:
        """A whole upstream body (an error, or a non-streamed answer): kept when the
        request is logged in full or recorded, else only when it is an error's."""
        a = self.attempts[-1]
        if self.keep_bodies or (a.status or 0) >= 400:
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

    def reply(self, result: Reply | StreamReply, finish: bool = True) -> Reply | StreamReply:
        """The pipeline's answer, recorded (a stream: wrapped to be recorded as it flows).

        A whole answer finishes the record at once; ``finish=False`` leaves that to the
        caller's :meth:`finish` once the answer is written, so that the usage accounting
        (usage read off the body, counters, ledger row, logs) does not delay the client:
        the server calls it right after the write, in the same step of the loop, so no
        other request runs between the answer and its accounting."""
        self.credential = result.credential
        if type(result) is Reply or isinstance(result, Reply):  # no call for the usual Reply
            self.status, self.response_headers, self.response_body = (
                result.status,
                result.headers,
                result.body,
            )
            usage = result.usage  # what the pipeline read of a body it built: not read again
            if usage is not None and 0 < result.status < 400:
                self.usage = usage
            if finish and not self._done:
                self._done = True
                self.recorder.finished(self)
            return result
        self.status, self.response_headers = 200, result.headers
        self.stream = True
        if self.full and self.session is None:  # (a session's timeline has the client's frames)
            self.spool = self.recorder.spool(f"{self.id}-resp")
        read_usage = result.read_usage  # a translated stream's: its client's bytes may lack it
        sniffer = self.recorder.sniffer(self.fmt) if read_usage is None else None
        first = result.first
        if first:  # the first chunk, seen here (no call of ours for it)
            self._ttft = _clock()
            if sniffer is not None:
                sniffer.feed(first)
            if self.recorder.usage_enabled and first.find(b'"service_tier"') >= 0:
                self.stream_tier = stream_service_tier(first) or self.stream_tier
            if self.spool is not None or self.chunks is not None:
                self._keep(first)
        return StreamReply(
            result.headers,
            first,
            _ClientStream(self, result.rest, sniffer, read_usage),
            result.credential,
            read_usage,
        )

    def failed(self, status: int, message: str, headers: Mapping[str, str], body: bytes) -> None:
        """The request ended with an error answer."""
        self.error = (status, message)
        self.respond(status, headers, body)
        self.finish()

    def client_left(self) -> None:
        """The client went away before its answer went out: the record ends with CPA's
        499 (client closed request); a record already ended stays as it was."""
        if not self._done:
            self.failed(CLIENT_CLOSED, "the client closed the request", {}, b"")

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.response_headers, self.response_body = status, headers, body

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.recorder.finished(self)

    # -- usage facts

    def latency_ms(self) -> int:
        return int((_clock() - self._t0) * 1000)

    @property
    def first_byte(self) -> bool:
        """Whether an answer's first byte was seen (a successful upstream answer)."""
        return self._ttft is not None

    def elapsed(self) -> float:
        """Seconds since the request was read."""
        return _clock() - self._t0

    def ttft(self) -> float | None:
        """Seconds to the first byte of the answer, ``None`` when there was none."""
        return None if self._ttft is None else self._ttft - self._t0

    def ttft_ms(self) -> int:
        return int(((self._ttft or _clock()) - self._t0) * 1000)

    def _keep(self, chunk: bytes) -> None:
        """A client chunk for the request log's spool and the recording, when they are on."""
        if self.spool is not None:
            self.spool.append(chunk)
        if self.chunks is not None:
            now = _clock()
            self.chunks.append((now - (self._last_chunk or self._t0), chunk))
            self._last_chunk = now


class _ClientStream(LazyStream):
    """The client stream, seen on its way out; closing it always closes the source
    (even when it was never started) and ends the trace. A stream its client left before
    its end (a write or drain that found the client gone, the request's task cancelled, a
    close before it was read) ends the trace as CPA's 499, with the usage seen so far.

    Iterating it runs one async generator (``_pull``): no coroutine of ours per chunk."""

    __slots__ = ("_ended", "_left", "_read", "_rest", "_sniffer", "_trace")

    def __init__(
        self,
        trace: RequestTrace,
        rest: AsyncIterator[bytes],
        sniffer: Any,
        read_usage: Callable[[], Usage | None] | None = None,
    ) -> None:
        super().__init__()
        self._trace, self._rest, self._sniffer, self._read = trace, rest, sniffer, read_usage
        self._ended = self._left = False

    def _seer(self, emit: Callable[[bytes], int] | None = None) -> Callable[[bytes], int]:
        """What is done with each client chunk on its way out: the first one's time, the
        usage sniffer, the request log's spool and the recording (those that are on);
        then, pushed, ``emit`` (its answer returned: 0 when there is none)."""
        t = self._trace
        sniffer = self._sniffer
        feed = sniffer.feed if sniffer is not None else None
        keep = t.spool is not None or t.chunks is not None
        tiers = t.recorder.usage_enabled  # the usage queue's record names the answer's tier

        def see(chunk: bytes) -> int:
            if t._ttft is None:
                t._ttft = _clock()
            if feed is not None:
                feed(chunk)
            if tiers and chunk.find(b'"service_tier"') >= 0:
                t.stream_tier = stream_service_tier(chunk) or t.stream_tier
            if keep:
                t._keep(chunk)
            if emit is None:
                return 0
            try:
                return emit(chunk)
            except ConnectionResetError:  # the client went away
                self._left = True
                raise

        return see

    async def _pull(self) -> AsyncGenerator[bytes, None]:
        see = self._seer()
        try:
            async for chunk in self._rest:
                see(chunk)
                yield chunk
        except (GeneratorExit, asyncio.CancelledError):  # its reader stopped: the client left
            self._left = True
            raise
        await self._end()

    def relay(
        self, emit: Callable[[bytes], int], drain: Callable[[], Awaitable[None]]
    ) -> Coroutine[Any, Any, None] | None:
        """Push mode (``cliproxy.replies``' stream rest): each chunk seen as it is by
        :meth:`_pull`, then handed to ``emit``, whose answer goes back to the source
        (``drain()`` awaited when it asks to pause); the trace ends with the stream. The
        coroutine to await for the whole stream, or ``None`` when the source cannot push
        (then iterate)."""
        relay = getattr(self._rest, "relay", None)
        if relay is None or self._gen is not None or self._ended:
            return None
        inner = relay(self._seer(emit), lambda: self._drain(drain))
        return None if inner is None else self._relayed(inner)

    async def _drain(self, drain: Callable[[], Awaitable[None]]) -> None:
        try:
            await drain()
        except ConnectionResetError:  # the client went away
            self._left = True
            raise

    async def _relayed(self, inner: Coroutine[Any, Any, None]) -> None:
        try:
            await inner
        except asyncio.CancelledError:  # the server cancels a request whose client is gone
            self._left = True
            raise
        finally:
            await self._end()

    async def _end(self) -> None:
        """Close the source and end the trace, once (the end of the stream, then the
        reader's ``aclose``)."""
        if self._ended:
            return
        self._ended = True
        try:
            await self._rest.aclose()  # type: ignore[attr-defined]
        finally:
            t, sniffer = self._trace, self._sniffer
            if sniffer is not None:
                t.usage = sniffer.usage
            elif self._read is not None:
                t.usage = self._read()
            if self._left and t.error is None:
                t.status, t.error = CLIENT_CLOSED, (CLIENT_CLOSED, "the client closed the request")
            elif t.error is None:  # a stream that ended in an error event is a failed request (CPA)
                failure = getattr(self._rest, "failure", None)
                if failure is not None:
                    status = failure.status if failure.status and failure.status >= 400 else 502
                    t.status, t.error = status, (status, failure.message)
            if not t._done:  # ``RequestTrace.finish``, inlined
                t._done = True
                t.recorder.finished(t)

    async def aclose(self) -> None:
        gen = self._gen
        try:
            if gen is not None:
                await gen.aclose()
            elif not self._ended:  # closed before anything read it: the client left at the start
                self._left = True
        finally:
            if not self._ended:  # usually ended with the stream already: no coroutine
                await self._end()


async def _tee(chunks: AsyncIterator[bytes], spool: Spool) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        spool.append(chunk)
        yield chunk
