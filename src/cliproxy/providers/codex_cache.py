"""Codex prompt-cache keys for clients that bring none (CPA ``cacheHelper``).

The ChatGPT backend finds a conversation's prompt cache by ``prompt_cache_key`` (body)
and ``Session-Id`` (header). The Codex CLI sends both; Claude Code and Chat Completions
clients send neither, so without a key of ours every turn starts cold: slower answers
and more of the plan's limits spent. CPA derives one, and so does :func:`derive`:

* a Claude client: its Claude Code session (``X-Claude-Code-Session-Id``, else the
  session part of ``metadata.user_id``), per agent (``X-Claude-Code-Agent-Id``, ``main``
  for the root agent: a sub-agent's prompts share no prefix with its parent's) and per
  upstream model. A bare ``user_id`` names a user, not a conversation: no key;
* a Chat Completions client: its own ``prompt_cache_key``;
* then, for any client without a key: its downstream socket on the Responses WebSocket
  (CPA's execution session), else the identity derived from its conversation's root
  (:mod:`cliproxy.credentials.derived_session`, CPA's ``ProviderSessionUUID("codex")``);
* a Chat Completions client with none of these (no user input yet): one per proxy API key.

Each derived key is a name-based UUID (SHA-1 in the OID namespace, CPA's names), stable
across turns and restarts; an API key only ever goes upstream hashed this way.

Why two steps: ``CodexProvider.build`` sees the translated Codex body, which no longer
has the client's format, ``metadata`` or ``prompt_cache_key`` (the reasoning replay's
session, ``providers.codex_replay``, is carried the same way, by the same call).
:func:`carry`, where the attempt's body is made (``pipeline_prepare.start_attempt``),
leaves the derived key in that body under :data:`CARRIED`; :func:`apply`, in ``build`` after
``codex.identity-confuse`` (which, as in CPA, remaps only a key the client sent), takes
it out again, sets ``prompt_cache_key`` when the body has none (a Codex CLI's own key
stays) and names the session in a header when the client named none.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cliproxy.credentials.derived_session import provider_session_uuid, session_identity
from cliproxy.formats import Format
from cliproxy.ids import oid_uuid
from cliproxy.providers import codex_replay
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.translate.replay_keys import caller_key, claude_code_scope

__all__ = ["CARRIED", "apply", "carry", "claude_code_key", "derive"]

# private: the derived key on its way from start_attempt to build; never sent upstream
CARRIED = "_cliproxy_prompt_cache_key"

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_CLAUDE, _OPENAI = Format.CLAUDE, Format.OPENAI
_SESSION_NAMES = frozenset({"session-id", "session_id"})


def carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
) -> None:
    """Leave the key :func:`derive` finds for the client's request in the attempt's
    ``body`` (under :data:`CARRIED`), for :func:`apply` in ``build``; and the session of
    the reasoning replay, which ``build`` needs for the same reason
    (:func:`cliproxy.providers.codex_replay.carry`)."""
    key = derive(fmt, client_body, client_headers, model)
    if key:
        body[CARRIED] = key
    codex_replay.carry(body, fmt, client_body, client_headers)


def derive(fmt: Format, body: Mapping[str, Any], headers: Mapping[str, str], model: str) -> str:
    """The prompt-cache key CPA derives for a client request in ``fmt`` to upstream
    ``model``; ``""`` when it has none. A Responses client's own key needs no deriving:
    the translated body keeps it."""
    if fmt is _CLAUDE:
        key = claude_code_key(body, headers, model)
    elif fmt is _OPENAI:
        own = body.get("prompt_cache_key")  # (the translation to Codex drops it; CPA carries it)
        key = own.strip() if type(own) is str else ""
    else:
        key = ""
    if key:
        return key
    downstream = headers.get(SESSION_HEADER) or ""  # the Responses WebSocket's downstream socket
    derived = "" if downstream else session_identity(fmt, body, headers, caller_key(headers))
    if key := provider_session_uuid("codex", downstream, derived):
        return key
    if fmt is _OPENAI and (api_key := caller_key(headers)):
        return _api_key_uuid(api_key)
    return ""


def claude_code_key(body: Mapping[str, Any], headers: Mapping[str, str], model: str) -> str:
    """One key per Claude Code session, agent and upstream model (CPA
    ``ClaudeCodePromptCache``); ``""`` without a session."""
    model = model.strip()
    scope = claude_code_scope(body, headers)
    return _claude_uuid(model, scope) if model and scope else ""


def apply(body: dict[str, Any], headers: dict[str, str], *, websocket: bool = False) -> None:
    """In ``build``: the carried key into ``prompt_cache_key`` unless the body has a key
    already, and the body's key as the session header unless one is set (the client's
    own, or ``codex.identity-confuse``'s): ``Session-Id`` over HTTP, ``session_id`` and
    ``Conversation_id`` on a WebSocket handshake (CPA)."""
    carried = body.pop(CARRIED, None)
    key = body.get("prompt_cache_key")
    if type(key) is str and key.strip():
        key = key.strip()
    elif carried:
        key = body["prompt_cache_key"] = carried
    else:
        return
    for name in headers:
        if name.lower() in _SESSION_NAMES:
            return
    if websocket:
        headers["session_id"] = key
        headers.setdefault("Conversation_id", key)
    else:
        headers["Session-Id"] = key


# a session's turns ask for the same key again: each is hashed once (bounded caches)
@lru_cache(maxsize=4096)
def _claude_uuid(model: str, scope: str) -> str:
    return oid_uuid("\x00".join(("cli-proxy-api:codex:claude-code", model, scope)))


@lru_cache(maxsize=1024)
def _api_key_uuid(api_key: str) -> str:
    return oid_uuid("cli-proxy-api:codex:prompt-cache:" + api_key)
