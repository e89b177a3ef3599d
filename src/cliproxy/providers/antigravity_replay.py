"""Antigravity reasoning replay on the request path (CPA
``prepareAntigravityGeminiReasoningReplayPayload``, ``antigravityReasoningReplayScopeFromRequest``,
``clearAntigravityReasoningReplayOnInvalidSignature``).

Which requests: generations of Antigravity's Gemini-family models (``gemini``, ``flash``
or ``agent`` in the name, no Claude: ``antigravity_turns.applies_to``), whatever the
client's format. A client that carries its signatures itself keeps them (a part's own
signature is never replaced); one that drops them gets them back.

The session (:func:`session_key`), in CPA's order: a Claude Code session and agent (with
a hash of the system prompt, so a resumed transcript under a new title is another lane),
the ``Session-Id`` header, the body's ``session_id`` or ``metadata.session_id``, the
Responses WebSocket's session, the ``prompt_cache_key``, the conversation's derived
identity (``credentials.derived_session``); else, in ``build``, the ``sessionId`` the
envelope carries. Namespaced by a hash of the caller's API key, so two callers never get
each other's signatures even when they name the same session (CPA shares one across
client keys); a proxy without client keys has one caller. The key does not name the
credential: a failover to another account keeps the session's chain.

Three steps: :func:`carry`, where the attempt's body is made
(``pipeline_prepare.start_attempt``: the body loses the client's headers and fields),
leaves the session in it under :data:`CARRIED`; :func:`restore`, in
``AntigravityProvider.build`` once the request is final, puts the chain back and gives
the :class:`Scope` that records the answer (the request's ``rewrite_body`` /
``rewrite_chunk``) and forgets the session when Antigravity refuses a signature
(:meth:`Scope.refused`, from ``classify``).

A history whose calls and responses still do not pair once the chain is back (a Claude
``tool_result`` whose ``tool_use`` is neither in the request nor in the session, say) is
refused with a 400 before it is sent, for a generation and a count alike
(:func:`check_pairing`; CPA's ``invalid Gemini function call history``).

Deliberate differences: a restore that would leave calls and responses unpaired is not
sent: the request goes as the client made it, and when the client had them right the
session is forgotten (CPA answers 400, and forgets in that case). CPA's Claude-facing
call ids (``cpa_gemini_...``) are not made: a Claude client carries its signatures in its
thinking blocks (``translate.carriers``), and a call put back before a result that kept
Cloud Code's own id gives that result its name (the one derived from the id was a
stand-in).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.derived_session import caller_scope
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.providers.antigravity_turns import applies_to, normalize_response_turns
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.providers.gemini import lead_with_user
from cliproxy.providers.identity import header
from cliproxy.translate.antigravity_replay import (
    History,
    pairing_ok,
    pairing_problem,
    sign_first_calls,
)
from cliproxy.translate.antigravity_replay import (
    restore as restore_items,
)
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache, Recorder
from cliproxy.translate.replay_keys import caller_key, claude_code_scope, short_key

__all__ = ["CARRIED", "Scope", "carry", "check_pairing", "invalid_signature", "restore", "session_key"]

# private: the session on its way from start_attempt to build; never sent upstream
CARRIED = "_cliproxy_antigravity_replay"

_CLAUDE = Format.CLAUDE
_SIGNATURE = b"signature"  # Antigravity's refusal of a signature names it (any case)


def session_key(fmt: Format, body: Mapping[str, Any], headers: Mapping[str, str], derived: str = "") -> str:
    """The replay session the client's request names, namespaced by its caller (``""``:
    none named; ``build`` falls back on the envelope's ``sessionId``). ``derived``: the
    conversation's derived identity, when the caller worked it out already."""
    key = _named(fmt, body, headers) or (f"derived:{derived}" if derived else "")
    return scoped(headers, key) if key else ""


def scoped(headers: Mapping[str, str], key: str) -> str:
    """``key`` under the caller's namespace (a proxy without client keys: one caller)."""
    return f"caller:{caller_scope(caller_key(headers))[:16] or '-'}:{short_key(key)}"


