"""Kimi thinking replay on the Claude path (CPA internal/cache/kimi_thinking_replay_cache.go,
runtime/executor/kimi_thinking_replay.go).

Kimi's Anthropic-compatible endpoint wants the signed thinking of an assistant turn that
made tool calls back on the next request, and refuses it from another model variant.
When Claude Code switches between K3 variants (``k3`` and ``k3-256k`` share one family)
or drops the thinking, the proxy puts it back: the last assistant content that had
signed thinking and a tool call is kept per ``(model family, caller session)``; on the
next request the latest assistant message without thinking whose other blocks are
the same gets the whole cached content. 1 h sliding TTL, bounded, in the process.

When Kimi refuses a request that carried restored content (a 400 or 422, or an ``error``
event in its stream), the entry is dropped, unless a newer one replaced it meanwhile:
the content may be what it refused, and putting it back would fail every retry until
the TTL ran out (CPA ``shouldClearKimiThinkingReplayAfterError``).

With several workers (the Redis state backend) every change of an entry is told to the
others (:mod:`cliproxy.translate.kimi_replay_record`), so the next turn may land on any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cliproxy.translate.replay import REPLAY_MAX_SESSIONS, REPLAY_TTL, _Bounded
from cliproxy.translate.replay_keys import caller_scoped, claude_code_scope, replay_session_key

__all__ = [
    "CompatReplayCache",
    "KimiReplayCache",
    "Scope",
    "StreamRecorder",
    "model_family",
    "refused",
    "replayable",
    "restore",
    "session_key",
]

MAX_BYTES = 8 << 20  # one cached content, as CPA bounds an entry
MAX_TOTAL_BYTES = 256 << 20  # all cached contents of a process (CPA)
MAX_BLOCKS = 256
# upstream statuses that refuse the request itself: restored content may be the cause (CPA)
REFUSED = frozenset({400, 422})


def refused(status: int) -> bool:
    """Whether an upstream error status says Kimi refused the request's content (a restored
    replay then goes); a server error, a rate limit or an auth failure says nothing about
    it, and neither does a transport error or the proxy's own validation (no status here)."""
    return status in REFUSED


def model_family(upstream: str) -> str:
    """The replay family of a Kimi upstream model id (thinking suffix ignored): the K3
    variants share ``k3``; every other model is its own family."""
    base = upstream.strip()
    if base.endswith(")") and (cut := base.rfind("(")) > 0:
        base = base[:cut]
    return "k3" if base in ("k3", "k3-256k") else base


