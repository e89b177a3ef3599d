"""Codex reasoning replay: encrypted reasoning a client could not carry, put back in its
next request (CPA ``internal/cache/codex_reasoning_replay_cache.go`` and
``runtime/executor/codex_executor_reasoning.go``).

A Codex model given its own encrypted reasoning back in front of the calls it made
continues the same line of thought (and the prompt cache holds); a Chat Completions
client has no place for it, and a Claude client that drops thinking blocks loses it. So
the proxy keeps the final output of each Codex turn per ``(upstream model, session)``:

* a :class:`CodexTurn` is one ``response.completed`` output reduced to what a stateless
  next request needs (reasoning items with OpenAI's own ``encrypted_content``, function
  and custom tool calls), with what finds its place again: the call ids, a fingerprint of
  the assistant message's text and a fingerprint of the request's input that led to it;
* :func:`insert_turns` puts each cached turn back where it belongs in the next request's
  ``input``, newest first, never twice (reasoning or a call the client carried stays
  alone), a call only when the client sent its output, and a turn whose anchor the
  history no longer has (compacted away) not at all.

:class:`CodexReplayCache` holds turns on :class:`~cliproxy.translate.replay.TurnCache`
(1 h sliding TTL, 10,240 sessions, 256 turns and 16 MiB a session as CPA, 256 MiB in
all, which CPA does not bound); :func:`encode_turns` / :func:`decode_turns` are its form
in Redis (``translate.replay_shared``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats.openai_responses import TOOL_CALLS, TOOL_OUTPUTS
from cliproxy.translate.claude.ids import sanitize_tool_id
from cliproxy.translate.envelopes import is_valid_gpt
from cliproxy.translate.replay import REPLAY_MAX_SESSIONS, REPLAY_MAX_TOTAL_BYTES, REPLAY_TTL, TurnCache

__all__ = [
    "MAX_SESSION_BYTES",
    "MAX_TURNS",
    "CodexReplayCache",
    "CodexTurn",
    "PrefixHashes",
    "assistant_fingerprint",
    "call_keys",
    "comparable_ids",
    "decode_turns",
    "encode_turns",
    "insert_items",
    "insert_turns",
    "make_turn",
]

MAX_TURNS = 256  # CPA CodexReasoningReplayCacheMaxTurnsPerEntry
MAX_SESSION_BYTES = 16 << 20  # CPA CodexReasoningReplayCacheMaxBytesPerEntry

_ANCHORS = TOOL_CALLS | TOOL_OUTPUTS


@dataclass(frozen=True, slots=True)
class CodexTurn:
    """One Codex turn's replayable output; two turns are the same when their ``id`` is
    (a hash of everything below)."""

    id: str
    items: tuple[dict[str, Any], ...] = field(compare=False)
    call_ids: tuple[str, ...] = field(default=(), compare=False)
    assistant: str = field(default="", compare=False)  # fingerprint of the answer's text
    request: str = field(default="", compare=False)  # fingerprint of the input that led here
    weight: int = field(default=0, compare=False)

    def size(self) -> int:
        return self.weight

    @property
    def anchorless(self) -> bool:
        """Nothing in a later history points at this turn: no call, no answer text."""
        return not self.call_ids and not self.assistant


class CodexReplayCache(TurnCache[CodexTurn]):
    """Codex turns per ``(upstream model, session key)``."""

    namespace = "codex-reasoning-replay"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("ttl", REPLAY_TTL)
        kwargs.setdefault("max_sessions", REPLAY_MAX_SESSIONS)
        kwargs.setdefault("max_turns", MAX_TURNS)
        kwargs.setdefault("max_total_bytes", REPLAY_MAX_TOTAL_BYTES)
        kwargs.setdefault("max_session_bytes", MAX_SESSION_BYTES)
        super().__init__(**kwargs)

    def accepts(self, turn: CodexTurn) -> bool:
        """A turn with items, small enough for a session (CPA drops a larger one)."""
        return bool(turn.items) and turn.weight <= self.max_session_bytes


# --------------------------------------------------------------------------- recording


def make_turn(output: Iterable[Any], request: str = "") -> CodexTurn | None:
    """The turn of a ``response.completed`` output (CPA
    ``cacheCodexReasoningReplayFromCompleted``); None when nothing in it can be replayed.
    ``request``: the fingerprint of the request's input (:class:`PrefixHashes`)."""
    items: list[dict[str, Any]] = []
    calls: list[str] = []
    assistant = ""
    for item in output:
        if type(item) is not dict:
            continue
        kind = item.get("type")
        if kind == "message":
            assistant = assistant_fingerprint(item) or assistant
            continue
        if kind in TOOL_CALLS and (cid := _text(item.get("call_id"))):
            calls.append(cid)
        kept = _normalized(kind, item)
        if kept is not None:
            items.append(kept)
    if not items:
        return None
    dumped = [orjson.dumps(i) for i in items]
    digest = hashlib.sha256(f"{request}\x00assistant\x00{assistant}".encode())
    for cid in calls:
        digest.update(b"\x00call\x00" + cid.encode())
    for raw in dumped:
        digest.update(b"\x00item\x00" + raw)
    weight = sum(len(raw) for raw in dumped)
    return CodexTurn(digest.hexdigest(), tuple(items), tuple(calls), assistant, request, weight)


