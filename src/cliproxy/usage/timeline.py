"""The request log of one WebSocket session: its frames, both ways, on both sides.

CPA writes one request log per client socket (``request-log: true``): the upgrade's
request info and headers, then ``=== WEBSOCKET TIMELINE ===`` (the frames between the
client and the proxy) and ``=== API WEBSOCKET TIMELINE ===`` (the frames between the
proxy and an upstream reached over its own socket), then the HTTP upstream calls the
session's turns made (``API REQUEST n`` / ``API RESPONSE n``). No ``REQUEST BODY`` and no
``RESPONSE`` section: the timelines are the exchange. Each event is::

    Timestamp: <RFC 3339, local>
    Event: websocket.request | websocket.response | websocket.disconnect
           | api.websocket.request | api.websocket.handshake
           | api.websocket.response | api.websocket.error
    <the frame, trimmed; or the event's fields>

with a blank line between events. A frame with nothing but white space is left out (CPA).

Sizes are bounded: each timeline is appended to a spool file through the log writer
thread (``usage.writer``), at most :data:`MAX_TIMELINE` bytes each; events past that are
counted and the log says how many bytes were not logged. Headers are masked as in every
request log (``usage.mask``); frames are written as they went, like request bodies.

Nothing here runs for a session without ``request-log``: the server asks the recorder for
a :class:`SessionLog` (``None`` while request logs are off) and the upstream socket reads
:data:`API_TIMELINE` (``None`` outside a logged session) once per turn.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

from cliproxy.requestid import NO_REQUEST, REQUEST_ID, new_request_id
from cliproxy.times import format_local
from cliproxy.usage.mask import mask_header, mask_query
from cliproxy.usage.trace import CLIENT_CLOSED
from cliproxy.usage.writer import Spool

if TYPE_CHECKING:
    from cliproxy.usage.recorder import Recorder
    from cliproxy.usage.trace import Attempt, RequestTrace

__all__ = ["API_TIMELINE", "MAX_TIMELINE", "SessionLog", "Timeline"]

MAX_TIMELINE = 64 * 1024 * 1024  # bytes one timeline keeps; later events are counted, not logged

# the upstream-side timeline of the logged session whose turn runs in this context
API_TIMELINE: ContextVar[Timeline | None] = ContextVar("cliproxy_api_timeline", default=None)

_wall = time.time


class Timeline:
    """One side of a session: its events, appended as they happen (on the event loop)."""

    __slots__ = ("count", "open", "spool")

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.count = 0  # events appended (those past the size limit included)
        self.open = True  # until the log is written: nothing is appended after that

    def add(self, event: str, payload: bytes) -> None:
        """One frame (or event text) at the time of the call; blank ones are left out."""
        data = payload.strip()
        if not data or not self.open:
            return
        head = f"Timestamp: {format_local(_wall())}\nEvent: {event}\n"
        if self.count:
            head = "\n" + head
        self.count += 1
        self.spool.append(head.encode() + data + b"\n")

    def binary(self, event: str, size: int) -> None:
        """A binary frame: its size only (audio, mostly)."""
        self.add(event, f"<binary frame, {size} bytes>".encode())

    # -- the upstream side (CPA RecordAPIWebsocketRequest / Handshake / Error)

    def upstream_request(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """A message sent on an upstream socket, with the socket's URL and upgrade headers."""
        path, sep, query = url.partition("?")
        lines = (
            f"Upstream URL: {path}{sep}{mask_query(query)}\nHeaders:\n{_headers(headers.items())}\nBody:\n"
        )
        self.add("api.websocket.request", lines.encode() + (body.strip() or b"<empty>"))

    def handshake(self, status: int, headers: Mapping[str, str]) -> None:
        """An upstream socket opened (or refused): the upgrade's answer."""
        self.add(
            "api.websocket.handshake", f"Status: {status}\nHeaders:\n{_headers(headers.items())}".encode()
        )

    def error(self, stage: str, message: str) -> None:
        """An upstream socket failed (``stage``: dial, send, read)."""
        self.add("api.websocket.error", f"Stage: {stage}\nError: {message}".encode())


def _headers(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{k}: {mask_header(k, v)}\n" for k, v in sorted(pairs)) or "<none>\n"


class SessionLog:
    """One WebSocket session's request log, written once when the session ends.

    ``client`` and ``api`` are its two timelines; the request traces of its turns hand
    their HTTP upstream calls over (:meth:`adopt`) instead of writing logs of their own."""

    def __init__(self, recorder: Recorder, url: str, headers: Mapping[str, str]) -> None:
        rid = REQUEST_ID.get()
        self.id = rid if rid != NO_REQUEST else new_request_id()
        self.recorder = recorder
        self.started = _wall()
        self.url = url
        self.headers = headers
        self.client = Timeline(recorder.spool(f"{self.id}-ws"))
        self.api = Timeline(recorder.spool(f"{self.id}-api-ws"))
        self.client.spool.limit = self.api.spool.limit = MAX_TIMELINE
        self.attempts: list[Attempt] = []  # the turns' HTTP upstream calls
        self.errors: list[tuple[int, str]] = []  # the turns' error answers
        self.ended = False
        self._reason = ""

    def adopt(self, t: RequestTrace) -> bool:
        """A turn's trace is over: its HTTP upstream calls and its error join this log
        (an upstream socket's frames are in ``api`` already, so their copy goes). False
        when the session has ended: the turn then writes a log of its own."""
        if self.ended:
            return False
        discard = self.recorder.writer.submit
        for a in t.attempts:
            if _over_websocket(a.url):
                if a.spool is not None:
                    discard(a.spool.discard)
            else:
                self.attempts.append(a)
        if t.spool is not None:  # the client's copy: the timeline has its frames
            discard(t.spool.discard)
        if t.error is not None and t.status != CLIENT_CLOSED:  # a client that left: its disconnect says so
            self.errors.append(t.error)
        return True

    def disconnect(self, reason: str) -> None:
        """How the session ended; the last client event (CPA ``websocket.disconnect``)."""
        if not self._reason:
            self._reason = reason
            self.client.add("websocket.disconnect", reason.encode())

    def end(self, reason: str = "") -> None:
        """Write the log (once)."""
        if self.ended:
            return
        if reason:
            self.disconnect(reason)
        self.ended = True
        self.client.open = self.api.open = False
        self.recorder.write_session(self)

    @property
    def upstream_transport(self) -> str:
        ws, http = self.api.count > 0, bool(self.attempts)
        return "websocket+http" if ws and http else "websocket" if ws else "http" if http else ""


def _over_websocket(url: str) -> bool:
    return url.startswith(("ws://", "wss://"))
