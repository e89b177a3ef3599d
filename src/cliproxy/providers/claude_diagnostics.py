"""Claude Code's ``diagnostics`` member on a cloaked request to api.anthropic.com (CPA's
``claude_executor_diagnostics.go``): ``{"previous_message_id": ...}``, the id of the last
answer that completed in the same conversation on the same credential, ``null`` on its
first turn. The member goes right after ``context_management`` (the native field order),
and the ``cache-diagnosis-2026-04-07`` beta follows it (:func:`claude_identity.cli_betas`).

The last id is kept per credential and conversation (a SHA-256 of both, an hour after its
last use, at most 4,096 kept) in this process, as CPA keeps it in its own. An answer moves
it on only once it completed (a whole answer read; a stream's ``message_stop``), and an
older request that finishes after a newer one has started never overwrites what the newer
one committed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.providers.base import UpstreamRequest

__all__ = [
    "StreamWatch",
    "Ticket",
    "begin",
    "commit",
    "inject",
    "message_id_of_body",
    "message_id_of_stream",
    "watch",
]

_TTL = 3600.0
_CLEANUP = 900.0
_MAX = 4096
_EVICT = 256


@dataclass(slots=True)
class _Entry:
    previous: str = ""
    minimum: int = 0  # requests begun before this generation may not commit into it
    committed: int = 0
    access: int = 0
    expires: float = 0.0


@dataclass(slots=True)
class Ticket:
    """One request's place in its conversation: what its answer commits to."""

    key: str
    sequence: int


class _Table:
    """The last completed id per conversation (CPA's ``helps.claude_diagnostics``): read
    and written on the event loop only, so no lock."""

    __slots__ = ("access", "cleaned", "entries", "sequence")

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.sequence = self.access = 0
        self.cleaned = 0.0

    def begin(self, key: str, now: float) -> tuple[int, _Entry]:
        entries = self.entries
        if now - self.cleaned >= _CLEANUP:
            for k in [k for k, e in entries.items() if e.expires <= now]:
                del entries[k]
            self.cleaned = now
        entry = entries.get(key)
        if entry is None and len(entries) >= _MAX:  # the least recently used go first
            for k, _ in sorted(entries.items(), key=lambda item: item[1].access)[:_EVICT]:
                del entries[k]
        self.sequence += 1
        if entry is None or entry.expires <= now:
            entry = entries[key] = _Entry(minimum=self.sequence)
        self.access += 1
        entry.access, entry.expires = self.access, now + _TTL
        return self.sequence, entry


_TABLE = _Table()


def begin(credential: str, session: str) -> tuple[Ticket | None, str]:
    """Start one request of ``session`` on ``credential``: its ticket and the last
    completed message id (``""`` on the first turn); no ticket without both names."""
    credential, session = credential.strip(), session.strip()
    if not credential or not session:
        return None, ""
    key = hashlib.sha256(f"{credential}\x00{session}".encode()).hexdigest()
    sequence, entry = _TABLE.begin(key, time.monotonic())
    return Ticket(key, sequence), entry.previous


def commit(ticket: Ticket, message_id: str) -> None:
    """The answer of ``ticket``'s request completed as ``message_id``: the next request of
    the conversation names it, unless a newer request committed first."""
    message_id = message_id.strip()
    entry = _TABLE.entries.get(ticket.key)
    if not message_id or entry is None or ticket.sequence < max(entry.minimum, entry.committed):
        return
    _TABLE.access += 1
    entry.previous, entry.committed = message_id, ticket.sequence
    entry.access, entry.expires = _TABLE.access, time.monotonic() + _TTL


def inject(body: dict[str, Any], credential: str, session: str) -> Ticket | None:
    """``diagnostics`` set on ``body`` in place (the caller's own replaced where it stands,
    else right after ``context_management``, else last); the ticket to commit the answer
    to, None (and nothing set) without a conversation."""
    ticket, previous = begin(credential, session)
    if ticket is None:
        return None
    value = {"previous_message_id": previous or None}
    if "diagnostics" in body or "context_management" not in body:
        body["diagnostics"] = value
        return ticket
    items = list(body.items())
    body.clear()
    for name, member in items:
        body[name] = member
        if name == "context_management":
            body["diagnostics"] = value
    return ticket


def message_id_of_body(data: bytes) -> str:
    """The id of a whole Messages answer, ``""`` when it has none."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    found = answer.get("id") if isinstance(answer, dict) else None
    return found.strip() if isinstance(found, str) else ""


_START = b'"message_start"'
_STOP = b'"message_stop"'


class StreamWatch:
    """Reads a stream's runs of complete SSE lines as they pass (changing nothing): the id
    of its ``message_start``, committed to ``ticket`` once ``message_stop`` arrives."""

    __slots__ = ("_id", "_ticket")

    def __init__(self, ticket: Ticket) -> None:
        self._ticket, self._id = ticket, ""

    def feed(self, data: bytes) -> bytes:
        if data.find(_START) >= 0 or data.find(_STOP) >= 0:
            self._id, done = _observe(data, self._id)
            if done and self._id:
                commit(self._ticket, self._id)
                self._id = ""
        return data


def message_id_of_stream(data: bytes) -> str:
    """The message id of a whole SSE stream, ``""`` unless it reached ``message_stop``."""
    found, done = _observe(data, "")
    return found if done else ""


def _observe(data: bytes, found: str) -> tuple[str, bool]:
    done = False
    for line in data.split(b"\n"):
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            continue
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message_start":
            message = event.get("message")
            sid = message.get("id") if isinstance(message, dict) else None
            if isinstance(sid, str) and sid.strip():
                found = sid.strip()
        elif kind == "message_stop":
            done = True
    return found, done


def watch(req: UpstreamRequest, ticket: Ticket) -> None:
    """Commit the answer to ``req`` to ``ticket`` once it completes, after the request's
    other answer hooks (which it leaves as they are)."""
    chunk_hook, body_hook = req.rewrite_chunk, req.rewrite_body
    stream = StreamWatch(ticket)

    def on_chunk(data: bytes) -> bytes:
        return stream.feed(chunk_hook(data) if chunk_hook is not None else data)

    def on_body(data: bytes) -> bytes:
        data = body_hook(data) if body_hook is not None else data
        commit(ticket, message_id_of_body(data))
        return data

    req.rewrite_chunk, req.rewrite_body = on_chunk, on_body
