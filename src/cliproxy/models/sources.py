"""Where a credential's models come from: the catalog family or its config entry.

CPA's ``registerModelsForAuth``: API keys with ``models:`` serve only those (``alias``
client-visible, ``name`` upstream), otherwise the provider's catalog; Codex OAuth by
``plan_type``; Codex API keys their configured models (the pro catalog when the entry
lists none); ``openai-compatibility`` only its configured models, as does a credential of
a type no built-in serves that names an OpenAI-compatible endpoint (the entry named like
its type: ``credentials.compat_auth``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..credentials.compat_auth import PLUGIN_MODELS, compat_entry_name, native_compat
from ..credentials.record import KIND_APIKEY, Credential
from .catalog import Catalog, ModelInfo, ThinkingSupport
from .suffix import split_suffix

__all__ = [
    "CODEX_PLAN_FAMILIES",
    "ConfiguredModel",
    "Source",
    "codex_family",
    "compat_source_key",
    "compat_sourced",
    "source_for",
]

CODEX_PLAN_FAMILIES = {
    "pro": "codex-pro",
    "plus": "codex-plus",
    "team": "codex-team",
    "business": "codex-team",
    "go": "codex-team",
    "free": "codex-free",
}
_FAMILIES = {
    "claude": "claude",
    "gemini": "gemini",
    "gemini-interactions": "gemini",
    "vertex": "vertex",
    "gemini-cli": "gemini-cli",
    "aistudio": "aistudio",
    "antigravity": "antigravity",
    "kimi": "kimi",
    "xai": "xai",
}
# provider -> (Config attribute holding its API-key entries, owned_by, type)
_KEY_LISTS = {
    "gemini": ("gemini_api_key", "google", "gemini"),
    "gemini-interactions": ("interactions_api_key", "google", "gemini"),
    "vertex": ("vertex_api_key", "google", "vertex"),
    "claude": ("claude_api_key", "anthropic", "claude"),
    "xai": ("xai_api_key", "xai", "xai"),
    "codex": ("codex_api_key", "openai", "openai"),
}
_COMPAT_LEVELS = ThinkingSupport(levels=("low", "medium", "high"))


@dataclass(frozen=True, slots=True)
class ConfiguredModel:
    """One ``models[]`` entry of a config key: upstream ``name`` exposed as ``alias``."""

    name: str
    alias: str
    force_mapping: bool = False
    is_compat: bool = False  # ``is-compat``: CPA's compatibility translation (translate.compat)


@dataclass(frozen=True, slots=True)
class Source:
    """A credential's base models and, for config-listed models, the alias table."""

    models: tuple[ModelInfo, ...]
    configured: tuple[ConfiguredModel, ...] = ()
    compat: bool = False
    oauth: bool = False


def codex_family(cred: Credential) -> str:
    """The catalog family of a Codex OAuth credential by ``plan_type`` (default pro)."""
    raw = cred.attributes.get("plan_type") or cred.metadata.get("plan_type") or ""
    return CODEX_PLAN_FAMILIES.get(str(raw).strip().lower(), "codex-pro")


def source_for(cred: Credential, cfg: Any, catalog: Catalog, now: int) -> Source:
    """The models ``cred`` registers before exclusions, aliases and prefixes."""
    provider = cred.provider.strip().lower()
    # a plugin executor, or a plugin's ``model.for_auth`` for an OpenAI-compatible credential
    if owner := cred.attributes.get("plugin") or cred.attributes.get(PLUGIN_MODELS):
        infos = tuple(
            # as the plugin declared it (``plugins.models.PluginModel``), else its id only
            getattr(m, "info", None)
            or ModelInfo(
                id=m.alias or m.name,
                display_name=m.alias or m.name,
                owned_by=owner,
                type="plugin",
                created=now,
                user_defined=True,
            )
            for m in cred.models
        )
        configured = tuple(ConfiguredModel(m.name, m.alias or m.name) for m in cred.models)
        # a plugin's OAuth credential takes ``oauth-model-alias`` under its provider (CPA)
        return Source(infos, configured, oauth=cred.kind != KIND_APIKEY)
    if compat_sourced(cred, cfg):
        return _compat_source(cred, cfg, now)
    if cred.kind != KIND_APIKEY:
        family = codex_family(cred) if provider == "codex" else _FAMILIES.get(provider, "")
        return Source(catalog.family(family), oauth=True)
    spec = _KEY_LISTS.get(provider)
    entry = _key_entry(cred, getattr(cfg, spec[0], None) or []) if spec else None
    if spec is None or (entry is None and provider == "codex"):
        return Source(())
    if entry is None or not entry.models:
        return Source(catalog.family("codex-pro" if provider == "codex" else _FAMILIES[provider]))
    return _keyed_source(entry.models, spec[1], spec[2], catalog, now)


