"""Gemini thought signatures of function calls, put back for a Chat client that dropped them.

Gemini (2.5 with thinking, 3 always) signs the first ``functionCall`` of a turn
(``thoughtSignature``) and wants the signature back with the call in the next request's
history: without it Gemini 3 refuses, and with the validator-skip sentinel (what the
translation writes when it knows nothing better: ``translate.gemini.build``) it goes on
without the turn's reasoning. A Chat Completions client is handed the signature in
``tool_calls[].extra_content.google.thought_signature``; many (opencode's ai-sdk, loops that
rebuild their tool calls) do not send it back. So, for a Gemini API key:

* the answer's signed calls are kept (:class:`Scope`, the request's ``rewrite_body`` /
  ``rewrite_chunk``, which read and hand on the answer unchanged), each under a hash of
  its name and arguments (:func:`call_key`: the request Gemini gets carries no call ids);
* the next request's calls that have no signature, or the sentinel, get theirs back
  (:func:`restore`, in ``GeminiProvider.build``); a signature the client sent is never
  replaced. The same call made twice in a session is told apart by order: the newest kept
  signature goes to the newest such call of the history;
* a 400 that names a signature forgets the session (:meth:`Scope.refused`, from
  ``classify``), as the Codex and Antigravity replays forget on their refusal.

Which requests: Chat Completions clients' generations (:func:`carry`). A Gemini client
carries its parts as Gemini gave them, a Claude client its signatures in its thinking
blocks (``translate.carriers``). The session is the Codex replay's
(``replay_keys.replay_session_key``: the prompt cache key or session headers, else the API
key), namespaced by a hash of the caller's API key: another key never gets a signature, and
a caller without a key gets no replay. The cache (:class:`GeminiSignatureCache`) is bounded
like the other replays (1 h sliding TTL, sessions, turns and bytes) and mirrored over Redis
with several workers (``service_mirrors``; ``prepare`` fetches a session another worker
recorded).

Deliberate difference: CPA keeps nothing for the Gemini API: its Chat translator writes the
client's ``extra_content`` signature, else the sentinel
(``internal/translator/gemini/openai/chat-completions/gemini_openai_request.go``), and its
Gemini executor only sanitizes what it is given (``internal/runtime/executor/
gemini_executor.go``, ``SanitizeGeminiRequestThoughtSignatures``). Its only signature cache
is Antigravity's; this one gives a Gemini API key's Chat clients what Codex, xAI and Claude
upstreams give them already.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats import Format
from cliproxy.formats.gemini import SKIP_SIGNATURE
from cliproxy.translate.replay import TurnCache
from cliproxy.translate.replay_keys import replay_session_key

__all__ = [
    "CARRIED",
    "GeminiSignatureCache",
    "Scope",
    "SignedCalls",
    "call_key",
    "carry",
    "decode_turns",
    "encode_turns",
    "invalid_signature",
    "restore",
]

# private: the session on its way from start_attempt to build; never sent upstream
CARRIED = "_cliproxy_gemini_signature_replay"

_OPENAI = Format.OPENAI  # (a global: read per request)
_SIGNED = b"thoughtSignature"  # an answer without it has nothing to keep (no parse)
_SIGNATURE = b"signature"  # Gemini's refusal of a signature names it (any case)


@dataclass(frozen=True, slots=True)
class SignedCalls:
    """One answer's signed calls: ``(call key, signature)`` pairs; ``id`` names the answer."""

    id: str
    calls: tuple[tuple[str, str], ...] = field(compare=False)
    weight: int = field(default=0, compare=False)

    def size(self) -> int:
        return self.weight


class GeminiSignatureCache(TurnCache[SignedCalls]):
    """The signed calls of a session's answers per ``(upstream model, session key)``."""

    namespace = "gemini-signature-replay"

    def accepts(self, turn: SignedCalls) -> bool:
        return bool(turn.calls) and turn.weight <= self.max_session_bytes