def _normalized(kind: Any, item: dict[str, Any]) -> dict[str, Any] | None:
    """The smallest form of an output item the Responses input takes back (CPA's
    ``normalizeCodexReasoningReplay*Item``); None for anything else."""
    if kind == "reasoning":
        enc = item.get("encrypted_content")
        if type(enc) is not str or enc != enc.strip() or not is_valid_gpt(enc):
            return None  # only OpenAI's own: anything else the upstream refuses
        return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": enc}
    if kind not in TOOL_CALLS:
        return None
    cid, name = _text(item.get("call_id")), _text(item.get("name"))
    if not cid or not name:
        return None
    if kind == "function_call":
        args = item.get("arguments")
        if type(args) is not str:
            return None
        return {"type": "function_call", "call_id": cid, "name": name, "arguments": args}
    if "input" not in item:
        return None
    status = _text(item.get("status")) or "completed"
    return {
        "type": "custom_tool_call",
        "status": status,
        "call_id": cid,
        "name": name,
        "input": item["input"],
    }


def assistant_fingerprint(item: Any) -> str:
    """sha256 of an assistant message's text (refusals marked); "" for another item or a
    message with anything but text in it."""
    if type(item) is not dict or item.get("type", "message") not in ("", "message"):
        return ""
    if _text(item.get("role")).lower() != "assistant":
        return ""
    content = item.get("content")
    if type(content) is str:
        text = content
    elif type(content) is list:
        pieces: list[str] = []
        for part in content:
            kind = part.get("type") if type(part) is dict else None
            if kind in ("input_text", "output_text"):
                pieces.append(str(part.get("text") or ""))
            elif kind == "refusal":
                pieces.append("\x00refusal\x00" + str(part.get("refusal") or ""))
            else:
                return ""
        text = "".join(pieces)
    else:
        return ""
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


class PrefixHashes:
    """Fingerprints of the prefixes of one ``input`` list, each computed once, on demand
    (CPA ``codexReplayPrefixFingerprints``): the anchor search asks many, the turn's
    record asks the whole list's. Items are hashed as orjson writes them."""

    __slots__ = ("_hash", "items", "sums")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self._hash = hashlib.sha256()
        self.sums = [self._hash.hexdigest()]

    def at(self, end: int) -> str:
        """The fingerprint of ``items[:end]``; "" out of range."""
        if end < 0 or end > len(self.items):
            return ""
        sums, running = self.sums, self._hash
        while len(sums) <= end:
            running.update(b"\x00item\x00" + orjson.dumps(self.items[len(sums) - 1]))
            sums.append(running.hexdigest())
        return sums[end]


# --------------------------------------------------------------------------- restoring


def comparable_ids(call_id: Any) -> tuple[str, ...]:
    """A call id and the form a Claude client saw it in (``sanitize_tool_id``), when that
    differs: the client's tool result names the call by the latter."""
    cid = _text(call_id)
    if not cid:
        return ()
    seen = sanitize_tool_id(cid)
    return (cid,) if seen == cid else (cid, seen)