def session_key(headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    """The caller's session ("" = no replay): a Claude Code session and agent (the session
    from ``X-Claude-Code-Session-Id`` or ``metadata.user_id``, the agent from
    ``X-Claude-Code-Agent-Id``: a sub-agent's turns are not its parent's), else the session
    headers CPA reads; namespaced by a hash of the caller's API key, so two callers never
    share reasoning (an unauthenticated caller gets none)."""
    scope = claude_code_scope(body, headers)
    return caller_scoped(headers, scope) if scope else replay_session_key(headers, body, chat_client=False)


def replayable(content: Any) -> bool:
    """Signed thinking and a tool call with an id."""
    if not isinstance(content, list):
        return False
    signed = any(_kind(b) == "thinking" and str(b.get("signature") or "").strip() for b in content)
    return signed and any(_kind(b) == "tool_use" and str(b.get("id") or "").strip() for b in content)


def _kind(block: Any) -> str:
    return str(block.get("type") or "").strip() if isinstance(block, dict) else ""


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _others(content: Any) -> list[bytes] | None:
    """The non-thinking blocks, canonical; None unless a list with a tool call that has an id."""
    if not isinstance(content, list):
        return None
    out: list[bytes] = []
    tool = False
    for block in content:
        kind = _kind(block)
        if kind in ("thinking", "redacted_thinking"):
            continue
        if kind == "tool_use":
            if not str(block.get("id") or "").strip():
                return None
            tool = True
        out.append(_canonical(block))
    return out if tool else None


def restore(messages: Any, cached: list[Any]) -> list[Any] | None:
    """``messages`` (a new list) with the cached content on the matching assistant turn,
    or None. A turn that already has thinking is left as it is (CPA)."""
    want = _others(cached)
    if want is None or not isinstance(messages, list):
        return None
    whole = _canonical(cached)
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if not isinstance(msg, dict) or str(msg.get("role") or "").strip().lower() != "assistant":
            continue
        content = msg.get("content")
        if _canonical(content) == whole:
            return None
        if isinstance(content, list) and any(_kind(b) in ("thinking", "redacted_thinking") for b in content):
            continue
        if _others(content) != want:
            continue
        out = list(messages)
        out[i] = {**msg, "content": cached}
        return out
    return None


# a cached content and its size in bytes; an empty content is a tombstone (the entry was
# cleared). Each write makes a new tuple, so the tuple a request read is its snapshot: a
# later write is never the same object, even with equal content (CPA's generations)
_Entry = tuple[list[Any], int]


def _size(entry: _Entry) -> int:
    return entry[1]


class KimiReplayCache:
    """Replay content by ``(model family, session)``, bounded in entries and in bytes
    (``MAX_BYTES`` an entry, ``max_bytes`` in all, the least recently used going first).

    Requests change an entry only if it is still the one they read (``snapshot``): of two
    requests in one session, an answer that finishes late does not overwrite or clear what a
    newer answer stored (CPA ``ReplaceKimiThinkingReplayIfUnchanged`` /
    ``DeleteKimiThinkingReplayIfUnchanged``); a cleared entry leaves a tombstone, so a request
    that read the empty entry before it cannot write over the clearing either."""

    def __init__(
        self,
        ttl: float = REPLAY_TTL,
        max_sessions: int = REPLAY_MAX_SESSIONS,
        max_bytes: int = MAX_TOTAL_BYTES,
    ) -> None:
        self._entries: _Bounded[_Entry] = _Bounded(ttl, max_sessions, weigh=_size, max_weight=max_bytes)
        # several workers: each change (the entry, or None when it went; and the entry it
        # grew from when it is that one with a turn added) is told to the others
        # (``translate.kimi_replay_record``), who ``adopt`` it
        self.mirror: Callable[[str, _Entry | None, _Entry | None], None] | None = None

    @property
    def size(self) -> int:
        """The bytes of all cached contents."""
        return self._entries.weight

    @staticmethod
    def _key(family: str, session: str) -> str | None:
        family, session = family.strip(), session.strip()
        return f"kimi-thinking-replay\x00{family}\x00{session}" if family and session else None

    def restored(self, messages: Any, cached: Any) -> list[Any] | None:
        """``messages`` with ``cached`` (an entry's content) put back, or None when nothing
        went back (:func:`restore`)."""
        return restore(messages, cached)

    def snapshot(self, family: str, session: str) -> _Entry | None:
        """The entry as it is now (a tombstone included): what a request read."""
        key = self._key(family, session)
        return self._entries.get(key) if key else None

    def get(self, family: str, session: str) -> list[Any] | None:
        entry = self.snapshot(family, session)
        return entry[0] if entry is not None and entry[0] else None

    def store(self, family: str, session: str, content: Any) -> bool:
        """Keep a replayable content (whether it was kept); any other finished answer clears
        the entry (CPA)."""
        key = self._key(family, session)
        if key is None:
            return False
        entry = _entry_of(content)
        if entry is None:
            self._put(key, None)
            return False
        self._put(key, entry)
        return True

    def replace(self, family: str, session: str, snapshot: _Entry | None, content: Any) -> bool:
        """``store`` (a content that cannot be kept clears the entry, leaving a tombstone),
        only while the entry is still ``snapshot``."""
        key = self._key(family, session)
        if key is None or self._entries.get(key) is not snapshot:
            return False
        self._put(key, _entry_of(content) or ([], 0))
        return True

    def discard(self, family: str, session: str, snapshot: _Entry | None) -> bool:
        """Clear the entry (a tombstone stays) only while it is still ``snapshot``: a newer
        answer stored meanwhile is kept (CPA ``DeleteKimiThinkingReplayIfUnchanged``)."""
        key = self._key(family, session)
        if key is None or self._entries.get(key) is not snapshot:
            return False
        self._put(key, ([], 0))
        return True

    def delete(self, family: str, session: str) -> None:
        key = self._key(family, session)
        if key:
            self._put(key, None)

    def _put(self, key: str, entry: _Entry | None, base: _Entry | None = None) -> None:
        """The entry at ``key`` (None: gone; ``base``: the entry it extends by its last
        turn), told to the :attr:`mirror`."""
        if entry is None:
            self._entries.delete(key)
        else:
            self._entries.put(key, entry)
        if self.mirror is not None:
            self.mirror(key, entry, base)

    def held(self, key: str) -> _Entry | None:
        """The entry at the cache key ``key``, if any (for the mirror)."""
        return self._entries.get(key)

    def adopt(self, key: str, entry: _Entry | None) -> None:
        """Another worker's change of the entry at ``key`` (None: it went); a new tuple, so
        a request here that read the older one changes nothing (``snapshot``)."""
        if entry is None:
            self._entries.delete(key)
        else:
            self._entries.put(key, entry)

    def clear(self) -> None:
        self._entries.clear()


def _entry_of(content: Any) -> _Entry | None:
    """The entry for a content worth keeping: replayable, within the block and byte bounds."""
    if not (replayable(content) and len(content) <= MAX_BLOCKS):
        return None
    size = len(orjson.dumps(content))
    return (content, size) if size <= MAX_BYTES else None


MAX_TURNS = 64  # signed turns a session keeps on an is-compat Claude key (CPA)


class CompatReplayCache(KimiReplayCache):
    """A Claude client's own signed turns on an is-compat Claude key (CPA's Claude replay
    cache): every replayable answer of a tool loop is added to the session's entry (its
    contents, oldest first, at most ``MAX_TURNS`` and ``MAX_BYTES``), since Claude Code
    leaves out the thinking of every step and the upstream wants the loop's first one back;
    an answer without one clears the entry, as Kimi's."""

    def restored(self, messages: Any, cached: Any) -> list[Any] | None:
        """``messages`` with each turn of ``cached`` (the loop's signed turns) put back."""
        out = messages
        for turn in cached:
            out = restore(out, turn) or out
        return None if out is messages else out

    def replace(self, family: str, session: str, snapshot: _Entry | None, content: Any) -> bool:
        key = self._key(family, session)
        if key is None or self._entries.get(key) is not snapshot:
            return False
        entry = _entry_of(content)
        if entry is None:
            self._put(key, ([], 0))
            return False
        turns = [*(snapshot[0] if snapshot is not None else ()), content][-MAX_TURNS:]
        sizes = [len(orjson.dumps(turn)) for turn in turns[:-1]] + [entry[1]]
        while sum(sizes) > MAX_BYTES:
            del turns[0], sizes[0]
        self._put(key, (turns, sum(sizes)), snapshot)
        return True


class Scope:
    """One request's replay: the ``(family, session)`` its answer is recorded under, the
    entry it read (``snapshot``) and the cached content restored into it, if any (what a
    refusal takes back)."""

    __slots__ = ("cache", "family", "restored", "session", "snapshot")

    def __init__(self, cache: KimiReplayCache, family: str, session: str) -> None:
        self.cache = cache
        self.family = family
        self.session = session
        self.restored: list[Any] | None = None
        self.snapshot: _Entry | None = None

    def apply(self, body: dict[str, Any]) -> None:
        """The cached content restored into ``body`` (its ``messages`` list replaced,
        never edited), remembered as ``restored``."""
        self.snapshot = entry = self.cache.snapshot(self.family, self.session)
        cached = entry[0] if entry is not None else None
        restored = self.cache.restored(body.get("messages"), cached) if cached else None
        if restored is not None:
            body["messages"] = restored
            self.restored = cached

    def keep(self, content: Any) -> None:
        """A finished answer: recorded (or the entry cleared) while the entry is still the
        one this request read."""
        self.cache.replace(self.family, self.session, self.snapshot, content)

    def forget(self) -> None:
        """Kimi refused the request: the restored content leaves the cache (once), unless a
        newer answer replaced it meanwhile."""
        if self.restored is not None:
            self.cache.discard(self.family, self.session, self.snapshot)
            self.restored = None


class StreamRecorder:
    """Reads a Claude SSE answer as it passes (chunks may split lines) and hands the
    finished content to ``done`` at ``message_stop``; an error, an unknown delta or an
    answer over the size bound hands nothing (the cache keeps what it had). An ``error``
    event also calls ``failed``: Kimi refused the request after all."""

    __slots__ = ("_blocks", "_buf", "_done", "_failed", "_size", "abandoned")

    def __init__(self, done: Callable[[list[Any]], None], failed: Callable[[], None] | None = None) -> None:
        self._done = done
        self._failed = failed
        self._buf = b""
        self._blocks: dict[int, dict[str, Any]] = {}
        self._size = 0
        self.abandoned = False

    def feed(self, chunk: bytes) -> bytes:
        if self.abandoned and self._failed is None:
            return chunk
        data = self._buf + chunk
        lines = data.split(b"\n")
        self._buf = lines.pop()
        self._size += len(chunk)
        if self._size > MAX_BYTES:
            self.abandoned = True  # nothing to record; a refusal is still watched for
        for line in lines:
            line = line.strip()
            if line.startswith(b"data:"):
                self._event(line[5:].strip())
        return chunk

    def _event(self, payload: bytes) -> None:
        if not payload or payload == b"[DONE]":
            return
        if self.abandoned and payload.find(b"error") < 0:  # only a refusal matters still
            return
        try:
            ev = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self.abandoned = True
            return
        kind = ev.get("type") if isinstance(ev, dict) else None
        if kind == "error":
            self._refused()
        elif self.abandoned:
            return
        elif kind == "content_block_start":
            block = ev.get("content_block")
            index = ev.get("index")
            if not isinstance(block, dict) or not isinstance(index, int) or index in self._blocks:
                self.abandoned = True
                return
            self._blocks[index] = {**block, "_json": []}
        elif kind == "content_block_delta":
            self._delta(ev)
        elif kind == "message_stop":
            self._finish()

    def _refused(self) -> None:
        """An ``error`` event: nothing is recorded, and ``failed`` is called (once)."""
        self.abandoned = True
        failed, self._failed = self._failed, None
        if failed is not None:
            failed()

    def _delta(self, ev: dict[str, Any]) -> None:
        block = self._blocks.get(ev.get("index"))  # type: ignore[arg-type]
        delta = ev.get("delta")
        if block is None or not isinstance(delta, dict):
            self.abandoned = True
            return
        dtype = delta.get("type")
        field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}.get(
            str(dtype)
        )
        if field is not None:
            block[field] = str(block.get(field) or "") + str(delta.get(field) or "")
        elif dtype == "input_json_delta":
            block["_json"].append(str(delta.get("partial_json") or ""))
        else:
            self.abandoned = True

    def _finish(self) -> None:
        content: list[Any] = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            parts = block.pop("_json")
            if parts:
                try:
                    block["input"] = orjson.loads("".join(parts))
                except orjson.JSONDecodeError:
                    return
            content.append(block)
        self._done(content)


def record(req: Any, scope: Scope) -> None:
    """Watch the answer to ``req`` (an ``UpstreamRequest``; streamed or whole) on its way,
    after any other rewrite, and keep what it ends with in ``scope``; a stream's ``error``
    event takes restored content back out."""
    failed = scope.forget if scope.restored is not None else None
    recorder = StreamRecorder(scope.keep, failed)
    chunk_hook, body_hook = req.rewrite_chunk, req.rewrite_body

    def on_chunk(data: bytes) -> bytes:
        return recorder.feed(chunk_hook(data) if chunk_hook is not None else data)

    def on_body(data: bytes) -> bytes:
        data = body_hook(data) if body_hook is not None else data
        try:
            content = orjson.loads(data).get("content")
        except (orjson.JSONDecodeError, AttributeError):
            return data
        scope.keep(content)
        return data

    req.rewrite_chunk, req.rewrite_body = on_chunk, on_body
