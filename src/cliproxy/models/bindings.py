"""Per-credential registration: the client-visible ids a credential serves, and how each
maps to upstream model names.

Order as CPA: source models -> exclusions -> OAuth aliases -> prefixes. Resolution per
id as CPA's ``executionModelCandidates``: strip the prefix -> OAuth alias -> the
openai-compatibility pool (every ``name`` under a repeated ``alias``) -> API-key alias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..credentials.compat_auth import PLUGIN_MODELS
from ..credentials.record import KIND_APIKEY, Credential
from .aliases import AliasRule, aliases_for, apply_oauth_aliases, find_alias
from .catalog import Catalog, ModelInfo
from .exclusions import apply_exclusions, normalize_patterns
from .sources import ConfiguredModel, Source, codex_family, compat_source_key, source_for

__all__ = ["Binding", "apply_prefix", "bind_credential", "shares_bindings"]


@dataclass(frozen=True, slots=True)
class Binding:
    """How one credential serves one client-visible model id.

    ``upstream`` holds the name(s) to send upstream (several for a compat alias pool);
    ``alias`` is the name a force-mapped response reports (CPA's ``OriginalAlias``);
    ``is_compat``: the configured model's ``is-compat`` (CPA's compatibility translation);
    ``unforced``: names of a force-mapped compat pool whose own entry is not force-mapped
    (CPA decides force mapping per attempt: their answers keep the upstream's name).
    """

    info: ModelInfo
    upstream: tuple[str, ...]
    force_mapping: bool = False
    alias: str = ""
    is_compat: bool = False
    unforced: frozenset[str] = frozenset()


def apply_prefix(models: Sequence[ModelInfo], prefix: str, force: bool) -> list[ModelInfo]:
    """``prefix/<id>`` for every model; the bare id too unless ``force`` (or prefix == id)."""
    prefix = prefix.strip()
    if not prefix:
        return list(models)
    out: list[ModelInfo] = []
    seen: set[str] = set()
    for info in models:
        for candidate in ((info,) if not force or prefix == info.id else ()) + (
            info.renamed(f"{prefix}/{info.id}"),
        ):
            if candidate.id not in seen:
                seen.add(candidate.id)
                out.append(candidate)
    return out


def bind_credential(
    cred: Credential,
    cfg: Any,
    catalog: Catalog,
    now: int,
    cache: dict[tuple[Any, ...], dict[str, Binding]],
    extra: Mapping[str, Sequence[ModelInfo]] | None = None,
) -> dict[str, Binding]:
    """Client-visible id -> :class:`Binding` for ``cred`` (insertion order = CPA's order).

    ``cache`` shares results between credentials that register identically (1000 OAuth
    accounts of one plan cost one computation); its values must not be mutated.
    ``extra``: provider -> models plugins add to each credential of it (CPA's
    appendPluginModels, after exclusions and aliases); not to a plugin's own credential.
    """
    rules = aliases_for(cred, getattr(cfg, "oauth_model_alias", None) or {})
    excluded = _exclusions(cred, cfg)
    force = bool(getattr(cfg, "force_model_prefix", False))
    key = _cache_key(cred, cfg, rules, excluded, force)
    if key is not None and key in cache:
        return cache[key]
    source = source_for(cred, cfg, catalog, now)
    models = list(source.models) if source.compat else apply_exclusions(source.models, excluded)
    if source.oauth:
        models = apply_oauth_aliases(rules, models)
    if extra and (added := extra.get(cred.provider.strip().lower())) and not _plugin_named(cred):
        have = {m.id for m in models}
        models += [m for m in added if m.id not in have]
    out: dict[str, Binding] = {}
    for info in apply_prefix(models, cred.prefix, force):
        if info.id not in out:
            out[info.id] = _binding(info, _strip_prefix(info.id, cred.prefix), source, rules)
    if key is not None:
        cache[key] = out
    return out


def _cache_key(
    cred: Credential, cfg: Any, rules: tuple[AliasRule, ...], excluded: tuple[str, ...], force: bool
) -> tuple[Any, ...] | None:
    if not shares_bindings(cred):
        return None
    family = codex_family(cred) if cred.provider == "codex" else ""
    # an auth file the OpenAI-compatible provider serves takes the models of the entry its
    # compat_name (else its type) names: files of one type naming other entries differ
    compat = compat_source_key(cred, cfg)
    return (cred.provider, family, compat, cred.prefix.strip(), excluded, rules, force)


def shares_bindings(cred: Credential) -> bool:
    """Whether ``cred``'s table follows from its provider, plan, ``openai-compatibility``
    entry, prefix, exclusions and aliases alone, so credentials alike share it. Not an API key (its config entry names
    its models) nor a plugin's credential (its plugin names them)."""
    return cred.kind != KIND_APIKEY and not _plugin_named(cred)


def _plugin_named(cred: Credential) -> bool:
    """A plugin names ``cred``'s models: its executor's, or an OpenAI-compatible credential's
    ``model.for_auth`` (CPA registers those alone)."""
    attrs = cred.attributes
    return bool(attrs and (attrs.get("plugin") or attrs.get(PLUGIN_MODELS)))


def _exclusions(cred: Credential, cfg: Any) -> tuple[str, ...]:
    own = tuple(cred.excluded_models)
    if cred.kind == KIND_APIKEY:
        return normalize_patterns(own)
    shared: Mapping[str, Sequence[str]] = getattr(cfg, "oauth_excluded_models", None) or {}
    return normalize_patterns(own + tuple(shared.get(cred.provider.strip().lower()) or ()))


def _strip_prefix(model: str, prefix: str) -> str:
    prefix = prefix.strip()
    if prefix and model.startswith(prefix + "/"):
        return model[len(prefix) + 1 :]
    return model


def _binding(info: ModelInfo, requested: str, source: Source, rules: Sequence[AliasRule]) -> Binding:
    if source.oauth:
        rule = find_alias(rules, requested)
        if rule is None:
            return Binding(info, (requested,))
        return Binding(info, (rule.name,), rule.force_mapping, rule.alias)
    if source.compat:
        pool = _alias_pool(source.configured, requested)
        if pool:
            force, alias, unforced = _force(source.configured, requested)
            return Binding(info, pool, force, alias, _is_compat(source, requested), unforced)
    elif source.configured:
        rule_name, force, alias = _configured_alias(source.configured, requested)
        return Binding(info, (rule_name,), force, alias, _is_compat(source, requested))
    return Binding(info, (requested,))


def _is_compat(source: Source, requested: str) -> bool:
    """CPA ``ResolvedAPIKeyModelInfo``: the configured model the request resolved to
    (by alias, else by name) has ``is-compat``."""
    key = requested.lower()
    found = next((m for m in source.configured if m.alias and m.alias.lower() == key), None)
    if found is None:
        found = next((m for m in source.configured if m.name.lower() == key), None)
    return found is not None and found.is_compat


def _alias_pool(models: Sequence[ConfiguredModel], requested: str) -> tuple[str, ...]:
    key = requested.lower()
    names: dict[str, str] = {}
    for model in models:
        if model.alias and model.alias.lower() == key:
            names.setdefault(model.name.lower(), model.name)
    if names:
        return tuple(names.values())
    return next(((m.name,) for m in models if m.name.lower() == key), ())


def _force(models: Sequence[ConfiguredModel], requested: str) -> tuple[bool, str, frozenset[str]]:
    """(any entry of the alias force-mapped, the alias, the pool's names that are not)."""
    key = requested.lower()
    entries = [m for m in models if m.alias and m.alias.lower() == key]
    forced = [m for m in entries if m.force_mapping]
    if not forced:
        return False, entries[0].alias if entries else "", frozenset()
    return True, forced[0].alias, frozenset(m.name for m in entries if not m.force_mapping)


def _configured_alias(models: Sequence[ConfiguredModel], requested: str) -> tuple[str, bool, str]:
    key = requested.lower()
    for model in models:
        if model.alias and model.alias.lower() == key:
            if model.name.lower() == key and not model.force_mapping:
                return requested, False, ""
            return model.name, model.force_mapping, model.alias
    for model in models:
        if model.name.lower() == key:
            return model.name, False, ""
    return requested, False, ""
