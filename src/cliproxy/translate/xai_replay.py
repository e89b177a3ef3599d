"""xAI reasoning replay: the last Grok turn a client did not carry, put back in its next
request (CPA ``internal/cache/xai_reasoning_replay_cache.go`` and
``runtime/executor/xai_reasoning_replay.go``).

Grok continues a conversation best, and keeps its prompt cache, when it gets its own
encrypted reasoning back; a Chat Completions client has no place for it, a Claude client
may drop it, a Responses client that did not ask for ``reasoning.encrypted_content``
never had it. So the proxy keeps the final output of the last turn per ``(upstream
model, session)``, as CPA does:

* :func:`make_turn` reduces a ``response.completed`` output to what a stateless next
  request takes back: reasoning items with Grok's ``encrypted_content``
  (:func:`~cliproxy.translate.envelopes_plain.is_valid_grok`), the assistant message's text and
  refusal parts, function and custom tool calls. A turn with no reasoning and no call has
  nothing to replay: it is no turn, and the session's older one is forgotten;
* :func:`filter_items` keeps of the cached items what the next request lacks, and none
  when its history does not end with the cached answer (an older or edited turn: the
  place would be a guess);
* ``codex_replay.insert_items`` (CPA's ``insertCodexReasoningReplayItems``, shared with
  Codex) puts them in: in front of the turn's first call when the client carried it
  (:func:`turn_place`; CPA puts them in front of the first message then), else where
  CPA puts them.

Unlike Codex's (every turn of a session), one turn a session is kept: each completed
turn replaces the last (:class:`XAIReplayCache`, 1 h sliding TTL, 10,240 sessions).
:func:`encode_turns` / :func:`decode_turns` are its form in Redis (``translate.replay_shared``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats.openai_responses import TOOL_CALLS, TOOL_OUTPUTS
from cliproxy.translate.codex_replay import call_keys, comparable_ids
from cliproxy.translate.envelopes_plain import is_valid_grok
from cliproxy.translate.replay import TurnCache

__all__ = [
    "XAIReplayCache",
    "XAITurn",
    "decode_turns",
    "encode_turns",
    "filter_items",
    "make_turn",
    "turn_place",
]

_ANCHORS = frozenset({"reasoning", *TOOL_CALLS})  # what makes a turn worth replaying


@dataclass(frozen=True, slots=True)
class XAITurn:
    """One Grok turn's replayable items (normalized); ``id`` is a hash of them."""

    id: str
    items: tuple[dict[str, Any], ...] = field(compare=False)
    weight: int = field(default=0, compare=False)

    def size(self) -> int:
        return self.weight


class XAIReplayCache(TurnCache[XAITurn]):
    """The last Grok turn per ``(upstream model, session key)``."""

    namespace = "xai-reasoning-replay"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_turns", 1)  # a completed turn replaces the last (CPA)
        super().__init__(**kwargs)

    def accepts(self, turn: XAITurn) -> bool:
        return bool(turn.items) and turn.weight <= self.max_session_bytes


# --------------------------------------------------------------------------- recording


def make_turn(output: Iterable[Any]) -> XAITurn | None:
    """The turn of a ``response.completed`` output (CPA ``StoreXAIReasoningReplayItems``);
    None when it holds no Grok reasoning and no tool call."""
    items = [kept for item in output if (kept := _normalized(item)) is not None]
    if not any(item["type"] in _ANCHORS for item in items):
        return None
    dumped = [orjson.dumps(item) for item in items]
    digest = hashlib.sha256()
    for raw in dumped:
        digest.update(b"\x00item\x00" + raw)
    return XAITurn(digest.hexdigest(), tuple(items), sum(map(len, dumped)))


def _normalized(item: Any) -> dict[str, Any] | None:
    """The smallest form of an output item a Responses input takes back (CPA's
    ``normalizeXAIReasoningReplay*Item``); None for anything else."""
    if type(item) is not dict:
        return None
    kind = item.get("type")
    if kind == "reasoning":
        enc = item.get("encrypted_content")
        if type(enc) is not str or not is_valid_grok(enc):
            return None  # OpenAI's, or none: xAI refuses what it did not make
        return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": enc}
    if kind == "message":
        if _text(item.get("role")).lower() != "assistant":
            return None
        content = item.get("content")
        parts = _message_parts(content, lenient=True) if type(content) is list else None
        if not parts:
            return None
        content = [
            {"type": "output_text", "text": v} if k == "output_text" else {"type": k, "refusal": v}
            for k, v in parts
        ]
        return {"type": "message", "role": "assistant", "content": content}
    if kind not in TOOL_CALLS:
        return None
    cid, name = _text(item.get("call_id")), _text(item.get("name"))
    if not cid or not name:
        return None
    if kind == "function_call":
        args = item.get("arguments")
        return {"type": kind, "call_id": cid, "name": name, "arguments": args} if type(args) is str else None
    if "input" not in item:
        return None
    status = _text(item.get("status")) or "completed"
    return {"type": kind, "status": status, "call_id": cid, "name": name, "input": item["input"]}


