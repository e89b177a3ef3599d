"""Which provider serves a credential: one explicit list of the built-in providers.

:class:`Providers` is the set one service uses, built when the service starts: each
subscription provider reads its endpoint URLs then (the ``CLIPROXY_OAUTH_<PROVIDER>_API``
and ``_BASE`` overrides), so a request never reads the environment. ``provider_for(cred)``
looks the credential's provider key up; OpenAI-compatibility entries (keys
``openai-compatible-<name>``) all share :class:`OpenAICompatProvider`, and
``gemini-interactions`` API keys are served by :class:`InteractionsProvider` (the native
Interactions API). A credential of a type no built-in serves goes to the OpenAI-compatible
provider too when it names such an endpoint (``credentials.compat_auth``, CPA's
``hasNativeOpenAICompatExecutorConfig``) and has a ``base_url``; any other is served by no
provider (:class:`NoProviderError`).

The module-level :func:`get` and :func:`provider_for` answer from a set built at import,
for callers that only ask which provider a key names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cliproxy.credentials.compat_auth import native_compat
from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.providers.aistudio import AIStudioProvider
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.base import Provider
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.gemini import GeminiProvider, InteractionsProvider
from cliproxy.providers.kimi import KimiProvider
from cliproxy.providers.openai_compat import OpenAICompatProvider
from cliproxy.providers.vertex import VertexProvider
from cliproxy.providers.xai import XAIProvider

__all__ = ["BUILTIN_PROVIDERS", "NoProviderError", "Providers", "builtin_providers", "get", "provider_for"]

_ALIASES: dict[str, str] = {}
_COMPAT_PREFIX = "openai-compatible-"


class NoProviderError(UpstreamError, KeyError):
    """No provider serves a credential's type (also a ``KeyError``: the key is unknown)."""


def builtin_providers() -> tuple[Provider, ...]:
    """A new instance of every built-in provider, reading the endpoint overrides now."""
    return (
        OpenAICompatProvider(),
        ClaudeProvider(),
        CodexProvider(),
        GeminiProvider(),
        InteractionsProvider(),
        VertexProvider(),
        XAIProvider(),
        AntigravityProvider(),
        KimiProvider(),
        AIStudioProvider(),  # through a /v1/ws relay client (cliproxy.relay)
    )


class Providers:
    """The providers of one service, by key (the built-ins unless ``providers`` is given)."""

    def __init__(self, providers: Iterable[Provider] | None = None) -> None:
        self.all = tuple(builtin_providers() if providers is None else providers)
        self._by_key: dict[str, Provider] = {p.key: p for p in self.all}
        # a credential's provider key as written -> its provider (``get`` depends on the key alone)
        self._found: dict[str, Provider] = {}
        self._config: Any = None

    def configure(self, config: Any) -> None:
        """Hand every provider the config snapshot (at start and after each reload)."""
        self._config = config
        for provider in self.all:
            provider.configure(config)

    def get(self, key: str) -> Provider | None:
        """The provider for a provider key (``claude``, ``openai-compatible-x``...), or None."""
        key = key.strip().lower()
        key = _ALIASES.get(key, key)
        if key.startswith(_COMPAT_PREFIX):
            key = OpenAICompatProvider.key
        return self._by_key.get(key)

    def provider_for(self, cred: Credential) -> Provider:
        """The provider that serves ``cred``. Raises :class:`NoProviderError` (a
        ``KeyError``) when none does."""
        found = self._found.get(cred.provider)
        if found is not None:
            return found
        found = self.get(cred.provider)
        if found is not None:
            if len(self._found) >= 256:
                self._found.clear()
            self._found[cred.provider] = found
            return found
        if cred.compat_name:
            return self._by_key[OpenAICompatProvider.key]
        if native_compat(cred, self._config):
            if cred.base_url:
                return self._by_key[OpenAICompatProvider.key]
            # never OpenAI's own endpoint with a key meant for another (CPA: missing baseURL)
            raise NoProviderError(
                f"credentials of type {cred.provider!r} name no base_url for their endpoint",
                status=503,
                credential_id=cred.id,
            )
        raise NoProviderError(
            f"no provider serves credentials of type {cred.provider!r}", status=503, credential_id=cred.id
        )


_DEFAULT = Providers()
BUILTIN_PROVIDERS: tuple[Provider, ...] = _DEFAULT.all


def get(key: str) -> Provider | None:
    """:meth:`Providers.get` on the set built at import."""
    return _DEFAULT.get(key)


def provider_for(cred: Credential) -> Provider:
    """:meth:`Providers.provider_for` on the set built at import."""
    return _DEFAULT.provider_for(cred)
