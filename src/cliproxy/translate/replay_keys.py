"""The keys of the replay caches, as CPA makes them (:mod:`cliproxy.translate.replay`).

:func:`replay_model_family`: the Claude credential's id hash and base model.
:func:`replay_session_key`: the client's session (prompt cache key, Codex window, session
headers, or for Chat clients their API key), namespaced by a hash of the caller's API key
so two callers never share hidden reasoning. :func:`caller_key`: the caller's API key as
it sent it. :func:`claude_code_scope`: a Claude Code session and agent (the Codex
prompt-cache key and the Codex reasoning replay start from it). Pure functions of the
request's headers and body, remembered where the same values come again (a credential
and model, an API key).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.ids import oid_uuid

__all__ = [
    "caller_key",
    "caller_scoped",
    "claude_code_scope",
    "replay_model_family",
    "replay_session_key",
    "short_key",
]


@lru_cache(maxsize=4096)
def replay_model_family(credential_id: str, model: str) -> str:
    """``claude:<16 hex of sha256(credential id)>:<base model>`` (CPA's Claude replay family;
    a pure function of two strings, remembered per credential and model)."""
    base = model.strip()
    if not base:
        return ""
    ident = credential_id.strip()
    if not ident:
        return "claude:" + base
    return f"claude:{hashlib.sha256(ident.encode()).hexdigest()[:16]}:{base}"


def caller_key(headers: Mapping[str, str]) -> str:
    """The client's own API key as it sent it (Bearer, x-api-key, x-goog-api-key)."""
    return _caller_key({k.lower(): v for k, v in headers.items()})


def _caller_key(low: Mapping[str, str]) -> str:
    auth = low.get("authorization", "").strip()
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return (low.get("x-api-key") or low.get("x-goog-api-key") or "").strip()


_CASELESS = (CIMultiDictProxy, CIMultiDict)


def caller_scoped(headers: Mapping[str, str], key: str) -> str:
    """``key`` namespaced by a hash of the caller's API key, as :func:`replay_session_key`
    namespaces its own (two callers naming one session never share it); ``""`` without a
    key or a caller key (no replay)."""
    api_key = caller_key(headers) if key else ""
    return f"caller:{_caller_hash(api_key)}:{key}" if api_key else ""


@lru_cache(maxsize=1024)
def _caller_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@lru_cache(maxsize=1024)
def _chat_session(api_key: str) -> str:
    seed = "cli-proxy-api:codex:prompt-cache:" + api_key
    return "prompt-cache:" + oid_uuid(seed)


def replay_session_key(headers: Mapping[str, str], body: Mapping[str, Any], *, chat_client: bool) -> str:
    """CPA's replay session key, namespaced by the caller's API key ("" = no replay)."""
    # names compared in lower case: the servers' headers do that themselves (and give the
    # first of repeated names, as Go's Header.Get does); any other mapping, one pass here
    low = headers if type(headers) in _CASELESS else {k.lower(): v for k, v in headers.items()}
    # the readers are called only when a key they read is there (most requests have none)
    key = _body_session(body) if "prompt_cache_key" in body or "client_metadata" in body else ""
    if not key:
        for name in _SESSION_HEADERS:
            if name in low:
                key = _header_session(low)
                break
    auth = low.get("authorization", "").strip()  # _caller_key, inline
    if auth.lower().startswith("bearer "):
        api_key = auth[7:].strip()
    else:
        api_key = (low.get("x-api-key") or low.get("x-goog-api-key") or "").strip()
    if not key and chat_client and api_key:
        key = _chat_session(api_key)
    if not key or not api_key:
        return ""
    return f"caller:{_caller_hash(api_key)}:{short_key(key)}"


