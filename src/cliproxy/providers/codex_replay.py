"""Codex reasoning replay on the request path (CPA ``applyCodexReasoningReplayCache``,
``codexReasoningReplaySessionKey``, ``clearCodexReasoningReplayOnInvalidSignature``).

Which requests: a Claude Messages, Chat Completions or Gemini client's generation
translated for Codex. A Responses client (the Codex CLI, the SDKs) carries its reasoning items itself and
is never touched, neither restored into nor recorded from. (CPA replays for Claude
clients only; a Chat client has no place at all for encrypted reasoning, so it gets the
replay too, keyed per API key as CPA keys its prompt cache; so does a Gemini client, whose
``thought`` parts have no place for OpenAI's encrypted reasoning either.)

The session (:func:`session_key`): a Claude Code session and agent (shared with the Codex
prompt-cache key: ``replay_keys.claude_code_scope``), else the client's prompt cache key,
Codex window or session headers, else for a Chat client its API key; namespaced by a hash
of the caller's API key, so two callers never get each other's reasoning even when they
name the same session (CPA shares a session across client keys). A bare
``metadata.user_id`` names a user, not a conversation: no replay. The key does not name
the Codex credential: a failover to another account keeps the session's reasoning.

Three steps, as for the prompt-cache key: :func:`carry`, where the attempt's body is
made (``codex_cache.carry`` in ``pipeline_prepare.start_attempt``; the translated body has
lost the client's metadata), leaves the session in it under :data:`CARRIED`; :func:`restore`, in
``CodexProvider.build``, takes it out, puts the cached turns into ``input`` and gives the
:class:`Scope` that records the answer's final output
(``codex_stream.CompletedOutput``) and forgets the session when Codex refuses the
reasoning as invalid (:meth:`Scope.refused`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.formats import Format
from cliproxy.translate.codex_replay import CodexReplayCache, PrefixHashes, insert_turns, make_turn
from cliproxy.translate.replay_keys import caller_scoped, claude_code_scope, replay_session_key

__all__ = ["CARRIED", "Scope", "carry", "invalid_signature", "restore", "session_key"]

# private: the session on its way from start_attempt to build; never sent upstream
CARRIED = "_cliproxy_reasoning_replay"

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_CLAUDE, _OPENAI, _GEMINI = Format.CLAUDE, Format.OPENAI, Format.GEMINI

# what Codex says of reasoning it cannot use (CPA's ``thinking_signature_invalid``)
_INVALID = b"invalid_encrypted_content"
_INVALID_TEXT = b"invalid signature in thinking block"


def session_key(fmt: Format, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The replay session of a client request in ``fmt`` (``""``: no replay)."""
    if fmt is _CLAUDE:
        scope = claude_code_scope(body, headers)
        if scope:
            return caller_scoped(headers, scope)
        return replay_session_key(headers, body, chat_client=False)
    if fmt is _OPENAI or fmt is _GEMINI:  # no place for the reasoning: keyed per API key at least
        return replay_session_key(headers, body, chat_client=True)
    return ""


def carry(
    body: dict[str, Any], fmt: Format, client_body: Mapping[str, Any], headers: Mapping[str, str]
) -> None:
    """Leave the session of the client's request in the attempt's ``body`` (under
    :data:`CARRIED`) for :func:`restore` in ``build``."""
    if fmt is _CLAUDE or fmt is _OPENAI or fmt is _GEMINI:
        session = session_key(fmt, client_body, headers)
        if session:
            body[CARRIED] = session


def restore(cache: CodexReplayCache, body: dict[str, Any], model: str) -> Scope | None:
    """In ``build``: the carried session's turns into ``body["input"]`` (a new list, the
    old one never edited) and the request's :class:`Scope`; None when nothing was carried."""
    session = body.pop(CARRIED, None)
    if type(session) is not str or not session:
        return None
    items = body.get("input")
    if type(items) is not list:
        items = []
    prefix = PrefixHashes(items)
    turns = cache.get(model, session)
    if turns:
        restored = insert_turns(items, turns, prefix)
        if restored is not None:
            body["input"] = restored
    return Scope(cache, model, session, prefix)


def invalid_signature(data: bytes) -> bool:
    """Codex refused the request's reasoning (an error body or a failure event)."""
    return data.find(_INVALID) >= 0 or data.lower().find(_INVALID_TEXT) >= 0


class Scope:
    """One request's place in the cache: the answer's final output is recorded as the
    session's newest turn; a refusal of its reasoning forgets the session."""

    __slots__ = ("cache", "model", "prefix", "session")

    def __init__(self, cache: CodexReplayCache, model: str, session: str, prefix: PrefixHashes) -> None:
        self.cache = cache
        self.model = model
        self.session = session
        self.prefix = prefix  # the request's input as the client's history made it

    def completed(self, output: list[Any]) -> None:
        """A ``response.completed``'s output (made whole): kept for the next turn."""
        turn = make_turn(output, self.prefix.at(len(self.prefix.items)))
        if turn is not None:
            self.cache.append(self.model, self.session, turn)

    def refused(self, data: bytes) -> bool:
        """An error body or failure event: when it says the reasoning is invalid, the
        session's turns go (CPA), as they may be what was refused; True then."""
        if not invalid_signature(data):
            return False
        self.cache.delete(self.model, self.session)
        return True
