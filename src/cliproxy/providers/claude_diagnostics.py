"""Claude Code's ``diagnostics`` member on a cloaked request to api.anthropic.com (CPA's
``claude_executor_diagnostics.go``): ``{"previous_message_id": ...}``, the id of the last
answer that completed in the same conversation on the same credential, ``null`` on its
first turn. The member goes right after ``context_management`` (the native field order),
and the ``cache-diagnosis-2026-04-07`` beta follows it (:func:`claude_identity.cli_betas`).

The last id is kept per credential and conversation (a SHA-256 of both, an hour after its
last use, at most 4,096 kept) in a :class:`Diagnostics` table, one per Claude provider, as
CPA keeps it in its process. An answer moves it on only once it completed (a whole answer
read; a stream's ``message_stop``), and an older request that finishes after a newer one
has started never overwrites what the newer one committed.

With a shared state backend (``workers: N``, several hosts: :class:`SharedDiagnostics`)
every commit is also told to the other processes over the backend's notification
channel, and each adopts it into its own table: the next turn of a conversation names
the last answer whichever worker serves it. Reads stay local (no round trip on the
request path); a commit costs one publish the request does not wait for. Sequences are
wall-clock nanoseconds (strictly increasing within a process), so "older" means the same
in every process that shares a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.providers.base import UpstreamRequest

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = [
    "Diagnostics",
    "SharedDiagnostics",
    "StreamWatch",
    "Ticket",
    "message_id_of_body",
    "message_id_of_stream",
    "watch",
]

log = logging.getLogger(__name__)

TTL = 3600.0
_CLEANUP = 900.0
MAX_ENTRIES = 4096
_EVICT = 256
EVENT = "claude-diagnostics"  # the notification another process's commit comes as


@dataclass(slots=True)
class _Entry:
    previous: str = ""
    minimum: int = 0  # requests begun before this generation may not commit into it
    committed: int = 0
    access: int = 0
    expires: float = 0.0


@dataclass(slots=True)
class Ticket:
    """One request's place in its conversation: what its answer commits to, and where."""

    key: str
    sequence: int
    table: Diagnostics


class Diagnostics:
    """The last completed id per conversation (CPA's ``helps.claude_diagnostics``): read
    and written on the event loop only, so no lock. ``clock`` (monotonic seconds) ages
    the entries; sequences come from the wall clock."""

    __slots__ = ("_clock", "access", "cleaned", "entries", "published", "sequence")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.entries: dict[str, _Entry] = {}
        self.sequence = self.access = 0
        self.cleaned = clock()
        # told of every commit of this process (SharedDiagnostics sets it)
        self.published: Callable[[str, int, str], None] | None = None

    def begin(self, credential: str, session: str) -> tuple[Ticket | None, str]:
        """Start one request of ``session`` on ``credential``: its ticket and the last
        completed message id (``""`` on the first turn); no ticket without both names."""
        credential, session = credential.strip(), session.strip()
        if not credential or not session:
            return None, ""
        key = hashlib.sha256(f"{credential}\x00{session}".encode()).hexdigest()
        now = self._clock()
        entry = self._entry(key, now)
        self.sequence = sequence = max(self.sequence + 1, time.time_ns())
        if entry is None:
            entry = self.entries[key] = _Entry(minimum=sequence)
        self._touch(entry, now)
        return Ticket(key, sequence, self), entry.previous

    def commit(self, ticket: Ticket, message_id: str) -> None:
        """The answer of ``ticket``'s request completed as ``message_id``: the next request of
        the conversation names it, unless a newer request committed first."""
        message_id = message_id.strip()
        entry = self.entries.get(ticket.key)
        if not message_id or entry is None or ticket.sequence < max(entry.minimum, entry.committed):
            return
        entry.previous, entry.committed = message_id, ticket.sequence
        self._touch(entry, self._clock())
        if self.published is not None:
            self.published(ticket.key, ticket.sequence, message_id)

    def adopt(self, key: str, sequence: int, message_id: str) -> None:
        """Another process committed ``message_id`` at ``sequence`` for conversation ``key``:
        kept unless a newer answer is here already. (Its request may have begun before this
        process first saw the conversation: a generation's floor only keeps a late answer
        of an expired or evicted one out of this process's own.)"""
        now = self._clock()
        entry = self._entry(key, now)
        if entry is None:
            entry = self.entries[key] = _Entry()
        elif sequence < entry.committed:
            return
        entry.previous, entry.committed = message_id, sequence
        self._touch(entry, now)

    def inject(self, body: dict[str, Any], credential: str, session: str) -> Ticket | None:
        """``diagnostics`` set on ``body`` in place (the caller's own replaced where it
        stands, else right after ``context_management``, else last); the ticket to commit
        the answer to, None (and nothing set) without a conversation."""
        ticket, previous = self.begin(credential, session)
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

    def _entry(self, key: str, now: float) -> _Entry | None:
        """The live entry of ``key`` (None: none, or it expired), after the periodic
        sweep and, before a new one is made at capacity, the least recently used go."""
        entries = self.entries
        if now - self.cleaned >= _CLEANUP:
            for k in [k for k, e in entries.items() if e.expires <= now]:
                del entries[k]
            self.cleaned = now
        entry = entries.get(key)
        if entry is None and len(entries) >= MAX_ENTRIES:
            for k, _ in sorted(entries.items(), key=lambda item: item[1].access)[:_EVICT]:
                del entries[k]
        return entry if entry is not None and entry.expires > now else None

    def _touch(self, entry: _Entry, now: float) -> None:
        self.access += 1
        entry.access, entry.expires = self.access, now + TTL


class SharedDiagnostics:
    """``table``'s commits told to every process sharing ``bus`` (a Redis state backend),
    and theirs adopted into ``table``. While Redis is away nothing is told: each process
    keeps its own, as with the memory backend."""

    def __init__(self, table: Diagnostics, bus: RedisState) -> None:
        self.table, self.bus = table, bus
        self._pending: set[asyncio.Task[Any]] = set()
        table.published = self._tell
        bus.on_event(EVENT, self._heard)

    def _tell(self, key: str, sequence: int, message_id: str) -> None:
        if not self.bus.available:
            return
        try:
            task = asyncio.get_running_loop().create_task(
                self.bus.publish(EVENT, d=key, s=sequence, m=message_id)
            )
        except RuntimeError:  # no loop (a table used outside a server): nothing to tell
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _heard(self, message: dict[str, Any]) -> None:
        key, sequence, found = message.get("d"), message.get("s"), message.get("m")
        message_id = found.strip() if isinstance(found, str) else ""
        if isinstance(key, str) and len(key) == 64 and type(sequence) is int and message_id:
            self.table.adopt(key, sequence, message_id)

    async def close(self) -> None:
        """Let the notices still under way go out (bounded), at shutdown."""
        self.table.published = None
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._pending), timeout=2.0)


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
                self._ticket.table.commit(self._ticket, self._id)
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
        ticket.table.commit(ticket, message_id_of_body(data))
        return data

    req.rewrite_chunk, req.rewrite_body = on_chunk, on_body