def _body_session(body: Mapping[str, Any]) -> str:
    pck = body.get("prompt_cache_key")
    if isinstance(pck, str) and pck.strip():
        return "prompt-cache:" + pck.strip()
    meta = body.get("client_metadata")
    if isinstance(meta, dict):
        window = meta.get("x-codex-window-id")
        if isinstance(window, str) and window.strip():
            return "window:" + window.strip()
        turn = meta.get("x-codex-turn-metadata")
        if isinstance(turn, str) and turn.strip():
            return _turn_metadata_session(turn)
    return ""


_SESSION_HEADERS = (
    "x-codex-turn-metadata",
    "x-codex-window-id",
    "session_id",
    "session-id",
    "conversation_id",
)


def _header_session(low: Mapping[str, str]) -> str:
    """The session a client's headers name; ``low``: the headers under lower-case names."""
    for name in _SESSION_HEADERS:
        if name in low:
            break
    else:
        return ""  # none of them: the common case costs one look per name
    if (turn := low.get("x-codex-turn-metadata", "").strip()) and (key := _turn_metadata_session(turn)):
        return key
    if window := low.get("x-codex-window-id", "").strip():
        return "window:" + window
    for name in ("session_id", "session-id"):
        if value := low.get(name, "").strip():
            return "session-id:" + value
    if value := low.get("conversation_id", "").strip():
        return "conversation_id:" + value
    return ""


def _turn_metadata_session(raw: str) -> str:
    try:
        meta = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(meta, dict):
        return ""
    for field_name, prefix in (("prompt_cache_key", "prompt-cache:"), ("window_id", "window:")):
        value = meta.get(field_name)
        if isinstance(value, str) and value.strip():
            return prefix + value.strip()
    return ""


# Claude Code's older user_id: user_<hash>_account_<uuid>_session_<uuid>
_LEGACY_USER_SESSION = re.compile(r"_session_([a-f0-9-]+)$")
_MAIN_AGENT = "main"
_SCOPE_PART = 256  # bytes of a session or agent id kept as sent in a scope


def claude_code_scope(body: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """``claude:<session>:agent:<agent>`` for a Claude Code request (CPA
    ``ClaudeCodeExecutionScope``): the session from ``X-Claude-Code-Session-Id`` or
    ``metadata.user_id``, the agent from ``X-Claude-Code-Agent-Id`` (``main`` for the root
    agent: a sub-agent's turns are not its parent's); ``""`` without a session, as for a
    bare ``user_id``, which names a user, not a conversation. ``headers``: the server's
    (names compared in any case)."""
    session = (headers.get("x-claude-code-session-id") or "").strip() or _metadata_session(body)
    if not session:
        return ""
    agent = (headers.get("x-claude-code-agent-id") or "").strip() or _MAIN_AGENT
    return f"claude:{short_key(session)}:agent:{short_key(agent)}"


def short_key(value: str) -> str:
    """``value``, or its SHA-256 when longer than :data:`_SCOPE_PART` bytes: a scope or a
    session keys memos and replay sessions, whose bounds count entries or values, not keys
    (we differ from CPA, which keeps any length; clients send UUIDs or short names)."""
    # (a header's bytes that are not UTF-8 come as surrogates: counted and hashed as they are)
    if len(value) <= _SCOPE_PART and len(value.encode("utf-8", "surrogatepass")) <= _SCOPE_PART:
        return value
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _metadata_session(body: Mapping[str, Any]) -> str:
    """The session in Claude Code's ``metadata.user_id``: the ``_session_<id>`` suffix of
    the older form, or ``session_id`` of the JSON one; ``""`` for any other user id."""
    meta = body.get("metadata")
    user_id = meta.get("user_id") if type(meta) is dict else None
    if type(user_id) is not str or not user_id:
        return ""
    if match := _LEGACY_USER_SESSION.search(user_id):
        return match.group(1)
    if not user_id.startswith("{"):
        return ""
    try:
        parsed = orjson.loads(user_id)
    except orjson.JSONDecodeError:
        return ""
    session = parsed.get("session_id") if type(parsed) is dict else None
    return session.strip() if type(session) is str else ""