class _Input:
    """What the request's ``input`` already holds, looked up once per request: the places
    of calls and outputs by call id and of assistant messages by fingerprint (each turn's
    anchor is then found without scanning the history again)."""

    __slots__ = ("_answers", "by_call", "calls", "items", "outputs", "prefix", "reasoning", "valid_reasoning")

    def __init__(self, items: list[Any], prefix: PrefixHashes) -> None:
        self.items = items
        self.prefix = prefix
        self.reasoning: set[str] = set()
        self.outputs: dict[str, str] = {}  # comparable id -> the output's own call id
        self.calls: set[str] = set()
        self.by_call: dict[str, list[int]] = {}  # comparable id -> places of calls and outputs
        self._answers: dict[str, list[int]] | None = None
        self.valid_reasoning = False
        for i, item in enumerate(items):
            kind = item.get("type") if type(item) is dict else None
            if kind == "reasoning":
                enc = item.get("encrypted_content")
                if type(enc) is str and enc.strip():
                    self.reasoning.add(enc.strip())
                    self.valid_reasoning = self.valid_reasoning or is_valid_gpt(enc)
            elif kind in _ANCHORS:
                own = _text(item.get("call_id"))
                for cid in comparable_ids(own):
                    self.by_call.setdefault(cid, []).append(i)
                    if kind in TOOL_OUTPUTS:
                        self.outputs.setdefault(cid, own)
                if kind in TOOL_CALLS:
                    self.calls.update(call_keys(item))

    def answers(self, fingerprint: str) -> list[int]:
        """The places of assistant messages with this fingerprint (computed at first use)."""
        if self._answers is None:
            self._answers = {}
            for i, item in enumerate(self.items):
                if _role(item) == "assistant" and (found := assistant_fingerprint(item)):
                    self._answers.setdefault(found, []).append(i)
        return self._answers.get(fingerprint, [])


def insert_turns(items: list[Any], turns: tuple[CodexTurn, ...], prefix: PrefixHashes) -> list[Any] | None:
    """``items`` (a request's ``input``) with the cached ``turns`` put back, as a new
    list (inserted items are copies; the input's own are never edited); None when
    nothing was inserted (CPA ``insertCodexReasoningReplayTurns``). ``prefix``: the
    fingerprints of ``items``."""
    if not turns:
        return None
    seen = _Input(items, prefix)
    insertions: dict[int, list[dict[str, Any]]] = {}
    used: set[int] = set()
    fallback_end = len(items) - 1
    for turn in reversed(turns):  # the newest first: it takes the latest matching place
        at = _anchor(seen, turn, fallback_end, used)
        if at is None:
            continue
        used.add(at)
        if not turn.request:  # an older turn without a request fingerprint sits before it
            fallback_end = at - 1
        kept = _missing(seen, turn)
        if kept:
            insertions[at] = kept + insertions.get(at, [])
    if not insertions:
        return None
    out: list[Any] = []
    for i, item in enumerate(items):
        out.extend(insertions.get(i, ()))
        out.append(item)
    out.extend(insertions.get(len(items), ()))
    return out


def _anchor(seen: _Input, turn: CodexTurn, fallback_end: int, used: set[int]) -> int | None:
    """Where ``turn`` goes back in: before the latest call or call output naming one of its
    calls, else before the latest assistant message with its text, where the input in
    front is the input that led to it (when the turn knows that); a turn with neither
    goes where an unplaced turn goes (:func:`_insert_index`); None: not in this history."""
    if turn.anchorless:
        return _insert_index(seen.items, turn.items)
    end = min(len(seen.items) - 1 if turn.request else fallback_end, len(seen.items) - 1)
    if turn.call_ids:
        places = {i for cid in turn.call_ids for c in comparable_ids(cid) for i in seen.by_call.get(c, ())}
        for i in sorted(places, reverse=True):
            if i <= end and i not in used and _after(seen, turn, i):
                return i
    if turn.assistant:
        for i in reversed(seen.answers(turn.assistant)):
            if i <= end and i not in used and _after(seen, turn, i):
                return i
    return None


def _after(seen: _Input, turn: CodexTurn, index: int) -> bool:
    return not turn.request or seen.prefix.at(index) == turn.request


