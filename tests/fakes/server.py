"""Base of the fake upstream servers: lifecycle, request recording and fault injection.

A fake is a real aiohttp server on 127.0.0.1 (random port). Subclasses add the routes
of one API and say how that API spells its errors. Everything a test needs lives here:

    fake.gzip = True                                  # answers in gzip to requests that offer it
    fake.fail_next(429, retry_after=3, key="k-a")     # next request with key k-a fails
    fake.fail_key("k-b", 401)                         # every request with key k-b fails
    fake.script(Behavior(cut_after=2))                # next stream is cut after 2 frames
    fake.stream_delay = 0.01                          # pause between stream frames
    fake.stream_together = True                       # all frames of a stream in one write
    fake.answer_headers["k-a"] = {"x-ratelimit-remaining-requests": "0"}  # on every answer
    fake.last.json["model"], fake.last.key            # what the client sent (a form: FormFile files)
    fake.connections("k-a")                            # TCP connections k-a's requests came on

A fake runs either on the caller's loop (``async with fake``, ``await fake.start()``)
or on a private loop in a background thread (``with fake``, ``fake.start_background()``),
which serves sync clients and async tests alike.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any, ClassVar, Self

import orjson
from aiohttp import web
from multidict import CIMultiDict

__all__ = ["Behavior", "FakeServer", "FormFile", "Recorded"]

Handler = Callable[[web.Request], Any]


@dataclass(slots=True, frozen=True)
class FormFile:
    """A file part of a ``multipart/form-data`` body (``Recorded.json`` holds the form's
    fields by name: text as ``str``, files as ``FormFile``, a name sent twice as a list)."""

    filename: str
    content_type: str  # its own Content-Type header ("" when it had none)
    data: bytes


@dataclass(slots=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    json: Any = None
    key: str | None = None
    peer: str = ""  # the client's "host:port": one per TCP connection
    dropped: bool = False  # the client closed the connection while a delay was being waited

    @property
    def model(self) -> str | None:
        """The model named in the body (or, for Gemini, in the path)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("model"), str):
            return self.json["model"]
        if "/models/" in self.path:
            return self.path.split("/models/", 1)[1].split(":", 1)[0]
        return None


@dataclass(slots=True)
class Behavior:
    """A scripted deviation, consumed by the next matching request(s).

    Match fields: ``key`` (auth key), ``model``, ``path`` (substring). ``times`` is how
    many requests it applies to; ``None`` keeps it forever (a rule).
    Error: ``status`` plus ``message``/``body``/``headers`` and the retry hints:
    ``retry_after`` (seconds or HTTP date, sent as Retry-After), ``retry_delay`` (Google
    RetryInfo), ``quota_reset_delay`` (Google ErrorInfo metadata), ``resets_in_seconds`` /
    ``resets_at`` (Codex), ``unified`` (Anthropic ``anthropic-ratelimit-unified-<k>`` headers).
    Timing and streams: ``delay`` (before headers), ``stream_delay`` (per frame, from
    frame ``delay_from`` on),
    ``cut_after`` (close the connection after N frames), ``end_after`` (end the stream
    cleanly after N frames, its terminal event never sent), ``stream_error`` (in-band error
    code sent after ``error_after`` frames), ``text`` (replace the reply text).
    A behaviour with only stream faults skips non-streaming requests.
    """

    status: int | None = None
    key: str | None = None
    model: str | None = None
    path: str | None = None
    times: int | None = 1
    message: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | str | datetime | None = None
    retry_delay: float | None = None
    quota_reset_delay: float | str | None = None
    resets_in_seconds: int | None = None
    resets_at: int | None = None
    unified: dict[str, Any] | None = None
    delay: float = 0.0
    stream_delay: float | None = None
    delay_from: int = 1  # the first frame ``stream_delay`` waits before (a silence mid-answer: 2 or more)
    cut_after: int | None = None
    end_after: int | None = None
    stream_error: str | None = None
    error_after: int = 1
    text: str | None = None

    @property
    def stream_only(self) -> bool:
        """Only stream faults: such a behaviour waits for the next streaming request."""
        stream_fault = (
            self.cut_after is not None
            or self.end_after is not None
            or self.stream_error is not None
            or self.stream_delay is not None
        )
        return self.status is None and stream_fault

    def matches(self, rec: Recorded, streaming: bool = True) -> bool:
        if self.stream_only and not streaming:
            return False
        if self.key is not None and rec.key != self.key:
            return False
        if self.model is not None and rec.model != self.model:
            return False
        return self.path is None or self.path in rec.path

    def retry_after_header(self) -> str | None:
        value = self.retry_after
        if value is None:
            return None
        if isinstance(value, datetime):
            return format_datetime(value, usegmt=True)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)