def _named(fmt: Format, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    if fmt is _CLAUDE and (scope := claude_code_scope(body, headers)):
        lane = _system_lane(body.get("system"))
        return f"{scope}:context:{lane}" if lane else scope
    if value := header(headers, "session-id").strip():
        return "responses:" + value
    meta = body.get("metadata")
    for named in (body.get("session_id"), meta.get("session_id") if type(meta) is dict else None):
        if type(named) is str and named.strip():
            return "responses:" + named.strip()
    if value := header(headers, SESSION_HEADER.lower()).strip():
        return "execution:" + value
    pck = body.get("prompt_cache_key")
    if type(pck) is str and pck.strip():
        return "prompt-cache:" + pck.strip()
    return ""


def _system_lane(system: Any) -> str:
    """A hash of a Claude system prompt, ``cache_control`` markers left out."""
    if system is None:
        return ""
    try:
        raw = orjson.dumps(_without_cache_control(system), option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return ""
    return hashlib.sha256(raw).hexdigest()[:32]


def _without_cache_control(value: Any) -> Any:
    if type(value) is dict:
        return {
            k: _without_cache_control(v) for k, v in value.items() if k.strip().lower() != "cache_control"
        }
    if type(value) is list:
        return [_without_cache_control(v) for v in value]
    return value


def carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    model: str,
    derived: str,
) -> None:
    """Leave ``[session, model]`` of the client's request in the attempt's ``body``
    (under :data:`CARRIED`) for :func:`restore` in ``build`` (and ``prepare``, which
    fetches a session another worker recorded); nothing for a model without replay."""
    if applies_to(model) and (session := session_key(fmt, client_body, headers, derived)):
        body[CARRIED] = [session, model]


def restore(
    cache: AntigravityReplayCache,
    request: dict[str, Any],
    *,
    model: str,
    session: str,
    headers: Mapping[str, str],
    session_id: str = "",
) -> Scope | None:
    """In ``build``, on the final Gemini request (inside its envelope, ``sessionId`` set;
    a count's request has none and gives the one its generation would carry as
    ``session_id``): the session's chain put back into ``request["contents"]`` (a new
    list) and the request's :class:`Scope`; None for a model without replay or a request
    with no session at all."""
    if not applies_to(model):
        return None
    if not session:
        sid = request.get("sessionId") or session_id
        if type(sid) is not str or not sid.strip():
            return None
        session = scoped(headers, "session:" + sid.strip().lstrip("-"))
    contents = request.get("contents")
    if type(contents) is not list:
        return None
    read = cache.read(model, session)
    history = History(request, contents)
    if read.chain:
        restored = restore_items(request, history, read.chain)
        if restored is not None:
            restored = _finished(request, restored)
            if pairing_ok(restored):
                request["contents"] = restored
                history = History(request, restored)
            elif pairing_ok(contents):  # the chain broke what the client had right: forget it
                cache.clear_if_unchanged(read)
                read = cache.read(model, session)
    return Scope(cache, Recorder(cache, read, history))


def check_pairing(request: Mapping[str, Any], model: str) -> None:
    """Refuse (400) the final request of a Gemini-family model whose calls and responses
    do not pair (:func:`~cliproxy.translate.antigravity_replay.pairing_problem`): Cloud
    Code would refuse it, CPA refuses it before sending."""
    contents = request.get("contents")
    if not applies_to(model) or type(contents) is not list:
        return
    if (problem := pairing_problem(contents)) is not None:
        raise RequestError(f"invalid Gemini function call history: {problem}", param="contents")


def _finished(request: dict[str, Any], contents: list[Any]) -> list[Any]:
    """Restored contents made valid again as ``build`` made the client's (responses in
    their calls' order, a user turn first, every first call signed)."""
    body = {"contents": contents}
    normalize_response_turns(body)
    lead_with_user(body)
    out: list[Any] = body["contents"]
    return sign_first_calls(out) or out


def _unwrapped(answer: Any) -> Any:
    """Cloud Code's answer object out of its ``{"response": ...}`` envelope."""
    if type(answer) is dict:
        inner = answer.get("response")
        if type(inner) is dict:
            return inner
    return answer


def invalid_signature(status: int, body: bytes) -> bool:
    """Antigravity refused a request's signature (CPA: a 400 that names a signature)."""
    return status == 400 and body.lower().find(_SIGNATURE) >= 0


class Scope:
    """One request's place in the cache: its answer recorded (the request's rewrite hooks,
    which hand the answer on unchanged), its refusal forgetting the session."""

    __slots__ = ("cache", "recorder")

    def __init__(self, cache: AntigravityReplayCache, recorder: Recorder) -> None:
        self.cache = cache
        self.recorder = recorder

    def whole(self, data: bytes) -> bytes:
        """A whole answer, in its envelope or out of it."""
        with contextlib.suppress(orjson.JSONDecodeError):
            self.recorder.observe(_unwrapped(orjson.loads(data)))
        return data

    def lines(self, data: bytes) -> bytes:
        """Whole SSE lines of a streamed answer, each payload in its envelope or out of
        it (alone, this hook reads them as they came: the reader unwraps them once)."""
        for line in data.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            try:
                self.recorder.observe(_unwrapped(orjson.loads(line[5:])))
            except orjson.JSONDecodeError:
                continue
        return data

    def refused(self, status: int, body: bytes) -> bool:
        """An error answer: when it refuses a signature, the session's chain goes (it may
        be what was refused: CPA); True then."""
        if not invalid_signature(status, body):
            return False
        self.cache.clear_if_unchanged(self.recorder.read)
        return True
