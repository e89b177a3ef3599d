"""Recording Antigravity's reasoning replay chain from its answers, and the cache that
holds the chains (CPA ``antigravityReasoningReplayAccumulator`` and
``internal/cache/antigravity_reasoning_replay_cache.go``).

A session's chain is every replay item of its latest request (what the request carried or
got restored: :func:`~cliproxy.translate.antigravity_replay.items_of`) followed by the
items of the answer. :class:`Recorder` reads the answer, whole or streamed (parts come one
chunk at a time: a signature may sit on its own part after the text or call it signs, or
before the call it belongs to), and on the answer's finish reason hands the chain to the
cache, which replaces the session's (an answer cut short records nothing).

:class:`AntigravityReplayCache` is a :class:`~cliproxy.translate.replay.TurnCache` whose
"turns" are one chain's items, replaced whole, as CPA does: 1 h sliding TTL, 10,240
sessions, 4,096 items and 16 MiB a chain (a larger chain is not cached at all: cutting
its front would break the signatures' order), 256 MiB in all. A request remembers the
chain it read (:meth:`~AntigravityReplayCache.read`); its answer replaces the chain only
when no other request changed it meanwhile, or when the new chain extends the current
one on the same branch; a refused chain is cleared the same way, leaving a marker that
keeps a request still under way from writing the refused chain back (CPA's snapshots and
tombstones). A chain's branch (:class:`Chain`) changes whenever a chain does not extend
the one it replaces (a rewritten history, a clear), so a request that read an older
branch cannot extend the new one, even when the values match again (ABA). Reading a
session that holds nothing leaves such a marker too: a request that found nothing cannot
write once that marker has gone (a clear, or the marker evicted) meanwhile.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.translate.antigravity_replay import (
    CallItem,
    History,
    Item,
    SignatureItem,
    call_item,
    canonical,
    fingerprint,
    items_of,
    native_signature,
    with_signature,
)
from cliproxy.translate.replay import REPLAY_MAX_SESSIONS, REPLAY_MAX_TOTAL_BYTES, REPLAY_TTL, TurnCache

__all__ = [
    "MAX_CHAIN_BYTES",
    "MAX_CHAIN_ITEMS",
    "AntigravityReplayCache",
    "Chain",
    "Read",
    "Recorder",
    "decode_items",
    "encode_items",
]

MAX_CHAIN_ITEMS = 4096  # CPA AntigravityReasoningReplayCacheMaxItemsPerEntry
MAX_CHAIN_BYTES = 16 << 20  # CPA AntigravityReasoningReplayCacheMaxBytesPerEntry
_MIN_TEXT_SIGNATURE = 16
_BYPASS = "skip_thought_signature_validator"


class Chain(tuple[Item, ...]):
    """A session's chain as the cache holds it; ``branch`` names the line of answers it
    grew on (0: unknown, e.g. copied from another worker). An empty chain is a marker:
    a cleared session, or one a request found empty."""

    branch: int

    def __new__(cls, items: Iterable[Item] = (), branch: int = 0) -> Chain:
        chain = super().__new__(cls, items)
        chain.branch = branch
        return chain


@dataclass(slots=True)
class Read:
    """The chain one request read (the very object: an empty one when the session held
    nothing; ``None`` for no session), to tell at its end whether another request
    changed it."""

    model: str
    session: str
    chain: tuple[Item, ...] | None


class AntigravityReplayCache(TurnCache[Item]):
    """Replay chains per ``(upstream model, session key)``."""

    namespace = "antigravity-reasoning-replay"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("ttl", REPLAY_TTL)
        kwargs.setdefault("max_sessions", REPLAY_MAX_SESSIONS)
        kwargs.setdefault("max_turns", MAX_CHAIN_ITEMS)
        kwargs.setdefault("max_total_bytes", REPLAY_MAX_TOTAL_BYTES)
        kwargs.setdefault("max_session_bytes", MAX_CHAIN_BYTES)
        super().__init__(**kwargs)
        self._branches = itertools.count(1)

    def read(self, model: str, session: str) -> Read:
        """The session's chain as this request finds it; nothing there leaves a marker."""
        key = self._key(model, session)
        if key is None:
            return Read(model, session, None)
        chain = self._entries.get(key)
        if chain is None:
            chain = Chain((), next(self._branches))
            self._entries.put(key, chain)
        return Read(model, session, chain)

    def replace(self, read: Read, items: list[Item]) -> bool:
        """``items`` (normalized: invalid ones dropped) become the session's chain, unless
        another request changed the chain since ``read`` and ``items`` do not extend it on
        the branch ``read`` saw; a chain over the bounds clears the session instead. True
        when written."""
        key = self._key(read.model, read.session)
        if key is None:
            return False
        chain = normalized(items)
        if not chain or len(chain) > self.max_turns or _size(chain) > self.max_session_bytes:
            self.clear_if_unchanged(read)
            return False
        seen = read.chain
        current = self._entries.get(key)
        unchanged = current is not None and current is seen
        branch = getattr(seen, "branch", 0)
        extends = (
            not unchanged
            and bool(current)
            and branch != 0
            and getattr(current, "branch", 0) == branch
            and chain[: len(current or ())] == current
        )
        if not unchanged and not extends:
            return False
        if branch == 0 or (unchanged and chain[: len(seen or ())] != seen):
            branch = next(self._branches)  # not a continuation of what was read: a new line
        self._entries.put(key, Chain(chain, branch))
        if self.mirror is not None:
            self.mirror.saved(key, chain)
        return True

    def clear_if_unchanged(self, read: Read) -> bool:
        """Forget the session's chain when it is still the one ``read`` (after Antigravity
        refused a signature, or an answer that leaves nothing to replay); a marker stays,
        so a request that read the old chain cannot put it back. True when cleared."""
        key = self._key(read.model, read.session)
        current = self._entries.get(key) if key else None
        if key is None or current is None or current is not read.chain:
            return False
        self._entries.put(key, Chain((), next(self._branches)))
        if self.mirror is not None:
            self.mirror.dropped(key)
        return True

    def adopt(self, family: str, session: str, turns: tuple[Item, ...]) -> None:
        """A chain another worker recorded (``Mirror.fetch``): a branch of its own here."""
        key = self._key(family, session)
        if key and turns and len(turns) <= self.max_turns and not self._entries.get(key):
            self._entries.put(key, Chain(turns, next(self._branches)))


