"""Credentials of a provider no built-in serves that reach an OpenAI-compatible endpoint.

CPA binds such an auth to its OpenAI-compatible executor when it carries what that
executor needs (``hasNativeOpenAICompatExecutorConfig``): an endpoint of its own
(``base_url``), the name of an ``openai-compatibility`` entry (``compat_name``), the
``openai-compatibility`` type itself, or a type (or ``provider_key``) that names such an
entry. A plugin usually sets ``base_url`` from its ``auth.parse``; here the auth file's own
``base_url`` and ``api_key`` count as well. Its models come from the entry of that name,
plus what plugins declare for its type, unless a plugin of its type answers
``model.for_auth`` for it (then those, as for a plugin executor's file: the plugin's id is
its ``PLUGIN_MODELS`` attribute); its token is refreshed by the plugin auth provider of
its type when one is loaded (``plugins.compat_refresh``).
"""

from __future__ import annotations

from typing import Any

from .record import Credential

__all__ = ["COMPAT_TYPE", "PLUGIN_MODELS", "compat_entry_name", "native_compat", "take_endpoint"]

COMPAT_TYPE = "openai-compatibility"
# the plugin whose ``model.for_auth`` named the models of such a credential
PLUGIN_MODELS = "plugin_models"


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


def take_endpoint(cred: Credential) -> None:
    """The ``base_url`` and ``api_key`` a plugin set among ``cred``'s attributes, as the
    endpoint and key the OpenAI-compatible provider sends (CPA's executor reads them there)."""
    if base := cred.attributes.get("base_url", "").strip():
        cred.base_url = base
    if key := cred.attributes.get("api_key", "").strip():
        cred.api_key = key