BEHAVIOR: web.RequestKey[Behavior | None] = web.RequestKey("fake.behavior")
RECORD: web.RequestKey[Recorded] = web.RequestKey("fake.record", Recorded)


async def _pause(request: web.Request, seconds: float) -> bool:
    """Sleep ``seconds`` watching the connection: False, and the request's record marked
    ``dropped``, as soon as the client closed it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            request[RECORD].dropped = True
            return False
        left = end - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(0.01, left))


class FakeServer:
    """A fake upstream API server; subclasses add routes and the API's error shapes."""

    kind: ClassVar[str] = "fake"
    default_models: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, valid_keys: Iterable[str] | None = None, port: int = 0) -> None:
        self.valid_keys: set[str] | None = set(valid_keys) if valid_keys is not None else None
        self.models: list[str] = list(self.default_models)
        self.requests: list[Recorded] = []
        self.behaviors: list[Behavior] = []
        self.stream_delay: float = 0.0
        self.stream_together = False  # write a stream's frames in one write (one read, mostly)
        # headers added to every answer (success or error) to requests with this auth key
        # (None: any key), e.g. rate-limit headers: fake.answer_headers["k-a"] = {...}
        self.answer_headers: dict[str | None, dict[str, str]] = {}
        # ``gzip``: answer in gzip a request whose Accept-Encoding offers it (as Google's front
        # end: a whole body at once, a stream flushed frame by frame); ``gzip_cut``: leave the
        # compressed stream unfinished (half a whole body; a stream without its last block)
        self.gzip = False
        self.gzip_cut = False
        self.port = port
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ---- what subclasses provide -------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def extract_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth[:7].lower() == "bearer " else None

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        return {"error": {"message": message, "code": status}}

    def auth_error(self, key: str | None) -> web.Response:
        return self.error_response(401, "invalid api key", None)

    def stream_error_frame(self, request: web.Request, beh: Behavior, sent: int) -> bytes:
        return b"data: " + orjson.dumps(self.error_body(500, beh.stream_error or "error", beh)) + b"\n\n"

    def error_headers(self, beh: Behavior | None) -> dict[str, str]:
        return {}

    def gzips(self, request: web.Request) -> bool:
        """Whether the answer to ``request`` goes in gzip (see ``gzip``)."""
        return self.gzip and "gzip" in request.headers.get("Accept-Encoding", "").lower()

    # ---- recording -----------------------------------------------------------------

    @property
    def last(self) -> Recorded:
        """The most recent request (AssertionError when none came)."""
        assert self.requests, f"fake-{self.kind} received no request"
        return self.requests[-1]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def connections(self, key: str | None = None) -> set[str]:
        """The client ports (TCP connections) requests arrived on: those with ``key``, or all."""
        return {r.peer for r in self.requests if key is None or r.key == key}

    def clear(self) -> None:
        """Forget recorded requests."""
        self.requests.clear()

    def reset(self) -> None:
        """Forget requests, scripted behaviours and answer headers; restore the stream delay."""
        self.clear()
        with self._lock:
            self.behaviors.clear()
        self.stream_delay = 0.0
        self.stream_together = False
        self.answer_headers.clear()
        self.gzip = self.gzip_cut = False

    # ---- fault injection -------------------------------------------------------------

    def script(self, *behaviors: Behavior) -> Behavior:
        """Queue behaviours; each applies to the next matching request(s). Returns the last."""
        with self._lock:
            self.behaviors.extend(behaviors)
        return behaviors[-1]

    def fail_next(self, status: int = 500, *, times: int | None = 1, **kw: Any) -> Behavior:
        """Answer the next matching request(s) with ``status`` in this API's error shape."""
        return self.script(Behavior(status=status, times=times, **kw))

    def fail_key(self, key: str, status: int = 401, **kw: Any) -> Behavior:
        """Answer every request made with ``key`` with ``status`` until ``clear_faults()``."""
        return self.script(Behavior(status=status, key=key, times=None, **kw))

    def delay_next(self, seconds: float, **kw: Any) -> Behavior:
        """Wait ``seconds`` before sending the headers of the next matching response."""
        return self.script(Behavior(delay=seconds, **kw))

    def cut_next(self, after: int = 1, **kw: Any) -> Behavior:
        """Close the next stream's connection after ``after`` frames, without terminator."""
        return self.script(Behavior(cut_after=after, **kw))

    def stream_error_next(self, code: str = "overloaded", after: int = 1, **kw: Any) -> Behavior:
        """Send an in-band error frame after ``after`` frames of the next stream."""
        return self.script(Behavior(stream_error=code, error_after=after, **kw))

    def clear_faults(self) -> None:
        with self._lock:
            self.behaviors.clear()

    def is_stream(self, rec: Recorded) -> bool:
        """Whether the request asks for a streamed answer."""
        return isinstance(rec.json, dict) and rec.json.get("stream") is True

    def _take_behavior(self, rec: Recorded) -> Behavior | None:
        streaming = self.is_stream(rec)
        with self._lock:
            for i, beh in enumerate(self.behaviors):
                if not beh.matches(rec, streaming):
                    continue
                if beh.times is not None:
                    beh.times -= 1
                    if beh.times <= 0:
                        del self.behaviors[i]
                return beh
        return None

    # ---- request pipeline ------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resp = await self._serve(request, handler)
        if isinstance(resp, web.Response) and not resp.prepared and self.gzips(request):
            raw = resp.body
            if isinstance(raw, bytes) and raw:
                packed = zlib.compress(raw, wbits=31)
                resp.body = packed[: len(packed) // 2] if self.gzip_cut else packed
                resp.headers["Content-Encoding"] = "gzip"
        return resp

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        rec = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            body=body,
            json=_parse_form(body, request.headers["Content-Type"])
            if request.content_type == "multipart/form-data"
            else _parse_json(body),
            key=self.extract_key(request),
            peer=_peer(request),
        )
        self.requests.append(rec)
        request[RECORD] = rec
        if self.valid_keys is not None and rec.key not in self.valid_keys:
            return self.auth_error(rec.key)
        beh = self._take_behavior(rec)
        request[BEHAVIOR] = beh
        if beh is not None and beh.delay and not await _pause(request, beh.delay):
            return web.Response(status=499)  # nobody reads it: the client closed the connection
        if beh is not None and beh.status is not None:
            return self.error_response(beh.status, beh.message, beh)
        if body and rec.json is None:
            return self.error_response(400, "request body is not valid JSON", None)
        try:
            return await handler(request)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            # a body the fake cannot read: the real APIs validate and answer 400, never 500
            return self.error_response(400, f"invalid request body: {type(exc).__name__}", None)

    def error_response(self, status: int, message: str | None, beh: Behavior | None) -> web.Response:
        message = message or _DEFAULT_MESSAGES.get(status, f"fake error {status}")
        body = beh.body if beh is not None and beh.body is not None else self.error_body(status, message, beh)
        headers = self.error_headers(beh)
        if beh is not None:
            retry_after = beh.retry_after_header()
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            headers.update(beh.headers)
        raw = (
            body
            if isinstance(body, bytes)
            else body.encode()
            if isinstance(body, str)
            else orjson.dumps(body)
        )
        headers.setdefault("Content-Type", "application/json")
        return web.Response(status=status, body=raw, headers=headers)

    @staticmethod
    def json_response(obj: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")

    @staticmethod
    def behavior(request: web.Request) -> Behavior | None:
        return request.get(BEHAVIOR)

    @staticmethod
    def body(request: web.Request) -> dict[str, Any]:
        data = request[RECORD].json
        return data if isinstance(data, dict) else {}

    async def stream(
        self, request: web.Request, frames: Iterable[bytes], content_type: str = "text/event-stream"
    ) -> web.StreamResponse:
        """Write ``frames`` one by one, applying the request's stream faults."""
        beh = self.behavior(request)
        resp = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
        packer = zlib.compressobj(wbits=31) if self.gzips(request) else None
        if packer is not None:
            resp.headers["Content-Encoding"] = "gzip"
        await resp.prepare(request)

        async def write(data: bytes) -> None:
            if packer is not None:  # each frame readable as it comes: a sync flush after it
                data = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)
            await resp.write(data)

        async def end() -> None:
            if packer is not None and not self.gzip_cut:
                await resp.write(packer.flush())
            await resp.write_eof()

        delay = beh.stream_delay if beh is not None and beh.stream_delay is not None else self.stream_delay
        if self.stream_together and beh is None and not delay:  # several events in one read
            await write(b"".join(frames))
            await end()
            return resp
        for sent, frame in enumerate(frames):
            if beh is not None and beh.cut_after == sent:
                return _cut(request, resp)
            if beh is not None and beh.end_after == sent:
                break
            if beh is not None and beh.stream_error and beh.error_after == sent:
                await write(self.stream_error_frame(request, beh, sent))
                break
            if (
                delay
                and sent >= (beh.delay_from if beh is not None else 1)
                and not await _pause(request, delay)
            ):
                return resp  # the client closed the connection
            await write(frame)
        else:
            if beh is not None and beh.cut_after is not None and beh.cut_after > sent:
                return _cut(request, resp)  # every frame went out: the connection breaks after them
        await end()
        return resp

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return self.base_url + path

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024 * 1024)
        self.add_routes(app.router)
        app.on_response_prepare.append(self._answer_headers)
        return app

    async def _answer_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if not self.answer_headers:
            return
        rec = request.get(RECORD)
        extra = self.answer_headers.get(rec.key if rec is not None else None) or self.answer_headers.get(None)
        if extra:
            response.headers.update(extra)

    async def start(self) -> Self:
        """Serve on the running loop."""
        runner = web.AppRunner(self.build_app(), shutdown_timeout=0.1, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_background(self) -> Self:
        """Serve from a private event loop in a daemon thread (for sync and async callers)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"fake-{self.kind}", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        return self

    def stop_background(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start_background()

    def __exit__(self, *exc: object) -> None:
        self.stop_background()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url} requests={len(self.requests)}>"


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON-encoded unless already bytes."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"


def _cut(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Drop the connection mid-body: the client sees an incomplete chunked payload."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _parse_form(body: bytes, content_type: str) -> dict[str, Any] | None:
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(data, bytes):
            return None
        filename = part.get_filename()
        value = data.decode() if filename is None else FormFile(filename, part.get("Content-Type", ""), data)
        if name in form:
            before = form[name]
            form[name] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            form[name] = value
    return form


def iter_chunks(text: str, size: int = 3) -> Iterator[str]:
    """Split text into chunks of ``size`` words (keeping the spaces)."""
    words = text.split(" ")
    for i in range(0, len(words), size):
        chunk = " ".join(words[i : i + size])
        yield chunk if i + size >= len(words) else chunk + " "


_DEFAULT_MESSAGES = {
    400: "Bad request (fake)",
    401: "Invalid API key (fake)",
    403: "Permission denied (fake)",
    404: "Not found (fake)",
    413: "Request too large (fake)",
    429: "Rate limit exceeded (fake)",
    500: "Internal server error (fake)",
    502: "Bad gateway (fake)",
    503: "Service unavailable (fake)",
    529: "Overloaded",
}