def compat_sourced(cred: Credential, cfg: Any) -> bool:
    """Whether ``cred``'s models come from an ``openai-compatibility`` entry (its
    ``compat_name``, else its type: :func:`compat_entry_name`), plugin credentials aside."""
    provider = cred.provider.strip().lower()
    if cred.compat_name or provider.startswith("openai-compat"):
        return True
    return provider not in _FAMILIES and provider != "codex" and native_compat(cred, cfg)


def compat_source_key(cred: Credential, cfg: Any) -> tuple[str, int] | None:
    """What picks the ``openai-compatibility`` entry a compat-sourced ``cred`` takes its
    models from (the entry's name, its ``config_index``); None for any other credential."""
    if not compat_sourced(cred, cfg):
        return None
    return compat_entry_name(cred).strip().lower(), _config_index(cred)


def _key_entry(cred: Credential, entries: Sequence[Any]) -> Any:
    index = _config_index(cred)
    if 0 <= index < len(entries) and _same_key(entries[index], cred):
        return entries[index]
    return next((e for e in entries if _same_key(e, cred)), None)


def _config_index(cred: Credential) -> int:
    try:
        return int(cred.attributes.get("config_index", "-1"))
    except ValueError:
        return -1


def _same_key(entry: Any, cred: Credential) -> bool:
    key, base = entry.api_key.strip(), entry.base_url.strip()
    if cred.api_key:
        return key.lower() == cred.api_key.lower() and (not base or base.lower() == cred.base_url.lower())
    return bool(cred.base_url) and base.lower() == cred.base_url.lower()


def _keyed_source(models: Sequence[Any], owned_by: str, kind: str, catalog: Catalog, now: int) -> Source:
    infos: list[ModelInfo] = []
    seen: set[str] = set()
    for model in models:
        name, alias = model.name.strip(), model.alias.strip() or model.name.strip()
        if not alias or alias.lower() in seen:
            continue
        seen.add(alias.lower())
        known = catalog.lookup(split_suffix(name)[0])
        thinking = ThinkingSupport.from_data(model.thinking.model_dump()) if model.thinking else None
        infos.append(
            ModelInfo(
                id=alias,
                display_name=model.display_name.strip() or name or alias,
                owned_by=owned_by,
                type=kind,
                created=now,
                context_window=model.max_context_length or (known.context_window if known else 0),
                max_context_length=model.max_context_length,
                max_output=known.max_output if known else 0,
                input_modalities=known.input_modalities if known else (),
                thinking=thinking or (known.thinking if known else None),
                # a setting is checked against what the entry resolves to (CPA's resolved
                # API-key model): its own ``thinking:``, else the known model's; an unknown
                # upstream without one does not think (the setting is dropped)
                configured=True,
            )
        )
    return Source(tuple(infos), _configured(models))


def _configured(models: Sequence[Any]) -> tuple[ConfiguredModel, ...]:
    out = []
    for model in models:
        name = model.name.strip()
        if name:
            out.append(
                ConfiguredModel(
                    name,
                    model.alias.strip(),
                    bool(model.force_mapping),
                    bool(getattr(model, "is_compat", False)),
                )
            )
    return tuple(out)


def _compat_entry(cred: Credential, cfg: Any) -> Any:
    entries = [e for e in getattr(cfg, "openai_compatibility", None) or [] if not e.disabled]
    index = _config_index(cred)
    all_entries = getattr(cfg, "openai_compatibility", None) or []
    name = compat_entry_name(cred).strip().lower()
    if (
        0 <= index < len(all_entries)
        and not all_entries[index].disabled
        and all_entries[index].name.strip().lower() == name
    ):
        return all_entries[index]
    return next((e for e in entries if e.name.strip().lower() == name), None)


def _compat_source(cred: Credential, cfg: Any, now: int) -> Source:
    entry = _compat_entry(cred, cfg)
    if entry is None:
        return Source((), compat=True)
    infos = []
    for model in entry.models:
        name, alias = model.name.strip(), model.alias.strip()
        if not (alias or name):
            continue
        thinking = ThinkingSupport.from_data(model.thinking.model_dump()) if model.thinking else None
        infos.append(
            ModelInfo(
                id=alias or name,
                display_name=model.display_name.strip() or alias or name,
                owned_by=entry.name,
                type="openai-image" if model.image else "openai-compatibility",
                created=now,
                context_window=model.max_context_length,
                max_context_length=model.max_context_length,
                input_modalities=_modalities(model.input_modalities),
                output_modalities=_modalities(model.output_modalities),
                thinking=thinking or (None if model.image else _COMPAT_LEVELS),
                configured=True,
            )
        )
    return Source(tuple(infos), _configured(entry.models), compat=True)


def _modalities(values: Sequence[str]) -> tuple[str, ...]:
    """Configured modalities lower-cased, blanks and repeats left out (CPA)."""
    return tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
