"""Keep-alive bytes for clients (and proxies in front of them) with idle timeouts.

``streaming.keepalive-seconds``: an SSE comment line (``: keep-alive``, as CPA writes it)
whenever the stream has been silent that long, at an event boundary only (a pass-through
chunk may end inside an event). The openai and anthropic SDKs skip comment lines; the
google-genai SDK does not (it parses every non-``data:`` line as JSON and fails), so Gemini
clients get a blank line instead, which every SSE parser skips (CPA sends Gemini the
comment and breaks that SDK: a deliberate difference). While the proxy is still waiting for
the first event (failing over between credentials, or an upstream thinking before its
first content) the 200 and the SSE headers go out at the first tick, so the client sees
bytes; an error after that point reaches the client as an in-format error event instead
of an HTTP status. Gemini's JSON-array framing (no ``?alt=sse``) gets none: a comment is
not JSON (CPA skips it too).

``nonstream-keepalive-interval``: for whole answers, CPA's blank line (``\\n``, JSON
whitespace any parser skips) every interval while waiting; the 200 and ``Content-Type:
application/json`` are committed at the first one, so a late error is the client's error
object under that 200, as in CPA.

HTTP framing only: what to wait for and what to write comes from the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.calls import SSE_HEADERS, Call
from cliproxy.formats import Format
from cliproxy.formats.stream_errors import safe_error_body

if TYPE_CHECKING:
    from cliproxy.server.fast.exchange import Exchange

__all__ = ["SSE_KEEPALIVE", "Beats", "commit_while_waiting", "error_frame", "intervals", "with_keepalives"]

SSE_KEEPALIVE = b": keep-alive\n\n"
_JSON = {"Content-Type": "application/json"}
BLANK_LINE = b"\n"  # Gemini streams; whole JSON answers (whitespace before the object)


def stream_keepalive(fmt: Format) -> bytes:
    return BLANK_LINE if fmt is Format.GEMINI else SSE_KEEPALIVE


def intervals(config: Any, call: Call) -> float:
    """Seconds between keep-alives for this call (0: none)."""
    if call.stream:
        if call.format is Format.GEMINI and call.alt != "sse":
            return 0.0
        seconds = config.streaming.keepalive_seconds  # whole seconds (the config's int)
    elif call.action == "count":
        return 0.0
    else:
        seconds = config.nonstream_keepalive_interval
    return float(seconds) if seconds and seconds > 0 else 0.0


async def commit_while_waiting(
    ex: Exchange,
    work: asyncio.Future[Any],
    interval: float,
    fmt: Format,
    *,
    stream: bool,
    sse_headers: Mapping[str, str] = SSE_HEADERS,
) -> bool:
    """Wait for ``work``; at every ``interval`` of waiting write a keep-alive, committing
    the 200 (with ``sse_headers`` for a stream) at the first. ``True`` when the 200 went
    out, ``False`` when ``work`` finished first. A client gone away cancels ``work``."""
    committed = False
    try:
        while True:
            done, _ = await asyncio.wait((work,), timeout=interval)
            if done:
                return committed
            if not committed:
                headers = sse_headers if stream else _JSON
                await ex.start(200, headers)
                committed = True
            await ex.write(stream_keepalive(fmt) if stream else BLANK_LINE)
    except BaseException:
        work.cancel()
        raise


def error_frame(fmt: Format, body: bytes, headers: Mapping[str, str] | None = None) -> bytes:
    """An error body of ``fmt`` (``cliproxy.server.errors``) as one SSE event: ``event:
    error`` where the client's SDK keys on it (Anthropic), a ``data:`` line whose ``error``
    member the openai SDK raises on. Responses clients get CPA's stream error event
    (``type``, ``code``, ``message``), or ``response.failed`` when the client is Codex
    (by its ``User-Agent`` / ``Originator``, as CPA tells)."""
    if fmt is Format.RESPONSES:
        return _responses_error(body, headers or {})
    if body.find(b"\n") >= 0 or body.find(b"\r") >= 0:
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.dumps(orjson.loads(body))
    if fmt is Format.CLAUDE or fmt is Format.INTERACTIONS:  # Interactions: CPA's WriteTerminalError
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


def _responses_error(body: bytes, headers: Mapping[str, str]) -> bytes:
    err = safe_error_body(body)  # bounded and redacted (it is already, from ``_failure``)
    message = str(err.get("message") or "upstream error")
    code = err.get("code") or err.get("type") or "server_error"
    if _codex_client(headers):
        failed = {"status": "failed", "error": {**err, "code": code, "message": message}}
        data = {"type": "response.failed", "sequence_number": 0, "response": failed}
        return b"event: response.failed\ndata: " + orjson.dumps(data) + b"\n\n"
    data = {
        "type": "error",
        "code": code,
        "message": message,
        "param": err.get("param"),
        "sequence_number": 0,
        "error": err,
    }
    return b"event: error\ndata: " + orjson.dumps(data) + b"\n\n"


def _codex_client(headers: Mapping[str, str]) -> bool:
    agent = headers.get("User-Agent", "").strip()
    if agent == "codex_cli_rs" or agent.startswith(("Codex Desktop/", "codex-tui/", "codex_cli_rs/")):
        return True
    origin = headers.get("Originator", "").strip().lower()
    names = ("codex desktop", "codex-tui", "codex_cli_rs")
    return origin in names or origin.startswith(tuple(n + "/" for n in names))


async def with_keepalives(
    chunks: AsyncIterator[bytes], interval: float, fmt: Format, after: bytes = b""
) -> AsyncIterator[bytes]:
    """``chunks``, with a keep-alive in between whenever none came for ``interval`` and the
    last bytes out (``after`` at the start) ended an SSE event."""
    pending: asyncio.Future[bytes] | None = None
    beat = stream_keepalive(fmt)
    boundary = _ends_event(after) if after else True
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(chunks.__anext__())
            done, _ = await asyncio.wait((pending,), timeout=interval)
            if not done:
                if boundary:
                    yield beat
                continue
            ready, pending = pending, None
            try:
                chunk = ready.result()
            except StopAsyncIteration:
                return
            if chunk:
                boundary = _ends_event(chunk)
                yield chunk
    finally:
        if pending is not None:  # the reader stops mid-wait: the upstream read ends first
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


class Beats:
    """Keep-alives for a pushed stream (``Exchange.sink``), as :func:`with_keepalives`
    writes them for a pulled one: :meth:`emit` wraps the sink's ``emit`` and notes when
    bytes last went out; a timer writes the keep-alive whenever none did for ``interval``
    and the last ended an event. No task or future per chunk: a timer per stream, moved
    only when it fires. A keep-alive the client cannot take (it went away) cancels the
    task that awaits the stream, whose relay then closes the upstream: ``gone`` holds why,
    for that task to tell its own cancel from another's."""

    __slots__ = ("_beat", "_boundary", "_emit", "_interval", "_last", "_loop", "_task", "_timer", "gone")

    def __init__(
        self, emit: Callable[[bytes], bool], interval: float, fmt: Format, after: bytes = b""
    ) -> None:
        self._emit = emit
        self._interval = interval
        self._beat = stream_keepalive(fmt)
        self._boundary = _ends_event(after) if after else True
        self._loop = loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._last = loop.time()
        self._timer: asyncio.TimerHandle | None = loop.call_at(self._last + interval, self._tick)
        self.gone: ConnectionError | None = None

    def emit(self, chunk: bytes) -> bool:
        if chunk:
            self._last = self._loop.time()
            self._boundary = chunk.endswith(_EVENT_ENDS)  # ``_ends_event``, inline: per chunk
        return self._emit(chunk)

    def _tick(self) -> None:
        now = self._loop.time()
        due = self._last + self._interval
        if now >= due:  # silent for a whole interval
            if self._boundary:
                try:
                    self._emit(self._beat)  # (a full buffer: the next chunk's emit says so)
                except ConnectionError as exc:
                    self._timer = None
                    self.gone = exc
                    if self._task is not None:
                        self._task.cancel()
                    return
            self._last = now
            due = now + self._interval
        self._timer = self._loop.call_at(due, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


_EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


def _ends_event(chunk: bytes) -> bool:
    return chunk.endswith(_EVENT_ENDS)
