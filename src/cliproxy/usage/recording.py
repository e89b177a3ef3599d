"""Recordings: one JSON file per client request, for ``cliproxy replay``.

A recording is one more consumer of the ``RequestTrace`` (beside the request log and the
usage queue): the trace keeps the stream chunks with their timing only while a
``Capture`` is set (``cliproxy record`` sets one through ``CLIPROXY_RECORD_DIR``), and the
file is built and written in the log writer thread when the request is over. Everything
passes through ``cliproxy.usage.scrub`` before it is written.

File layout (``docs/record-replay.md``)::

    {"cliproxy-recording": 1, "id", "started", "format",
     "client": {"method", "url", "headers", "body"},
     "upstream": [{"provider", "request": {"method", "url", "headers", "body"},
                   "response": {"status", "headers", "body" | "chunks"}}],
     "response": {"status", "headers", "body" | "chunks"}}

``chunks`` is a list of ``{"gap_ms", "data"}``: the stream cut at line ends, each piece
with the milliseconds since the previous one.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.times import format_utc
from cliproxy.usage.scrub import scrub_body, scrub_headers, scrub_sse, scrub_url

if TYPE_CHECKING:
    from cliproxy.usage.trace import Attempt, RequestTrace

__all__ = ["RECORD_DIR_ENV", "VERSION", "Capture", "Timed", "chunk_list", "timed"]

log = logging.getLogger(__name__)

RECORD_DIR_ENV = "CLIPROXY_RECORD_DIR"
VERSION = 1

Timed = list[tuple[float, bytes]]  # (seconds since the previous chunk, chunk)


async def timed(chunks: AsyncIterator[bytes], into: Timed) -> AsyncIterator[bytes]:
    """``chunks`` unchanged, each one noted in ``into`` with its gap."""
    last = time.perf_counter()
    async for chunk in chunks:
        now = time.perf_counter()
        into.append((now - last, chunk))
        last = now
        yield chunk


def chunk_list(pairs: Timed) -> list[dict[str, Any]]:
    """Timed chunks cut at line ends (so no line, and no UTF-8 character, is split), scrubbed."""
    out: list[dict[str, Any]] = []
    pending = b""
    gap = 0.0
    for delay, data in pairs:
        gap += delay
        pending += data
        cut = pending.rfind(b"\n")
        if cut < 0:
            continue
        head, pending = pending[: cut + 1], pending[cut + 1 :]
        out.append({"gap_ms": round(gap * 1000, 1), "data": scrub_sse(head.decode("utf-8", "replace"))})
        gap = 0.0
    if pending:
        out.append({"gap_ms": round(gap * 1000, 1), "data": scrub_sse(pending.decode("utf-8", "replace"))})
    return out


def _answer(
    status: int | None, headers: Mapping[str, str], body: bytes, chunks: Timed | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "headers": scrub_headers(headers)}
    if chunks:
        out["chunks"] = chunk_list(chunks)
    else:
        out["body"] = scrub_body(body)
    return out


def _upstream(a: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {
        "provider": a.provider,
        "request": {
            "method": a.method,
            "url": scrub_url(a.url),
            "headers": scrub_headers(a.headers),
            "body": scrub_body(a.body),
        },
    }
    if a.status is not None:
        out["response"] = _answer(a.status, a.response_headers, a.response_body, a.chunks)
    if a.error:
        out["error"] = a.error
    return out


def build(t: RequestTrace) -> dict[str, Any]:
    """The recording of a finished trace (writer thread)."""
    return {
        "cliproxy-recording": VERSION,
        "id": t.id,
        "started": format_utc(t.started),
        "format": getattr(t.fmt, "value", str(t.fmt)),
        "client": {
            "method": t.method,
            "url": scrub_url(t.url),
            "headers": scrub_headers(t.headers),
            "body": scrub_body(t.body),
        },
        "upstream": [_upstream(a) for a in t.attempts],
        "response": _answer(t.status, t.response_headers, t.response_body, t.chunks if t.stream else None),
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Capture:
    """Where recordings go; ``write`` runs in the writer thread."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._seq = itertools.count(1)

    @classmethod
    def from_env(cls) -> Capture | None:
        folder = os.environ.get(RECORD_DIR_ENV, "").strip()
        return cls(Path(folder)) if folder else None

    def name(self, t: RequestTrace) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(t.started))
        path = _UNSAFE.sub("-", t.url.partition("?")[0]).strip("-")[:80] or "root"
        return f"{stamp}-{os.getpid()}-{next(self._seq):05d}-{path}-{t.id}.json"

    def write(self, t: RequestTrace) -> None:
        if t.method != "POST":  # a Responses WebSocket turn (GET upgrade): replay speaks HTTP only
            return
        try:
            data = orjson.dumps(build(t), option=orjson.OPT_INDENT_2)
        except Exception:
            log.exception("recording of request %s failed", t.id)
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / self.name(t)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data + b"\n")
        tmp.replace(path)