def call_key(name: Any, args: Any) -> str:
    """A hash of a call's name and arguments, the same for the call as Gemini made it and
    as a Chat client sends it back (keys sorted; a whole float read as the integer a
    JavaScript client writes for it)."""
    try:
        raw = orjson.dumps([name, _plain(args)], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        raw = repr((name, args)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _plain(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is dict:
        return {k: _plain(v) for k, v in value.items()}
    if type(value) is list:
        return [_plain(v) for v in value]
    return value


def carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    headers: Mapping[str, str],
    model: str,
    passthrough: bool,
) -> None:
    """Leave ``[session, model]`` of a Chat client's request in the attempt's ``body``
    (under :data:`CARRIED`) for :func:`restore` in ``build`` and for ``prepare``, which
    fetches a session another worker recorded (a ``Provider.carrier``)."""
    if (
        fmt is _OPENAI
        and not passthrough
        and (client_body.get("tools") or _results_last(client_body))
        and (session := replay_session_key(headers, client_body, chat_client=True))
    ):
        body[CARRIED] = [session, model]


def _results_last(client_body: Mapping[str, Any]) -> bool:
    """A request without ``tools`` still has calls to restore when it ends with their
    results (a loop's last step asking for the answer): they are the current turn, whose
    signatures Gemini 3 checks. Other requests without tools (plain text; calls only in
    earlier turns) are left alone: nothing to sign, nothing Gemini checks."""
    messages = client_body.get("messages")
    last = messages[-1] if type(messages) is list and messages else None
    return type(last) is dict and last.get("role") == "tool"


def restore(cache: GeminiSignatureCache, body: dict[str, Any], model: str, carried: Any) -> Scope | None:
    """In ``build``: the carried session's kept signatures onto the calls of
    ``body["contents"]`` that have none (changed contents and parts are copies; nothing is
    edited) and the request's :class:`Scope`; None without a session."""
    session = carried[0] if type(carried) is list and carried else None
    if type(session) is not str or not session:
        return None
    turns = cache.get(model, session)
    contents = body.get("contents")
    if turns and type(contents) is list:
        kept: dict[str, list[str]] = {}
        for turn in turns:  # oldest first: the newest signature of a key is its list's last
            for key, sig in turn.calls:
                kept.setdefault(key, []).append(sig)
        restored = _signed(contents, kept)
        if restored is not None:
            body["contents"] = restored
    return Scope(cache, model, session)


def _signed(contents: list[Any], kept: dict[str, list[str]]) -> list[Any] | None:
    """``contents`` with kept signatures on its unsigned calls, newest first; None: no change."""
    out: list[Any] | None = None
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        if type(content) is not dict or content.get("role") != "model":
            continue
        parts = content.get("parts")
        if type(parts) is not list:
            continue
        new_parts: list[Any] | None = None
        for j in range(len(parts) - 1, -1, -1):
            part = parts[j]
            if type(part) is not dict or type(call := part.get("functionCall")) is not dict:
                continue
            sig = part.get("thoughtSignature")
            if sig and sig != SKIP_SIGNATURE:
                continue  # the client's own: never replaced
            sigs = kept.get(call_key(call.get("name"), call.get("args")))
            if not sigs:
                continue
            if new_parts is None:
                new_parts = list(parts)
            new_parts[j] = {**part, "thoughtSignature": sigs.pop()}
        if new_parts is not None:
            if out is None:
                out = list(contents)
            out[i] = {**content, "parts": new_parts}
    return out


def invalid_signature(status: int, body: bytes) -> bool:
    """Gemini refused a request's signature (a 400 that names one)."""
    return status == 400 and body.lower().find(_SIGNATURE) >= 0


class Scope:
    """One request's place in the cache: the answer's signed calls recorded as it comes,
    a refusal of a signature forgetting the session."""

    __slots__ = ("cache", "calls", "id", "model", "session")

    def __init__(self, cache: GeminiSignatureCache, model: str, session: str) -> None:
        self.cache = cache
        self.model = model
        self.session = session
        self.id = ""
        self.calls: list[tuple[str, str]] = []

    def whole(self, data: bytes) -> bytes:
        """A whole answer (a ``rewrite_body``): read, handed on unchanged."""
        if data.find(_SIGNED) >= 0:
            with contextlib.suppress(orjson.JSONDecodeError):
                self._observe(orjson.loads(data))
        return data

    def lines(self, data: bytes) -> bytes:
        """Whole SSE lines of a streamed answer (a ``rewrite_chunk``): read, handed on."""
        if data.find(_SIGNED) < 0:
            return data
        for line in data.split(b"\n"):
            if line.startswith(b"data:") and line.find(_SIGNED) >= 0:
                with contextlib.suppress(orjson.JSONDecodeError):
                    self._observe(orjson.loads(line[5:]))
        return data

    def _observe(self, answer: Any) -> None:
        found: list[tuple[str, str]] = []
        for payload in answer if type(answer) is list else (answer,):  # (a JSON array of a stream)
            cands = payload.get("candidates") if type(payload) is dict else None
            for cand in cands if type(cands) is list else ():
                content = cand.get("content") if type(cand) is dict else None
                parts = content.get("parts") if type(content) is dict else None
                for part in parts if type(parts) is list else ():
                    if type(part) is not dict or type(call := part.get("functionCall")) is not dict:
                        continue
                    sig = part.get("thoughtSignature")
                    if type(sig) is str and sig and sig != SKIP_SIGNATURE:
                        found.append((call_key(call.get("name"), call.get("args")), sig))
        if not found:
            return
        if not self.id:
            self.id = os.urandom(8).hex()
        self.calls += found
        weight = sum(len(k) + len(s) for k, s in self.calls)
        self.cache.append(self.model, self.session, SignedCalls(self.id, tuple(self.calls), weight))

    def refused(self, status: int, body: bytes) -> bool:
        """An error answer: when it refuses a signature, the session's signatures go (one
        of them may be what was refused); True then."""
        if not invalid_signature(status, body):
            return False
        self.cache.delete(self.model, self.session)
        return True


# --------------------------------------------------------------------------- in Redis


def encode_turns(turns: tuple[SignedCalls, ...]) -> bytes:
    return orjson.dumps([[t.id, [list(c) for c in t.calls], t.weight] for t in turns])


def decode_turns(raw: bytes) -> tuple[SignedCalls, ...]:
    """The turns in ``raw``; an unreadable value is no turns (never an error)."""
    try:
        return tuple(
            SignedCalls(str(tid), tuple((str(k), str(s)) for k, s in calls), int(weight))
            for tid, calls, weight in orjson.loads(raw)
        )
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return ()
