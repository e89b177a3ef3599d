"""xAI reasoning replay on the request path (CPA ``applyXAIReasoningReplayCacheRequired``,
``xaiReasoningReplayScopeFromRequest``, ``cacheXAIReasoningReplayFromCompleted``,
``clearXAIReasoningReplayAfterCompaction``; the cache is :mod:`cliproxy.translate.xai_replay`).

Which requests: a generation of a Claude Messages, Responses, Chat Completions or Gemini
client to a Grok model. (CPA replays for Claude and Responses clients; a Chat or Gemini
client has no place at all for encrypted reasoning, so it gets the replay too, as Codex's
replay gives it, keyed per API key.) A client on the Responses WebSocket whose message names a
``previous_response_id`` gets none: the conversation its socket holds already carries
that turn (CPA).

The session (:func:`session_key`): a Claude Code session and agent, else the downstream
socket of a Responses WebSocket (CPA's trusted ``execution:`` session), else the client's
prompt cache key, Codex window or session headers, else for a Chat or Gemini client its API key.
Every session but the socket's is namespaced by a hash of the caller's API key, and a
caller with no API key gets no replay: two callers never share reasoning, even naming
the same session. The key does not name the xAI credential: a failover keeps it.

Three steps, as for the session id (``providers.xai_session``): :func:`carry`, where the
attempt's body is made, leaves the session in it under :data:`CARRIED`; :func:`restore`,
in ``XAIProvider.build``, puts the cached turn's missing items into ``input`` and gives
the :class:`Scope` that records the answer's final output
(``codex_stream.CompletedOutput``); a compaction that succeeds forgets the session
(:meth:`Scope.compacted`), so the turn it summarised never comes back after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.formats import Format
from cliproxy.providers.codex_ws_wire import PREVIOUS_HEADER, SESSION_HEADER
from cliproxy.translate.codex_replay import insert_items
from cliproxy.translate.replay_keys import caller_scoped, claude_code_scope, replay_session_key
from cliproxy.translate.xai_replay import XAIReplayCache, filter_items, make_turn, turn_place

__all__ = ["CARRIED", "Scope", "carry", "restore", "session_key"]

# private: the session on its way from start_attempt to build; never sent upstream
CARRIED = "_cliproxy_xai_reasoning_replay"

# read per request: globals, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_CLAUDE, _OPENAI, _RESPONSES, _GEMINI = Format.CLAUDE, Format.OPENAI, Format.RESPONSES, Format.GEMINI


def session_key(fmt: Format | None, body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The replay session of a client request in ``fmt`` (``""``: no replay)."""
    if fmt is not _CLAUDE and fmt is not _OPENAI and fmt is not _RESPONSES and fmt is not _GEMINI:
        return ""
    socket = (headers.get(SESSION_HEADER) or "").strip()
    if socket and headers.get(PREVIOUS_HEADER):
        return ""  # the socket's conversation holds the turn already (CPA)
    if fmt is _CLAUDE and (scope := claude_code_scope(body, headers)):
        return caller_scoped(headers, scope)
    if socket:  # ours, random per socket: no caller can name another's (CPA's execution session)
        return "execution:" + socket
    return replay_session_key(headers, body, chat_client=fmt is _OPENAI or fmt is _GEMINI)


def carry(
    body: dict[str, Any], fmt: Format | None, client_body: Mapping[str, Any], headers: Mapping[str, str]
) -> None:
    """Leave the session of the client's request in the attempt's ``body`` (under
    :data:`CARRIED`) for :func:`restore` in ``build``."""
    if session := session_key(fmt, client_body, headers):
        body[CARRIED] = session


def restore(cache: XAIReplayCache, body: dict[str, Any], model: str) -> Scope | None:
    """In ``build``: the carried session's cached turn, what of it ``input`` lacks, into
    ``body["input"]`` (a new list, the old one never edited); the request's :class:`Scope`,
    or None when nothing was carried."""
    session = body.pop(CARRIED, None)
    if type(session) is not str or not session:
        return None
    items = body.get("input")
    turns = cache.get(model, session)
    if turns and type(items) is list:
        cached = turns[-1].items
        missing = filter_items(items, cached)
        if missing:
            body["input"] = insert_items(items, missing, turn_place(items, cached))
    return Scope(cache, model, session)


class Scope:
    """One request's place in the cache: its answer's final output replaces the session's
    turn (an output with nothing to replay forgets it)."""

    __slots__ = ("cache", "model", "session")

    def __init__(self, cache: XAIReplayCache, model: str, session: str) -> None:
        self.cache = cache
        self.model = model
        self.session = session

    def completed(self, output: list[Any]) -> None:
        """A ``response.completed``'s output (made whole)."""
        turn = make_turn(output)
        if turn is None or not self.cache.append(self.model, self.session, turn):
            # a turn without Grok reasoning or calls: the last one must not come back after it
            self.cache.delete(self.model, self.session)

    def refused(self, data: bytes) -> bool:
        """A failure event: nothing is forgotten (CPA clears xAI's replay only after a
        turn completes or a compaction succeeds)."""
        return False

    def compacted(self, data: bytes) -> bytes:
        """A ``/responses/compact`` answer that succeeded (a ``rewrite_body`` hook):
        the session's turn goes, the answer stays as it is."""
        self.cache.delete(self.model, self.session)
        return data
