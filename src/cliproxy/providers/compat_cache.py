"""``openai-compatibility[].support-prompt-cache-key``: a ``prompt_cache_key`` for an
OpenAI-compatible upstream that routes its prompt cache by it (CPA
``OpenAICompatExecutor.applyPromptCacheKey``).

Off by default: most OpenAI-compatible servers ignore the field, some refuse unknown
fields. On, a generation gets, in this order:

1. the client's own ``prompt_cache_key`` (it wins over a payload rule's value too);
2. a ``prompt_cache_key`` the attempt's body has already (a payload rule set it);
3. for a Claude client, its Claude Code session's key (:func:`codex_cache.claude_code_key`,
   per session, agent and upstream model);
4. a UUID of the provider, upstream model, client format and the conversation: the
   Responses WebSocket's session, else the identity derived from the conversation's root
   (:mod:`cliproxy.credentials.derived_session`, which folds in the caller's API key).

Nothing when none of these exists (a request that names no session and has no user input).
``/responses/compact`` and the Images API get no key.

Two steps, as :mod:`codex_cache`: :func:`carry` runs where the attempt's body is made, from
the client's request (which the translated body no longer shows), and leaves what it found
under :data:`CARRIED`; :func:`apply` in ``build``, after the payload rules, decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cliproxy.credentials.derived_session import provider_session_uuid, session_identity
from cliproxy.formats import Format
from cliproxy.ids import oid_uuid
from cliproxy.providers.codex_cache import claude_code_key
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.translate.replay_keys import caller_key

__all__ = ["ATTRIBUTE", "CARRIED", "apply", "carry", "derive"]

ATTRIBUTE = "support_prompt_cache_key"  # the credential attribute the config entry sets
# private: (the client's own key or "", the derived key or "") on its way to build
CARRIED = "_cliproxy_compat_prompt_cache"
_DEFAULT_PROVIDER = "openai-compatibility"


def carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    compat_name: str,
) -> None:
    """Leave the client's own key, else the derived one, in the attempt's ``body``."""
    own = client_body.get("prompt_cache_key")
    if type(own) is str and (own := own.strip()):
        body[CARRIED] = (own, "")
    elif derived := derive(fmt, client_body, client_headers, model, compat_name):
        body[CARRIED] = ("", derived)


def derive(
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    compat_name: str,
) -> str:
    """The key of rules 3 and 4 above, or ``""``."""
    if fmt is Format.CLAUDE and (key := claude_code_key(client_body, client_headers, model)):
        return key
    provider = compat_name.strip().lower() or _DEFAULT_PROVIDER
    execution = client_headers.get(SESSION_HEADER) or ""
    derived = (
        "" if execution else session_identity(fmt, client_body, client_headers, caller_key(client_headers))
    )
    session = provider_session_uuid(provider, execution, derived)
    return _key(provider, model.strip().lower(), str(fmt), session) if session else ""


def apply(body: dict[str, Any]) -> None:
    """In ``build``: the carried key into the body, unless the client had none and the
    body has one already (a payload rule's)."""
    own, derived = body.pop(CARRIED)
    if own:
        body["prompt_cache_key"] = own
        return
    present = body.get("prompt_cache_key")
    if not (type(present) is str and present.strip()):
        body["prompt_cache_key"] = derived


@lru_cache(maxsize=4096)
def _key(provider: str, model: str, fmt: str, session: str) -> str:
    name = "\x00".join(("cli-proxy-api:openai-compat:prompt-cache", provider, model, fmt, session))
    return oid_uuid(name)
