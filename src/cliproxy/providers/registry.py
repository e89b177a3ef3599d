"""Which provider serves a credential: one explicit list of the built-in providers.

``provider_for(cred)`` looks the credential's provider key up; OpenAI-compatibility
entries (keys ``openai-compatible-<name>``) all share :class:`OpenAICompatProvider`, and
``gemini-interactions`` API keys use the Gemini provider for now.
"""

from __future__ import annotations

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.base import Provider
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.gemini import GeminiProvider
from cliproxy.providers.kimi import KimiProvider
from cliproxy.providers.openai_compat import OpenAICompatProvider
from cliproxy.providers.vertex import VertexProvider
from cliproxy.providers.xai import XAIProvider

__all__ = ["BUILTIN_PROVIDERS", "get", "provider_for"]

BUILTIN_PROVIDERS: tuple[Provider, ...] = (
    OpenAICompatProvider(),
    ClaudeProvider(),
    CodexProvider(),
    GeminiProvider(),
    VertexProvider(),
    XAIProvider(),
    AntigravityProvider(),
    KimiProvider(),
)

_BY_KEY: dict[str, Provider] = {p.key: p for p in BUILTIN_PROVIDERS}
_ALIASES = {"gemini-interactions": "gemini"}
_COMPAT_PREFIX = "openai-compatible-"


def get(key: str) -> Provider | None:
    """The provider for a provider key (``claude``, ``openai-compatible-x``...), or None."""
    key = key.strip().lower()
    key = _ALIASES.get(key, key)
    if key.startswith(_COMPAT_PREFIX):
        key = OpenAICompatProvider.key
    return _BY_KEY.get(key)


def provider_for(cred: Credential) -> Provider:
    """The provider that serves ``cred``. Raises ``KeyError`` for an unknown provider key."""
    found = get(cred.provider)
    if found is None and cred.compat_name:
        found = _BY_KEY[OpenAICompatProvider.key]
    if found is None:
        raise KeyError(f"no provider for credential type {cred.provider!r}")
    return found
