"""Replay caches: reasoning a client cannot carry, restored on its next turn.

Anthropic refuses turn 2 of a tool loop with thinking on unless the assistant turn that
made the tool calls starts with its signed thinking block. A Chat Completions client has
no place for that signature, so the proxy keeps it, as CPA does:

* :class:`ThinkingReplayCache` (CPA ``internal/cache/claude_thinking_replay_cache.go``):
  the signed thinking of each assistant turn that ended in tool calls, per
  ``(model family, session)``; restored in front of the matching tool calls of the next
  request (:func:`restore_thinking`). 1 h sliding TTL, 10,240 sessions, 64 turns each.
* :class:`SignatureCache` (CPA ``internal/cache/signature_cache.go``): signatures by model
  group and thinking-text hash, for clients that echo the thinking text
  (``reasoning_content``) but not its signature. 3 h sliding TTL, bounded too.

Both turn caches (this one, Codex's in :mod:`cliproxy.translate.codex_replay`) are a
:class:`TurnCache`: a session's turns, bounded in sessions, turns, bytes and time, copied
to Redis through one :class:`Mirror` each.

Keys follow CPA (:mod:`cliproxy.translate.replay_keys`): the Claude credential's id hash
and base model, and the client's session, namespaced by a hash of the caller's API key so
two callers never share hidden reasoning. Both caches live in the
process; with the Redis state backend the thinking replay cache is mirrored there
(:mod:`cliproxy.translate.replay_shared`), so a session's next turn may land on any worker.
The signature cache stays per process (a client that echoes the thinking text without its
signature, on another worker, goes without; CPA has one process).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from cliproxy.translate import ir
from cliproxy.translate.replay_keys import replay_model_family, replay_session_key

__all__ = [
    "Mirror",
    "ReplayScope",
    "SignatureCache",
    "ThinkingReplayCache",
    "Turn",
    "TurnCache",
    "TurnRecorder",
    "has_valid_signature",
    "model_group",
    "restore_thinking",
    "scope_for",
]

_V = TypeVar("_V")

SIGNATURE_TTL = 3 * 3600.0
MIN_SIGNATURE_LEN = 50
REPLAY_TTL = 3600.0
REPLAY_MAX_SESSIONS = 10240
REPLAY_MAX_TURNS = 64
REPLAY_MAX_BYTES_PER_TURN = 8 << 20
REPLAY_MAX_BYTES_PER_SESSION = 8 << 20
REPLAY_MAX_TOTAL_BYTES = 256 << 20
SIGNATURE_MAX_ENTRIES = 65536


class _Bounded(Generic[_V]):
    """A dict with a sliding TTL, an entry bound and an optional weight bound (``weigh``
    gives an entry's weight); the least recently used entries go first."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
        weigh: Callable[[_V], int] | None = None,
        max_weight: int = 0,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.weigh = weigh
        self.max_weight = max_weight
        self.weight = 0
        self._data: OrderedDict[str, tuple[float, _V]] = OrderedDict()

    def get(self, key: str) -> _V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        now = self.clock()
        if now - hit[0] > self.ttl:
            self.delete(key)
            return None
        self._data[key] = (now, hit[1])
        self._data.move_to_end(key)
        return hit[1]

    def put(self, key: str, value: _V) -> None:
        self.delete(key)
        now = self.clock()
        self._data[key] = (now, value)
        if self.weigh is not None:
            self.weight += self.weigh(value)
        while self._data and (
            len(self._data) > self.max_entries
            or (self.max_weight and self.weight > self.max_weight)
            or now - next(iter(self._data.values()))[0] > self.ttl  # expired, least recently used
        ):
            self.delete(next(iter(self._data)))

    def delete(self, key: str) -> None:
        hit = self._data.pop(key, None)
        if hit is not None and self.weigh is not None:
            self.weight -= self.weigh(hit[1])

    def clear(self) -> None:
        self._data.clear()
        self.weight = 0

    def drop_prefix(self, prefix: str) -> None:
        for key in [k for k in self._data if k.startswith(prefix)]:
            self.delete(key)

    def __len__(self) -> int:
        return len(self._data)


# --------------------------------------------------------------------------- signature cache


def model_group(model: str) -> str:
    """CPA's model group: ``gpt``, ``claude``, ``gemini`` by name, else the name itself."""
    for group in ("gpt", "claude", "gemini"):
        if group in model:
            return group
    return model


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SignatureCache:
    """Thinking signatures by ``(model group, hash of the thinking text)``."""

    def __init__(
        self,
        ttl: float = SIGNATURE_TTL,
        max_entries: int = SIGNATURE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: _Bounded[str] = _Bounded(ttl, max_entries, clock)

    def put(self, model: str, text: str, signature: str) -> bool:
        """Store; refused (False) for an empty text or a signature shorter than 50 chars."""
        if not text or not signature or len(signature) < MIN_SIGNATURE_LEN:
            return False
        self._entries.put(f"{model_group(model)}\x00{_text_hash(text)}", signature)
        return True

    def get(self, model: str, text: str) -> str:
        """The signature, or ``""``; Gemini's group answers the bypass sentinel instead."""
        group = model_group(model)
        found = self._entries.get(f"{group}\x00{_text_hash(text)}") if text else None
        if found:
            return found
        return "skip_thought_signature_validator" if group == "gemini" else ""

    def delete(self, model: str, text: str) -> None:
        self._entries.delete(f"{model_group(model)}\x00{_text_hash(text)}")

    def clear(self, model: str = "") -> None:
        """Forget everything, or only ``model``'s group (CPA ``ClearSignatureCache``)."""
        if not model:
            self._entries.clear()
            return
        self._entries.drop_prefix(model_group(model) + "\x00")

    def __len__(self) -> int:
        return len(self._entries)


def has_valid_signature(model: str, signature: str) -> bool:
    """CPA ``HasValidSignature``: long enough, or Gemini's sentinel for a Gemini model."""
    if signature and len(signature) >= MIN_SIGNATURE_LEN:
        return True
    return signature == "skip_thought_signature_validator" and model_group(model) == "gemini"


# --------------------------------------------------------------------------- thinking replay


@dataclass(frozen=True, slots=True)
class Turn:
    """One assistant turn's signed reasoning and the tool calls it led to."""

    thinking: tuple[ir.Thinking, ...]
    calls: tuple[tuple[str, str], ...]  # (id, name) in order

    def size(self) -> int:
        return sum(len(t.text) + len(t.signature or "") for t in self.thinking)


class Weighed(Protocol):
    """A cached turn: its weight in bytes bounds what a session and the cache may hold."""

    def size(self) -> int: ...


_T = TypeVar("_T", bound=Weighed)


class TurnCache(Generic[_T]):
    """Turns per ``(family, session key)``, the newest last; empty keys disable it.

    Bounded as CPA bounds its replay caches: a sliding TTL per session, a number of
    sessions and of turns a session, bytes a session (the oldest turns go first) and bytes
    in all (the least recently used sessions go first). A subclass names its ``namespace``
    (the keys of two caches never meet, in the process or in Redis) and may refuse a turn
    (:meth:`accepts`). With several workers every change is copied to a :class:`Mirror`.
    """

    namespace: ClassVar[str] = "turns"

    def __init__(
        self,
        ttl: float = REPLAY_TTL,
        max_sessions: int = REPLAY_MAX_SESSIONS,
        max_turns: int = REPLAY_MAX_TURNS,
        clock: Callable[[], float] = time.monotonic,
        max_total_bytes: int = REPLAY_MAX_TOTAL_BYTES,
        max_session_bytes: int = REPLAY_MAX_BYTES_PER_SESSION,
    ) -> None:
        self.max_turns = max_turns
        self.max_session_bytes = max_session_bytes
        self._entries: _Bounded[tuple[_T, ...]] = _Bounded(
            ttl, max_sessions, clock, weigh=_turns_size, max_weight=max_total_bytes
        )
        # several workers on one Redis: every change is copied there, and a session another
        # worker recorded is fetched before its next turn (``translate.replay_shared``)
        self.mirror: Mirror | None = None

    @classmethod
    def _key(cls, family: str, session: str) -> str | None:
        family, session = family.strip(), session.strip()
        return f"{cls.namespace}\x00{family}\x00{session}" if family and session else None

    def accepts(self, turn: _T) -> bool:
        """Whether ``turn`` is worth keeping (every turn, unless a subclass says otherwise)."""
        return True

    def get(self, family: str, session: str) -> tuple[_T, ...]:
        key = self._key(family, session)
        return (self._entries.get(key) or ()) if key else ()

    def append(self, family: str, session: str, turn: _T) -> bool:
        """Add ``turn`` as the session's newest (an equal one moves there)."""
        key = self._key(family, session)
        if key is None or not self.accepts(turn):
            return False
        turns = [t for t in self._entries.get(key) or () if t != turn]
        turns.append(turn)
        del turns[: max(0, len(turns) - self.max_turns)]
        while len(turns) > 1 and _turns_size(tuple(turns)) > self.max_session_bytes:
            del turns[0]
        self._entries.put(key, tuple(turns))
        if self.mirror is not None:
            self.mirror.saved(key, tuple(turns))
        return True

    def adopt(self, family: str, session: str, turns: tuple[_T, ...]) -> None:
        """Turns another worker recorded for this session (``Mirror.fetch``)."""
        key = self._key(family, session)
        if key and turns and not self._entries.get(key):
            self._entries.put(key, turns[-self.max_turns :])

    def fetch_elsewhere(self, family: Any, session: Any) -> Awaitable[Mapping[str, str]] | None:
        """With several workers (a :attr:`mirror`): the fetch of a session another worker
        recorded and this one does not hold, for a provider's ``prepare`` to await before
        ``build`` looks the session up (it answers no headers); ``None``: nothing to fetch."""
        mirror = self.mirror
        if mirror is None or type(family) is not str or type(session) is not str or self.get(family, session):
            return None
        return _fetched(mirror, family, session)

    def delete(self, family: str, session: str) -> None:
        key = self._key(family, session)
        if key:
            self._entries.delete(key)
            if self.mirror is not None:
                self.mirror.dropped(key)

    def evict(self, key: str) -> None:
        """Another worker changed or forgot the session of ``key`` (a cache key): the copy
        here is stale and goes, nothing copied (``translate.replay_shared``)."""
        self._entries.delete(key)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def _fetched(mirror: Mirror, family: str, session: str) -> Mapping[str, str]:
    await mirror.fetch(family, session)
    return {}


class ThinkingReplayCache(TurnCache[Turn]):
    """Claude's signed thinking before tool calls, per ``(model family, session key)``."""

    namespace = "claude-thinking-replay"

    def accepts(self, turn: Turn) -> bool:
        """A replayable turn: signed thinking and at least one tool call."""
        return replayable(turn)


class Mirror(Protocol):
    """Where a :class:`TurnCache` copies its changes, and whence it fetches a session
    another worker recorded (``translate.replay_shared``)."""

    def saved(self, key: str, turns: tuple[Any, ...]) -> None: ...

    def dropped(self, key: str) -> None: ...

    async def fetch(self, family: str, session: str) -> None: ...


def _turns_size(turns: tuple[Weighed, ...]) -> int:
    return sum(t.size() for t in turns)


def replayable(turn: Turn) -> bool:
    signed = any(t.signature and t.signature.strip() and t.family == "claude" for t in turn.thinking)
    return signed and any(cid.strip() for cid, _ in turn.calls) and turn.size() <= REPLAY_MAX_BYTES_PER_TURN


def restore_thinking(messages: list[ir.Message], turns: tuple[Turn, ...]) -> list[ir.Message] | None:
    """``messages`` with each cached turn's thinking put back in front of its tool calls.

    A turn matches the latest assistant message without thinking whose tool calls have
    the same ids and names, in order. (CPA compares every non-thinking block; a Chat
    client re-renders the text around the calls, so we match on the calls alone.)
    Returns a new list (messages replaced, never edited) or None when nothing matched.
    """
    out: list[ir.Message] | None = None
    for turn in turns:
        current = out if out is not None else messages
        for i in range(len(current) - 1, -1, -1):
            msg = current[i]
            if msg.role != "assistant" or any(isinstance(b, ir.Thinking) for b in msg.content):
                continue
            calls = tuple((b.id, b.name) for b in msg.content if isinstance(b, ir.ToolCall))
            if calls != turn.calls:
                continue
            out = list(current)
            out[i] = ir.Message(msg.role, [*turn.thinking, *msg.content], msg.name, msg.extras)
            break
    return out


def restore_signatures(
    messages: list[ir.Message], cache: SignatureCache, model: str
) -> list[ir.Message] | None:
    """Thinking the client echoed without Claude's signature (Chat's ``reasoning_content``,
    a Gemini client's thought parts) gets the signature cached for its text.

    A run of such blocks side by side is looked up as one text first: a Gemini client that
    streamed the answer sends its thought back as the parts it got, one per chunk, and a
    last empty one that carried the signature; the run becomes one signed block. Else each
    block is looked up alone."""
    out: list[ir.Message] | None = None
    for i, msg in enumerate(messages):
        if msg.role != "assistant":
            continue
        blocks = msg.content
        rebuilt: list[ir.Block] = []
        hit = False
        j, n = 0, len(blocks)
        while j < n:
            if not _unsigned_thinking(blocks[j]):
                rebuilt.append(blocks[j])
                j += 1
                continue
            end = j + 1
            while end < n and _unsigned_thinking(blocks[end]):
                end += 1
            run = cast("list[ir.Thinking]", blocks[j:end])
            text = "".join(b.text for b in run)
            sig = cache.get(model, text) if end - j > 1 and text else ""
            if sig:
                rebuilt.append(ir.Thinking(text, sig, "claude"))
                hit = True
            else:
                for b in run:
                    sig = cache.get(model, b.text) if b.text else ""
                    rebuilt.append(ir.Thinking(b.text, sig, "claude") if sig else b)
                    hit = hit or bool(sig)
            j = end
        if hit:
            out = out if out is not None else list(messages)
            out[i] = ir.Message(msg.role, rebuilt, msg.name, msg.extras)
    return out


def _unsigned_thinking(block: ir.Block) -> bool:
    return isinstance(block, ir.Thinking) and block.family != "claude" and not block.redacted


class TurnRecorder:
    """Watches one upstream answer (IR events, or a whole Claude message) and hands the
    finished turn to ``done`` when it ended in tool calls after signed thinking. Text
    deltas mean nothing to it (a stream's text lane passes it by:
    ``StreamTranslator.observe_text``)."""

    __slots__ = ("_calls", "_done", "_order", "_size", "_thinking")

    def __init__(self, done: Callable[[Turn], None]) -> None:
        self._done = done
        self._thinking: dict[int, list[Any]] = {}  # index -> [texts, signature, redacted]
        self._calls: dict[int, list[str]] = {}  # index -> [id, name]
        self._order: list[int] = []
        self._size = 0

    def observe(self, ev: ir.Event) -> None:
        if isinstance(ev, ir.BlockStart):
            self._start(ev)
        elif isinstance(ev, ir.ThinkingDelta):
            self._add_text(ev.index, ev.text)
        elif isinstance(ev, ir.SignatureDelta):
            slot = self._thinking.get(ev.index)
            if slot is not None and ev.family == "claude":
                slot[1] = (slot[1] or "") + ev.signature
        elif isinstance(ev, ir.StreamEnd):
            self._finish()
        elif isinstance(ev, ir.Error):
            self._order.clear()

    def _start(self, ev: ir.BlockStart) -> None:
        if ev.kind in ("thinking", "redacted_thinking") and ev.index not in self._thinking:
            redacted = ev.kind == "redacted_thinking"
            self._thinking[ev.index] = [[], ev.signature if redacted else None, redacted]
            self._order.append(ev.index)
        elif ev.kind == "tool_call":
            slot = self._calls.get(ev.index)
            if slot is None:
                self._calls[ev.index] = [ev.id or "", ev.name or ""]
                self._order.append(ev.index)
            else:
                slot[0], slot[1] = slot[0] or ev.id or "", slot[1] or ev.name or ""

    def _add_text(self, index: int, text: str) -> None:
        slot = self._thinking.get(index)
        if slot is not None and self._size < REPLAY_MAX_BYTES_PER_TURN:
            slot[0].append(text)
            self._size += len(text)

    def _finish(self) -> None:
        thinking = tuple(
            ir.Thinking("".join(s[0]), s[1], "claude", redacted=s[2])
            for i in self._order
            if (s := self._thinking.get(i)) is not None
        )
        calls = tuple((c[0], c[1]) for i in self._order if (c := self._calls.get(i)) is not None)
        self._order.clear()
        turn = Turn(thinking, calls)
        if replayable(turn):
            self._done(turn)

    def record_message(self, content: Any) -> None:
        """A whole Claude message's ``content`` array."""
        if not isinstance(content, list):
            return
        for i, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "thinking":
                self._thinking[i] = [[str(block.get("thinking") or "")], block.get("signature"), False]
            elif kind == "redacted_thinking":
                self._thinking[i] = [[], block.get("data"), True]
            elif kind == "tool_use":
                self._calls[i] = [str(block.get("id") or ""), str(block.get("name") or "")]
            else:
                continue
            self._order.append(i)
        if self._order:  # a message with no reasoning and no calls has no turn to keep
            self._finish()


@dataclass(slots=True)
class ReplayScope:
    """One request's place in the caches: where to restore from and record into."""

    cache: ThinkingReplayCache
    signatures: SignatureCache
    family: str
    session: str
    model: str
    applied: bool = False

    def restore(self, req: ir.Request) -> ir.Request:
        """``req`` with cached reasoning restored (a shallow copy when anything changed)."""
        messages = req.messages
        for m in messages:  # only assistant turns can hold thinking to sign
            if m.role == "assistant":
                messages = restore_signatures(messages, self.signatures, self.model) or messages
                break
        turns = self.cache.get(self.family, self.session) if self.session else ()
        restored = restore_thinking(messages, turns) if turns else None
        if restored is None and messages is req.messages:
            return req
        self.applied = restored is not None
        return replace(req, messages=restored if restored is not None else messages)  # shallow

    def record(self) -> TurnRecorder:
        # (the scope keeps no reference to it: the two would make a cycle per request)
        return TurnRecorder(self._store)

    def _store(self, turn: Turn) -> None:
        self.cache.append(self.family, self.session, turn)
        for t in turn.thinking:
            if t.signature and not t.redacted:
                self.signatures.put(self.model, t.text, t.signature)

    def forget(self) -> None:
        """After the upstream refused a request we restored into (CPA clears on 400/422)."""
        if self.applied:
            self.cache.delete(self.family, self.session)


def scope_for(
    cache: ThinkingReplayCache,
    signatures: SignatureCache,
    *,
    credential_id: str,
    model: str,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    chat_client: bool,
) -> ReplayScope:
    """The replay scope of one attempt at a Claude upstream for a non-Claude client."""
    return ReplayScope(
        cache,
        signatures,
        replay_model_family(credential_id, model),
        replay_session_key(headers, body, chat_client=chat_client),
        model,
    )