def _message_parts(content: Any, *, lenient: bool = False) -> list[tuple[str, str]] | None:
    """An assistant message's ``(type, text)`` parts: ``output_text`` and ``refusal``;
    a string is one ``output_text``. Any other part: None, unless ``lenient`` (then it is
    left out, as a stored message leaves it out)."""
    if type(content) is str:
        return [("output_text", content)]
    if type(content) is not list:
        return None
    parts: list[tuple[str, str]] = []
    for part in content:
        kind = part.get("type") if type(part) is dict else None
        key = "text" if kind == "output_text" else "refusal" if kind == "refusal" else ""
        value = part.get(key) if key else None
        if kind is not None and type(value) is str:
            parts.append((kind, value))
        elif not lenient:
            return None
    return parts


# --------------------------------------------------------------------------- restoring


def filter_items(items: list[Any], replay: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of the cached ``replay`` items, those the request's ``input`` (``items``) lacks
    (CPA ``filterXAIReasoningReplayItemsForInput``):

    * when the input's last assistant message is not the cached answer, none: the
      client's history went another way (an older turn, an edited answer);
    * reasoning the input carries (the same ``encrypted_content``) stays out, and so does
      the answer when the input ends with it;
    * a call goes back only when the input carries its output and not the call itself.
    """
    replay = list(replay)
    last = _last_assistant(items)
    cached = next((i for i in replay if i.get("type") == "message"), None)
    matches = False
    if last is not None and cached is not None:
        mine, theirs = _message_parts(last.get("content")), _message_parts(cached.get("content"))
        matches = bool(mine) and mine == theirs
        if not matches:
            return []
    carried: set[str] = set()
    calls: set[str] = set()
    outputs: set[str] = set()
    for item in items:
        kind = item.get("type") if type(item) is dict else None
        if kind == "reasoning" and type(enc := item.get("encrypted_content")) is str and enc:
            carried.add(enc)
        elif kind in TOOL_OUTPUTS:
            outputs.update(comparable_ids(item.get("call_id")))
        elif kind in TOOL_CALLS:
            calls.update(call_keys(item))
    kept: list[dict[str, Any]] = []
    for item in replay:
        kind = item.get("type")
        if kind == "reasoning":
            if item.get("encrypted_content") not in carried:
                kept.append(item)
        elif kind == "message":
            if not matches:
                kept.append(item)
        elif kind in TOOL_CALLS:
            keys = call_keys(item)
            if (
                keys
                and calls.isdisjoint(keys)
                and not outputs.isdisjoint(comparable_ids(item.get("call_id")))
            ):
                calls.update(keys)
                kept.append(item)
    return kept


def turn_place(items: list[Any], replay: Iterable[dict[str, Any]]) -> int | None:
    """Where the cached turn sits in ``items`` when the client carried one of its calls:
    the place of the first such call, so its reasoning goes back right in front of the
    call it led to, as the turn had it; None otherwise (CPA's place then)."""
    keys = {key for item in replay if item.get("type") in TOOL_CALLS for key in call_keys(item)}
    if not keys:
        return None
    for i, item in enumerate(items):
        if type(item) is dict and item.get("type") in TOOL_CALLS and not keys.isdisjoint(call_keys(item)):
            return i
    return None


def _last_assistant(items: list[Any]) -> dict[str, Any] | None:
    for item in reversed(items):
        if (
            type(item) is dict
            and item.get("type", "message") in ("", "message")
            and _text(item.get("role")).lower() == "assistant"
        ):
            return item
    return None


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


# --------------------------------------------------------------------------- in Redis


def encode_turns(turns: tuple[XAITurn, ...]) -> bytes:
    return orjson.dumps([[t.id, list(t.items), t.weight] for t in turns])


def decode_turns(raw: bytes) -> tuple[XAITurn, ...]:
    """The turns in ``raw``; an unreadable value is no turns (never an error)."""
    try:
        return tuple(
            XAITurn(str(tid), tuple(items), int(weight))
            for tid, items, weight in orjson.loads(raw)
            if all(type(i) is dict and type(i.get("type")) is str for i in items)
        )
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return ()
