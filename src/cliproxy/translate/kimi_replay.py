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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from cliproxy.translate.replay import REPLAY_MAX_SESSIONS, REPLAY_TTL, _Bounded
from cliproxy.translate.replay_keys import caller_key, replay_session_key

__all__ = [
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
    """The caller's session ("" = no replay): Claude Code's ``metadata.user_id`` session,
    else the session headers CPA reads; namespaced by a hash of the caller's API key, so
    two callers never share reasoning (an unauthenticated caller gets none)."""
    api_key = caller_key(headers)
    sid = _claude_code_session(body)
    if not sid or not api_key:
        return replay_session_key(headers, body, chat_client=False)
    return f"caller:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}:claude:{sid}:agent:main"


def _claude_code_session(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata")
    user = meta.get("user_id") if isinstance(meta, dict) else None
    if not isinstance(user, str) or not user.strip():
        return ""
    if user.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(user)
        except orjson.JSONDecodeError:
            return ""
        sid = parsed.get("session_id") if isinstance(parsed, dict) else None
        return sid.strip() if isinstance(sid, str) else ""
    _, sep, tail = user.partition("_session_")
    return tail.strip() if sep else ""


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


class KimiReplayCache:
    def __init__(self, ttl: float = REPLAY_TTL, max_sessions: int = REPLAY_MAX_SESSIONS) -> None:
        self._entries: _Bounded[list[Any]] = _Bounded(ttl, max_sessions)

    @staticmethod
    def _key(family: str, session: str) -> str | None:
        family, session = family.strip(), session.strip()
        return f"kimi-thinking-replay\x00{family}\x00{session}" if family and session else None

    def get(self, family: str, session: str) -> list[Any] | None:
        key = self._key(family, session)
        return self._entries.get(key) if key else None

    def store(self, family: str, session: str, content: Any) -> None:
        """Keep a replayable content; any other finished answer clears the entry (CPA)."""
        key = self._key(family, session)
        if key is None:
            return
        if replayable(content) and len(content) <= MAX_BLOCKS:
            self._entries.put(key, content)
        else:
            self._entries.delete(key)

    def delete(self, family: str, session: str) -> None:
        key = self._key(family, session)
        if key:
            self._entries.delete(key)

    def discard(self, family: str, session: str, content: list[Any]) -> None:
        """Delete the entry only while it is still ``content`` (the same object): a newer
        answer stored meanwhile is kept (CPA ``DeleteKimiThinkingReplayIfUnchanged``)."""
        key = self._key(family, session)
        if key and self._entries.get(key) is content:
            self._entries.delete(key)

    def clear(self) -> None:
        self._entries.clear()


class Scope:
    """One request's replay: the ``(family, session)`` its answer is recorded under and
    the cached content restored into it, if any (what a refusal takes back)."""

    __slots__ = ("cache", "family", "restored", "session")

    def __init__(self, cache: KimiReplayCache, family: str, session: str) -> None:
        self.cache = cache
        self.family = family
        self.session = session
        self.restored: list[Any] | None = None

    def apply(self, body: dict[str, Any]) -> None:
        """The cached content restored into ``body`` (its ``messages`` list replaced,
        never edited), remembered as ``restored``."""
        cached = self.cache.get(self.family, self.session)
        restored = restore(body.get("messages"), cached) if cached else None
        if restored is not None:
            body["messages"] = restored
            self.restored = cached

    def keep(self, content: Any) -> None:
        """A finished answer: recorded (or the entry cleared) as ``KimiReplayCache.store``."""
        self.cache.store(self.family, self.session, content)

    def forget(self) -> None:
        """Kimi refused the request: the restored content leaves the cache (once)."""
        if self.restored is not None:
            self.cache.discard(self.family, self.session, self.restored)
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