def normalized(items: list[Item]) -> tuple[Item, ...]:
    """The items worth keeping (CPA's normalization): a text signature of at least 16
    characters that is not the validator-skip sentinel; a call with a name."""
    return tuple(
        i
        for i in items
        if (isinstance(i, CallItem) and i.name)
        or (
            isinstance(i, SignatureItem)
            and len(i.signature) >= _MIN_TEXT_SIGNATURE
            and i.signature != _BYPASS
        )
    )


def _size(chain: tuple[Item, ...]) -> int:
    return sum(i.size() for i in chain)


# --------------------------------------------------------------------------- the answer


class Recorder:
    """Reads one answer's parts (:meth:`observe`, a Gemini response object per call) into
    the chain begun by the request's own items; at the finish reason, the chain goes to
    ``cache`` (:meth:`commit`)."""

    __slots__ = (
        "_calls",
        "_content",
        "_context",
        "_done",
        "_last",
        "_next",
        "_pending",
        "_seen_calls",
        "_seen_sigs",
        "_segments",
        "_size",
        "_text",
        "_text_at",
        "_thought",
        "_thought_at",
        "cache",
        "items",
        "overflow",
        "read",
        "terminal",
    )

    def __init__(self, cache: AntigravityReplayCache, read: Read, history: History) -> None:
        self.cache = cache
        self.read = read
        self.items: list[Item] = items_of(history)
        self._seen_sigs = {i.signature for i in self.items if i.signature}
        self._size = sum(i.size() for i in self.items)
        self.overflow = len(self.items) > MAX_CHAIN_ITEMS or self._size > MAX_CHAIN_BYTES
        self._content, self._next = history.pending_turn()
        self._context = history.context(self._content)
        self._segments: dict[tuple[str, str], int] = {}
        self._calls: dict[tuple[str, str], int] = {}
        if self._content < len(history.contents):  # a prefill: its parts count as this turn's
            for part in history.contents[self._content].get("parts") or ():
                call = part.get("functionCall") if type(part) is dict else None
                if type(call) is dict:
                    key = (str(call.get("name") or "").strip(), canonical(call.get("args")))
                    self._calls[key] = self._calls.get(key, 0) + 1
                elif (found := fingerprint(part))[1]:
                    self._segments[found] = self._segments.get(found, 0) + 1
        self._seen_calls: set[tuple[str, str, str, str]] = set()
        self._pending: list[list[str]] = []  # [signature, kind ("" = not bound yet)]
        self._text: list[str] = []
        self._thought: list[str] = []
        self._text_at = self._thought_at = -1
        self._last = ""  # the kind of the last part with content: text, thought, function_call
        self.terminal = False
        self._done = False

    # -- reading

    def observe(self, answer: Any) -> None:
        """One response object (a whole answer or one stream chunk, unwrapped)."""
        if self._done or type(answer) is not dict:
            return
        candidates = answer.get("candidates")
        first = candidates[0] if type(candidates) is list and candidates else None
        if type(first) is not dict:
            return
        content = first.get("content")
        parts = content.get("parts") if type(content) is dict else None
        for part in parts if type(parts) is list else ():
            self._part(part)
        if _text(first.get("finishReason")):
            self.terminal = True
            self.commit()

    def _part(self, part: Any) -> None:
        pi = self._next
        self._next += 1
        if type(part) is not dict:
            return
        sig = native_signature(part)
        call = part.get("functionCall")
        if type(call) is dict:
            self._call(pi, call, sig)
            return
        kind = "thought" if part.get("thought") is True else ""
        text = part.get("text")
        has_text = type(text) is str and text != ""
        sig_only = bool(sig) and not has_text
        if sig_only and self._last == "function_call":  # a signature after its call
            if sig not in self._seen_sigs:
                self._attach(sig)
                self._seen_sigs.add(sig)
            return
        if has_text:
            kind = kind or "text"
            assert isinstance(text, str)
            self._add_text(pi, kind, text, sig)
        accepted = False
        if sig and sig not in self._seen_sigs:
            kind = kind or self._last
            buffered = self._text if kind == "text" else self._thought if kind == "thought" else None
            if sig_only and self._last == kind and buffered is not None and not buffered:
                self._seen_sigs.add(sig)  # a carrier with nothing before it to sign
            elif (
                len(self._pending) + len(self.items) + 1 > MAX_CHAIN_ITEMS
                or self._size + len(sig) > MAX_CHAIN_BYTES
            ):
                self.overflow = True
                self._seen_sigs.add(sig)
            else:
                self._pending.append([sig, kind])
                self._seen_sigs.add(sig)
                accepted = True
        if accepted and ((kind == "text" and self._text) or (kind == "thought" and self._thought)):
            self._flush(kind)

    def _call(self, pi: int, call: dict[str, Any], sig: str) -> None:
        if self._last in ("text", "thought"):
            self._flush(self._last)
        if sig:  # the call's own signature: unbound ones before it were no one's
            self._pending = [p for p in self._pending if p[1]]
        else:  # a signature that came before the call, bound to nothing yet, is its own
            for j in range(len(self._pending) - 1, -1, -1):
                if not self._pending[j][1]:
                    sig = self._pending.pop(j)[0]
                    break
        name = _text(call.get("name"))
        if name:
            args = canonical(call.get("args")) if "args" in call else ""
            seen = (name, args, _text(call.get("id")), sig or f"part:{pi}")
            if seen in self._seen_calls:  # the same call again in the stream
                return
            self._seen_calls.add(seen)
        item = call_item(self._content, pi, self._calls, call, sig, self._context)
        if item is not None:
            self._append(item)
            if sig:
                self._seen_sigs.add(sig)
        self._last = "function_call"

    def _add_text(self, pi: int, kind: str, text: str, sig: str) -> None:
        buffered = self._text if kind == "text" else self._thought
        if sig:
            kept: list[list[str]] = []
            for pending in self._pending:
                unbound = not pending[1] or (pending[1] == kind and not buffered)
                if unbound:  # a signature before this part's text: the text's own wins
                    if pending[0] == sig:
                        self._seen_sigs.discard(sig)
                    continue
                kept.append(pending)
            self._pending = kept
            if any(p[1] == kind and p[0] != sig for p in self._pending):
                self._flush(kind)
        if self._last in ("text", "thought") and self._last != kind:
            self._flush(self._last)
        buffered = self._text if kind == "text" else self._thought
        if not buffered:
            if kind == "text":
                self._text_at = pi
            else:
                self._thought_at = pi
        buffered.append(text)
        self._last = kind

    def _flush(self, kind: str) -> None:
        """The pending signatures of ``kind`` bound to the text gathered so far."""
        buffered = self._text if kind == "text" else self._thought
        at = self._text_at if kind == "text" else self._thought_at
        target = ""
        occurrence = 0
        if buffered:
            target = hashlib.sha256(f"{kind}\x00{''.join(buffered)}".encode()).hexdigest()
            occurrence = self._segments.get((kind, target), 0)
            self._segments[(kind, target)] = occurrence + 1
        kept: list[list[str]] = []
        for sig, pending_kind in self._pending:
            if pending_kind != kind or not target:
                kept.append([sig, pending_kind])
                continue
            self._append(SignatureItem(self._content, at, sig, kind, target, occurrence, self._context))
        self._pending = kept
        buffered.clear()
        if kind == "text":
            self._text_at = -1
        else:
            self._thought_at = -1

    def _attach(self, sig: str) -> None:
        """A signature-only part right after a call signs that call (when unsigned)."""
        for j in range(len(self.items) - 1, -1, -1):
            item = self.items[j]
            if not isinstance(item, CallItem):
                continue
            if item.signature:
                return
            if self._size + len(sig) > MAX_CHAIN_BYTES:
                self.overflow = True
                return
            self.items[j] = with_signature(item, sig)
            self._size += len(sig)
            return

    def _append(self, item: Item) -> None:
        if self.overflow:
            return
        size = item.size()
        if len(self.items) + 1 > MAX_CHAIN_ITEMS or self._size + size > MAX_CHAIN_BYTES:
            self.overflow = True
            return
        self.items.append(item)
        self._size += size

    # -- the end

    def commit(self) -> None:
        """At the answer's finish reason (CPA ``Commit``): the chain replaces the
        session's; an overflowing or empty chain clears it. Once per answer; an answer
        that never finished commits nothing."""
        if self._done or not self.terminal:
            return
        self._done = True
        if not self.overflow:
            self._bind_pending()
        if self.overflow or not self.items:
            self.cache.clear_if_unchanged(self.read)
            return
        self.cache.replace(self.read, self.items)

    def _bind_pending(self) -> None:
        for pending in self._pending:
            if pending[1]:
                continue
            if self._last == "text" and self._text:
                pending[1] = "text"
            elif self._last == "thought" and self._thought:
                pending[1] = "thought"
            elif self._text:
                pending[1] = "text"
            elif self._thought:
                pending[1] = "thought"
        self._flush("thought")
        self._flush("text")
        self._pending = []


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


