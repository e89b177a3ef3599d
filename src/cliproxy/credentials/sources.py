"""Credentials from config.yaml key lists (CPA's config synthesizer).

File credentials (auth-dir JSON) live in :mod:`cliproxy.credentials.files`; both are
re-exported here so callers have one place to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.providers.compat_tool_results import ATTRIBUTE as TEXT_ONLY_ATTRIBUTE
from cliproxy.providers.compat_tool_results import text_only_names

from .files import load_auth_dir, load_auth_file, read_auth_files, scoped_rules_from, swap_auth_files
from .ids import StableIDGenerator, auth_index, auth_index_seed, compat_provider_key, format_sorted_headers
from .record import KIND_APIKEY, Credential, ModelAlias, ScopedErrorRule, parse_limit

__all__ = ["from_config", "load_auth_dir", "load_auth_file", "read_auth_files", "swap_auth_files"]


def from_config(cfg: Any) -> list[Credential]:
    """One credential per config API-key entry, in CPA's order and with CPA's ids.

    ``cfg`` is a :class:`cliproxy.config.Config` (read by attribute only).
    """
    gen = StableIDGenerator()
    out: list[Credential] = []
    out += _keyed(gen, cfg.gemini_api_key, "gemini:apikey", "gemini", "gemini-apikey", "gemini")
    out += _keyed(
        gen,
        cfg.interactions_api_key,
        "gemini-interactions:apikey",
        "interactions",
        "interactions-apikey",
        "gemini-interactions",
    )
    out += _keyed(gen, cfg.claude_api_key, "claude:apikey", "claude", "claude-apikey", "claude")
    out += _keyed(gen, cfg.codex_api_key, "codex:apikey", "codex", "codex-apikey", "codex")
    out += _keyed(gen, cfg.xai_api_key, "xai:apikey", "xai", "xai-apikey", "xai")
    for index, compat in enumerate(cfg.openai_compatibility):
        out += _compat(gen, compat, index)
    out += [_vertex(gen, entry, index) for index, entry in enumerate(cfg.vertex_api_key)]
    return out


def _keyed(
    gen: StableIDGenerator, entries: Iterable[Any], id_kind: str, source_name: str, label: str, provider: str
) -> list[Credential]:
    out = []
    for index, entry in enumerate(entries):
        key, base = entry.api_key.strip(), entry.base_url.strip()
        if not key and not base:
            continue
        proxy, prefix = entry.proxy_url.strip(), entry.prefix.strip()
        cid, token = gen.next(id_kind, key, base, proxy, prefix, format_sorted_headers(entry.headers))
        out.append(
            _finish(
                Credential(
                    id=cid,
                    provider=provider,
                    label=label,
                    prefix=prefix,
                    proxy_url=proxy,
                    base_url=base,
                    api_key=key,
                    priority=entry.priority,
                    weight=_weight(entry.weight),
                    max_concurrency=parse_limit(getattr(entry, "max_concurrency", 0)),
                    headers=dict(entry.headers),
                    models=_models(entry.models),
                    excluded_models=_excluded(entry.excluded_models),
                    disable_cooling=entry.disable_cooling,
                    request_retry=_retry(entry.request_retry),
                    request_scoped_errors=_rules(entry.request_scoped_errors),
                    source=f"config:{source_name}[{token}]",
                    attributes=_extra_attributes(entry, provider),
                ),
                index,
            )
        )
    return out


def _compat(gen: StableIDGenerator, compat: Any, index: int) -> list[Credential]:
    if compat.disabled:
        return []
    name = compat.name.strip().lower() or "openai-compatibility"
    provider = compat_provider_key(name)
    base = compat.base_url.strip()
    shared: dict[str, Any] = {
        "provider": provider,
        "label": compat.name,
        "prefix": compat.prefix.strip(),
        "base_url": base,
        "compat_name": compat.name,
        "priority": compat.priority,
        "headers": dict(compat.headers),
        "models": _models(compat.models),
        "disable_cooling": compat.disable_cooling,
        "request_retry": _retry(compat.request_retry),
        "request_scoped_errors": _rules(compat.request_scoped_errors),
    }
    attributes = {"provider_key": provider}
    if compat.support_prompt_cache_key:  # read by providers.compat_cache
        attributes["support_prompt_cache_key"] = "true"
    if text_only := text_only_names([(m.name, m.alias, m.input_modalities) for m in compat.models]):
        attributes[TEXT_ONLY_ATTRIBUTE] = text_only  # read by providers.compat_tool_results
    out = []
    for entry in compat.api_key_entries:
        key, proxy = entry.api_key.strip(), entry.proxy_url.strip()
        cid, token = gen.next(f"openai-compatibility:{name}", key, base, proxy)
        out.append(
            _finish(
                Credential(
                    id=cid,
                    api_key=key,
                    proxy_url=proxy,
                    weight=_weight(entry.weight),
                    max_concurrency=parse_limit(getattr(entry, "max_concurrency", 0)),
                    source=f"config:{name}[{token}]",
                    attributes=dict(attributes),  # each its own: _finish writes its values in
                    **shared,
                ),
                index,
            )
        )
    if not out:
        cid, token = gen.next(f"openai-compatibility:{name}", base)
        cred = Credential(id=cid, source=f"config:{name}[{token}]", attributes=attributes, **shared)
        out.append(_finish(cred, index))
    return out


def _vertex(gen: StableIDGenerator, entry: Any, index: int) -> Credential:
    key, base, proxy = entry.api_key.strip(), entry.base_url.strip(), entry.proxy_url.strip()
    cid, token = gen.next("vertex:apikey", key, base, proxy)
    return _finish(
        Credential(
            id=cid,
            provider="vertex",
            label="vertex-apikey",
            prefix=entry.prefix.strip(),
            proxy_url=proxy,
            base_url=base,
            api_key=key,
            priority=entry.priority,
            weight=_weight(entry.weight),
            max_concurrency=parse_limit(getattr(entry, "max_concurrency", 0)),
            headers=dict(entry.headers),
            models=_models(entry.models),
            excluded_models=_excluded(entry.excluded_models),
            disable_cooling=entry.disable_cooling,
            request_retry=_retry(entry.request_retry),
            # cliproxy: CPA's vertex-api-key has no such key (it would ignore it); the
            # config model shares it with the other key lists, so it acts here as there
            request_scoped_errors=_rules(entry.request_scoped_errors),
            source=f"config:vertex-apikey[{token}]",
            attributes={"provider_key": "vertex"},
        ),
        index,
    )


def _finish(cred: Credential, config_index: int) -> Credential:
    cred.kind = KIND_APIKEY
    attrs = cred.attributes
    attrs.update({"source": cred.source, "config_index": str(config_index), "auth_kind": KIND_APIKEY})
    for name, value in (
        ("api_key", cred.api_key),
        ("base_url", cred.base_url),
        ("compat_name", cred.compat_name),
    ):
        if value:
            attrs[name] = value
    if cred.priority:
        attrs["priority"] = str(cred.priority)
    if cred.max_concurrency:
        attrs["max_concurrency"] = str(cred.max_concurrency)
    attrs.update({f"header:{k}": v for k, v in cred.headers.items()})
    if cred.excluded_models:
        attrs["excluded_models"] = ",".join(cred.excluded_models)
    cred.index = auth_index(
        auth_index_seed(
            provider=cred.provider,
            cred_id=cred.id,
            source=cred.source,
            api_key=cred.api_key,
            base_url=cred.base_url,
            compat_name=cred.compat_name,
        )
    )
    return cred


def _extra_attributes(entry: Any, provider: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if getattr(entry, "websockets", False):
        attrs["websockets"] = "true"
    if provider == "codex" and getattr(entry, "alpha_search", False):
        attrs["codex_alpha_search"] = "true"
    if getattr(entry, "rebuild_mid_system_message", False):
        attrs["rebuild_mid_system_message"] = "true"
    profile = str(getattr(entry, "fingerprint_profile", "") or "").strip().lower()
    if profile:
        attrs["fingerprint_profile"] = profile
    cloak = getattr(entry, "cloak", None)
    if cloak is not None:  # claude-api-key[].cloak, read as CPA reads an OAuth file's cloak_* keys
        attrs["cloak"] = "true"
        if cloak.mode.strip():
            attrs["cloak_mode"] = cloak.mode.strip().lower()
        if cloak.strict_mode:
            attrs["cloak_strict_mode"] = "true"
        words = [w.strip() for w in cloak.sensitive_words if w.strip()]
        if words:
            attrs["cloak_sensitive_words"] = ",".join(words)
        if cloak.cache_user_id is not None:
            attrs["cloak_cache_user_id"] = "true" if cloak.cache_user_id else "false"
    return attrs


def _weight(raw: int | None) -> int:
    if raw is None:
        return 1
    return max(0, raw)


def _retry(raw: int | None) -> int | None:
    return raw if raw is not None and raw >= 0 else None


def _models(models: Iterable[Any]) -> tuple[ModelAlias, ...]:
    return tuple(ModelAlias(m.name.strip(), m.alias.strip()) for m in models if m.name.strip())


def _excluded(models: Iterable[str]) -> tuple[str, ...]:
    """CPA's per-key exclusions: trimmed, lower-cased, de-duplicated, sorted."""
    return tuple(sorted({m.strip().lower() for m in models if m.strip()}))


def _rules(rules: Iterable[Any]) -> tuple[ScopedErrorRule, ...]:
    raw: list[Mapping[str, Any]] = [
        {"status": r.status, "match": r.match, "match-regexr": r.match_regexr, "action": r.action}
        for r in rules
    ]
    return scoped_rules_from(raw)