def _missing(seen: _Input, turn: CodexTurn) -> list[dict[str, Any]]:
    """The turn's items the input lacks, as copies with call ids as its outputs name them:
    reasoning it does not carry (for a turn with no anchor, none when it carries any of
    OpenAI's: the place would be a guess), a call it does not carry whose output it does."""
    calls = seen.calls
    added: set[str] = set()  # calls this turn put back (CPA's per-turn set)
    out: list[dict[str, Any]] = []
    for item in turn.items:
        kind = item["type"]
        if kind == "reasoning":
            if item["encrypted_content"] in seen.reasoning or (turn.anchorless and seen.valid_reasoning):
                continue
            out.append(dict(item))
            continue
        keys = call_keys(item)
        if not keys or not calls.isdisjoint(keys) or not added.isdisjoint(keys):
            continue
        own = next((seen.outputs[c] for c in comparable_ids(item.get("call_id")) if c in seen.outputs), "")
        if not own:
            continue  # the client dropped the call and its result: replaying one alone fails
        added.update(keys)
        out.append({**item, "call_id": own})
    return out


def insert_items(items: list[Any], replay: list[dict[str, Any]], at: int | None = None) -> list[Any]:
    """``items`` (a request's ``input``) with ``replay`` put in at one place, as a new list
    (CPA ``insertCodexReasoningReplayItems``, which xAI's replay uses too): before
    ``items[at]``, else where :func:`_insert_index` says; each call under the id the
    input's output names it by."""
    outputs: dict[str, str] = {}
    for item in items:
        if type(item) is dict and item.get("type") in TOOL_OUTPUTS and (own := _text(item.get("call_id"))):
            for cid in comparable_ids(own):
                outputs[cid] = own
    aligned: list[dict[str, Any]] = []
    for item in replay:
        cid = _text(item.get("call_id")) if item.get("type") in TOOL_CALLS else ""
        own = next((outputs[c] for c in comparable_ids(cid) if c in outputs), "") if outputs else ""
        aligned.append({**item, "call_id": own} if own and own != cid else dict(item))
    if at is None:
        at = _insert_index(items, replay)
    return [*items[:at], *aligned, *items[at:]]


def _insert_index(items: list[Any], replay: Iterable[dict[str, Any]]) -> int:
    """Where replayed items go without an anchor (CPA ``codexReasoningReplayInsertIndex``):
    before the first output of one of their calls, else before the latest assistant
    message, else before the first item that is not a system or developer message."""
    ids = {
        c for item in replay if item.get("type") in TOOL_CALLS for c in comparable_ids(item.get("call_id"))
    }
    if ids:
        for i, item in enumerate(items):
            if type(item) is dict and item.get("type") in TOOL_OUTPUTS:
                cid = _text(item.get("call_id"))
                if not cid or cid in ids:
                    return i
    for i in range(len(items) - 1, -1, -1):
        if _role(items[i]) == "assistant":
            return i
    for i, item in enumerate(items):
        if _role(item) not in ("developer", "system"):
            return i
    return len(items)


def _role(item: Any) -> str:
    """A message's role, lower case ("" for any other item)."""
    if type(item) is not dict or item.get("type", "message") not in ("", "message"):
        return ""
    return _text(item.get("role")).lower()


def call_keys(item: dict[str, Any]) -> tuple[str, ...]:
    """A call's or output's keys: its type and each form its id may take."""
    kind = item.get("type")
    return tuple(f"{kind}:{cid}" for cid in comparable_ids(item.get("call_id")))


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


# --------------------------------------------------------------------------- in Redis


def encode_turns(turns: tuple[CodexTurn, ...]) -> bytes:
    return orjson.dumps(
        [[t.id, list(t.items), list(t.call_ids), t.assistant, t.request, t.weight] for t in turns]
    )


def decode_turns(raw: bytes) -> tuple[CodexTurn, ...]:
    """The turns in ``raw``; an unreadable value is no turns (never an error)."""
    try:
        return tuple(
            CodexTurn(str(tid), tuple(items), tuple(map(str, calls)), str(asst), str(req), int(weight))
            for tid, items, calls, asst, req, weight in orjson.loads(raw)
            if all(type(i) is dict and type(i.get("type")) is str for i in items)
        )
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return ()
