"""Credentials of a provider no built-in serves that reach an OpenAI-compatible endpoint.

CPA binds such an auth to its OpenAI-compatible executor when it carries what that
executor needs (``hasNativeOpenAICompatExecutorConfig``): an endpoint of its own
(``base_url``), the name of an ``openai-compatibility`` entry (``compat_name``), the
``openai-compatibility`` type itself, or a type (or ``provider_key``) that names such an
entry. A plugin usually sets ``base_url`` from its ``auth.parse``; here the auth file's own
``base_url`` and ``api_key`` count as well. Its models come from the entry of that name,
plus what plugins declare for its type; its token is refreshed by the plugin auth
provider of its type when one is loaded (``plugins.compat_refresh``).
"""

from __future__ import annotations

from typing import Any

from .record import Credential

__all__ = ["COMPAT_TYPE", "compat_entry_name", "native_compat"]

COMPAT_TYPE = "openai-compatibility"


def native_compat(cred: Credential, config: Any) -> bool:
    """Whether the OpenAI-compatible provider serves ``cred`` (a type no built-in serves)."""
    attrs = cred.attributes
    if (
        cred.base_url
        or cred.compat_name
        or attrs.get("base_url", "").strip()
        or attrs.get("compat_name", "").strip()
    ):
        return True
    provider = cred.provider.strip().lower()
    if provider == COMPAT_TYPE:
        return True
    entries = getattr(config, "openai_compatibility", None) or ()
    if not entries:
        return False
    names = {provider, attrs.get("provider_key", "").strip().lower()} - {""}
    return any(not e.disabled and e.name.strip().lower() in names for e in entries)


def compat_entry_name(cred: Credential) -> str:
    """The ``openai-compatibility`` entry whose models ``cred`` serves: its ``compat_name``,
    else its type (CPA's registerModelsForAuth for such an auth)."""
    return cred.compat_name or cred.attributes.get("compat_name", "").strip() or cred.provider
