"""The request log file layout (CPA's sections), written by the log writer thread.

Order: REQUEST INFO, HEADERS, REQUEST BODY, API REQUEST n (one per upstream attempt),
API ERROR RESPONSE (the error the client got), API RESPONSE n, RESPONSE. Each section
ends with two blank lines. Headers are masked here, never earlier, so the hot path only
keeps references.

A WebSocket session's log (:func:`write_session_log`, ``usage.timeline``) has REQUEST INFO
and HEADERS, then WEBSOCKET TIMELINE and API WEBSOCKET TIMELINE, then its turns' HTTP
upstream calls; no REQUEST BODY and no RESPONSE (CPA).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

from cliproxy import __version__
from cliproxy.times import format_local
from cliproxy.usage.mask import hide_key, mask_header

if TYPE_CHECKING:
    from cliproxy.usage.timeline import SessionLog, Timeline
    from cliproxy.usage.trace import Attempt, RequestTrace

__all__ = ["iso", "write_log", "write_session_log"]


def iso(ts: float) -> str:
    """RFC 3339 with microseconds, local zone (CPA prints local time)."""
    return format_local(ts)


def _spacing(out: BinaryIO, tail: bytes) -> None:
    trailing = len(tail) - len(tail.rstrip(b"\n")) if tail else 1
    if trailing < 3:
        out.write(b"\n" * (3 - trailing))


def _headers(pairs: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {mask_header(k, v)}\n" for k, v in pairs).encode()


def _info(out: BinaryIO, url: str, method: str, transports: tuple[str, str], started: float) -> None:
    lines = [f"Version: {__version__}", f"URL: {url}", f"Method: {method}"]
    lines.append(f"Downstream Transport: {transports[0]}")
    if transports[1]:
        lines.append(f"Upstream Transport: {transports[1]}")
    lines.append(f"Timestamp: {iso(started)}")
    out.write(("=== REQUEST INFO ===\n" + "\n".join(lines) + "\n").encode())
    _spacing(out, b"\n")


def _request_info(out: BinaryIO, t: RequestTrace) -> None:
    _info(out, t.url, t.method, ("http", "http" if t.attempts else ""), t.started)
    out.write(b"=== HEADERS ===\n" + _headers(t.headers.items()))
    _spacing(out, b"\n")
    out.write(b"=== REQUEST BODY ===\n")
    out.write(t.body)  # whole, in an error-only log too (CPA's deferred capture)
    _spacing(out, t.body or b"\n")


def _auth(a: Attempt) -> str:
    parts = [f"provider={a.provider}"] if a.provider else []
    if a.auth_id:
        parts.append(f"auth_id={a.auth_id}")
    if a.label:
        parts.append(f"label={a.label}")
    if a.auth_kind in ("apikey", "api_key"):
        parts.append(f"type=api_key value={hide_key(a.auth_value)}" if a.auth_value else "type=api_key")
    elif a.auth_kind:
        parts.append(f"type={a.auth_kind}")
    return ", ".join(parts)


def _api_request(out: BinaryIO, a: Attempt, index: int = 0) -> None:
    head = [
        f"=== API REQUEST {index or a.index} ===",
        f"Timestamp: {iso(a.sent)}",
        f"Upstream URL: {a.url}",
        f"HTTP Method: {a.method}",
    ]
    if auth := _auth(a):
        head.append(f"Auth: {auth}")
    out.write(("\n".join(head) + "\n\nHeaders:\n").encode())
    out.write(_headers(sorted(a.headers.items())) if a.headers else b"<none>\n")
    out.write(b"\nBody:\n")
    out.write(a.body or b"<empty>")
    out.write(b"\n\n")


def _api_response(out: BinaryIO, a: Attempt, index: int = 0) -> None:
    if a.status is None and not a.error:
        return
    out.write(f"=== API RESPONSE {index or a.index} ===\nTimestamp: {iso(a.received or a.sent)}\n\n".encode())
    if a.status is not None:
        out.write(f"Status: {a.status}\n".encode())
    out.write(b"Headers:\n")
    out.write(_headers(sorted(a.response_headers.items())) if a.response_headers else b"<none>\n")
    out.write(b"\n")
    if a.error:
        out.write(f"Error: {a.error}\n".encode())
    if a.spool is not None or a.response_body:
        out.write(b"Body:\n")
        if a.response_body:
            out.write(a.response_body)
        if a.spool is not None:
            a.spool.drain_into(out)
        out.write(b"\n")
    out.write(b"\n")


def _response(out: BinaryIO, t: RequestTrace) -> None:
    out.write(f"=== RESPONSE ===\nStatus: {t.status}\n".encode())
    out.write("".join(f"{k}: {v}\n" for k, v in t.response_headers.items()).encode())
    out.write(b"\n")
    if t.response_body:
        out.write(t.response_body)
    if t.spool is not None:
        t.spool.drain_into(out)
    out.write(b"\n")


def _api_error(out: BinaryIO, error: tuple[int, str]) -> None:
    text = error[1].encode()
    out.write(f"=== API ERROR RESPONSE ===\nHTTP Status: {error[0]}\n".encode() + text)
    _spacing(out, text or b"\n")


def write_log(out: BinaryIO, t: RequestTrace) -> None:
    """The whole request log of ``t`` into ``out`` (writer thread)."""
    _request_info(out, t)
    for a in t.attempts:
        _api_request(out, a)
    if t.error is not None:
        _api_error(out, t.error)
    for a in t.attempts:
        _api_response(out, a)
    _response(out, t)


def _timeline(out: BinaryIO, title: bytes, timeline: Timeline) -> None:
    spool = timeline.spool
    if not timeline.count:
        spool.discard()
        return
    out.write(title)
    spool.drain_into(out)
    _spacing(out, b"\n")


def write_session_log(out: BinaryIO, s: SessionLog) -> None:
    """The request log of WebSocket session ``s`` into ``out`` (writer thread)."""
    _info(out, s.url, "GET", ("websocket", s.upstream_transport), s.started)
    out.write(b"=== HEADERS ===\n" + _headers(s.headers.items()))
    _spacing(out, b"\n")
    _timeline(out, b"=== WEBSOCKET TIMELINE ===\n", s.client)
    _timeline(out, b"=== API WEBSOCKET TIMELINE ===\n", s.api)
    for n, a in enumerate(s.attempts, 1):
        _api_request(out, a, n)
    for error in s.errors:
        _api_error(out, error)
    for n, a in enumerate(s.attempts, 1):
        _api_response(out, a, n)
