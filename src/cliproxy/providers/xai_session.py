"""xAI's prompt-cache identity for a client's conversation (CPA
``xaiResolveComposerSessionID``).

xAI finds a conversation's prompt cache by ``prompt_cache_key`` (body) and
``x-grok-conv-id`` (header); CPA sends one session id as both. Which one, first found:

* the client's downstream socket on the Responses WebSocket (CPA's execution session),
  as it is;
* the client's own ``prompt_cache_key`` (a Codex CLI's, a Chat client's), trimmed;
* for a client that names no session, a UUID of its conversation's derived identity
  (:mod:`cliproxy.credentials.derived_session`, CPA's ``DerivedSessionUUID("xai")``);
* on a ``grok-composer-*`` model, which must not share a conversation across sessions:
  the Claude Code session's key, the same one a Codex upstream gets
  (:func:`codex_cache.claude_code_key`), else a fresh UUID for this request alone.

Other models without any of these get neither field (a request that names its session
only in a way xAI does not read, such as Claude Code's, on a model other than composer). The translated body has lost the
client's format, ``metadata`` and ``prompt_cache_key``, so :func:`carry` finds the id
where the attempt's body is made (``pipeline_prepare``) and :func:`apply`, in
``XAIProvider.build``, sets both fields from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cliproxy.credentials.derived_session import provider_session_uuid, session_identity
from cliproxy.formats import Format
from cliproxy.providers import xai_replay
from cliproxy.providers.codex_cache import CARRIED, claude_code_key
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.translate.replay_keys import caller_key

__all__ = ["CONV_HEADER", "apply", "carry", "session_id"]

CONV_HEADER = "x-grok-conv-id"
_COMPOSER = "grok-composer-"


def carry(
    body: dict[str, Any],
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    fmt: Format | None = None,
) -> None:
    """Leave :func:`session_id` for the client's request in the attempt's ``body``
    (under ``codex_cache.CARRIED``), for :func:`apply` in ``build``; and the session of
    the reasoning replay, which ``build`` needs for the same reason
    (:func:`cliproxy.providers.xai_replay.carry`)."""
    if session := session_id(client_body, client_headers, model, fmt):
        body[CARRIED] = session
    xai_replay.carry(body, fmt, client_body, client_headers)


def session_id(
    client_body: Mapping[str, Any], client_headers: Mapping[str, str], model: str, fmt: Format | None = None
) -> str:
    """The session id CPA sends xAI for this client request; ``""`` for none. ``fmt``: the
    client's format, which the derived identity needs (without it, none is derived)."""
    if downstream := (client_headers.get(SESSION_HEADER) or "").strip():
        return downstream
    own = client_body.get("prompt_cache_key")
    if type(own) is str and (own := own.strip()):
        return own
    if fmt is not None and (
        derived := session_identity(fmt, client_body, client_headers, caller_key(client_headers))
    ):
        return provider_session_uuid("xai", "", derived)
    if not model.strip().lower().startswith(_COMPOSER):
        return ""
    return claude_code_key(client_body, client_headers, model) or str(uuid.uuid4())


def apply(body: dict[str, Any], headers: dict[str, str]) -> None:
    """In ``build``: the carried id as ``prompt_cache_key`` and ``x-grok-conv-id``."""
    session = body.pop(CARRIED, None)
    if session:
        body["prompt_cache_key"] = session
        headers[CONV_HEADER] = session