# --------------------------------------------------------------------------- in Redis


def encode_items(chain: tuple[Item, ...]) -> bytes:
    """A chain as Redis keeps it (``translate.replay_shared``)."""
    out: list[list[Any]] = []
    for i in chain:
        if isinstance(i, CallItem):
            out.append(
                ["c", i.content, i.part, i.occurrence, i.name, i.call_id, i.args, i.signature, i.context]
            )
        else:
            out.append(["s", i.content, i.part, i.signature, i.kind, i.target, i.occurrence, i.context])
    return orjson.dumps(out)


def decode_items(raw: bytes) -> tuple[Item, ...]:
    """The chain in ``raw``; an unreadable value is no chain (never an error)."""
    try:
        out: list[Item] = []
        for row in orjson.loads(raw):
            if row[0] == "c":
                _, ci, pi, occ, name, cid, args, sig, ctx = row
                orjson.loads(args)  # (arguments that do not parse make the value unreadable)
                out.append(
                    CallItem(
                        int(ci), int(pi), _occurrence(occ), str(name), str(cid), str(args), str(sig), str(ctx)
                    )
                )
            else:
                _, ci, pi, sig, kind, target, occ, ctx = row
                out.append(
                    SignatureItem(
                        int(ci), int(pi), str(sig), str(kind), str(target), _occurrence(occ), str(ctx)
                    )
                )
        return normalized(out)
    except (orjson.JSONDecodeError, IndexError, TypeError, ValueError):
        return ()


def _occurrence(value: Any) -> int | None:
    return None if value is None else int(value)
