"""OAuth model aliases (``oauth-model-alias.<channel>`` and per-credential ``model_aliases``).

Registration renames catalog models (``fork`` keeps the original id too); resolution
maps the client-visible alias back to the upstream ``name``. A credential's own
``model_aliases`` (auth JSON) win over the global list for the same alias. API-key
credentials have no channel: their aliases come from ``models[]`` in config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..credentials.record import KIND_APIKEY, Credential, parse_bool
from .catalog import ModelInfo

__all__ = ["AliasRule", "aliases_for", "apply_oauth_aliases", "find_alias", "oauth_channel", "sanitize_rules"]


@dataclass(frozen=True, slots=True)
class AliasRule:
    """Expose upstream ``name`` as ``alias``; ``fork`` keeps ``name`` listed as well."""

    name: str
    alias: str
    fork: bool = False
    display_name: str = ""
    force_mapping: bool = False


def oauth_channel(cred: Credential) -> str:
    """The ``oauth-model-alias`` channel of a credential ("" for API keys and Gemini)."""
    if cred.kind == KIND_APIKEY:
        return ""
    provider = cred.provider.strip().lower()
    return "" if provider == "gemini" else provider


def _field(item: Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def _rule(item: Any) -> AliasRule:
    return AliasRule(
        name=str(_field(item, "name") or "").strip(),
        alias=str(_field(item, "alias") or "").strip(),
        fork=parse_bool(_field(item, "fork")) or False,
        display_name=str(_field(item, "display_name", "display-name") or "").strip(),
        force_mapping=parse_bool(_field(item, "force_mapping", "force-mapping")) or False,
    )


def sanitize_rules(items: Iterable[Any]) -> tuple[AliasRule, ...]:
    """Rules from config objects or auth-JSON dicts: both names set, alias != name, first alias wins."""
    seen: set[str] = set()
    out = []
    for rule in map(_rule, items):
        key = rule.alias.lower()
        if not rule.name or not rule.alias or rule.name.lower() == key or key in seen:
            continue
        seen.add(key)
        out.append(rule)
    return tuple(out)


def aliases_for(cred: Credential, global_aliases: Mapping[str, Sequence[Any]]) -> tuple[AliasRule, ...]:
    """The credential's rules followed by the channel's global rules (per-credential win)."""
    channel = oauth_channel(cred)
    if not channel:
        return ()
    own = sanitize_rules(cred.model_aliases)
    shared = sanitize_rules(global_aliases.get(channel) or ())
    if not shared:
        return own
    taken = {r.alias.lower() for r in own}
    return own + tuple(r for r in shared if r.alias.lower() not in taken)


def find_alias(rules: Sequence[AliasRule], model: str) -> AliasRule | None:
    """The rule whose alias is ``model`` (case-insensitive), or None."""
    key = model.lower()
    for rule in rules:
        if rule.alias.lower() == key:
            return rule
    return None


def apply_oauth_aliases(rules: Sequence[AliasRule], models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """Rename models by ``rules``; forked names stay, duplicates are dropped (CPA order)."""
    if not rules:
        return list(models)
    forward: dict[str, list[AliasRule]] = {}
    for rule in rules:
        forward.setdefault(rule.name.lower(), []).append(rule)
    out: list[ModelInfo] = []
    seen: set[str] = set()

    def add(info: ModelInfo) -> bool:
        key = info.id.lower()
        if key in seen:
            return False
        seen.add(key)
        out.append(info)
        return True

    for info in models:
        matched = forward.get(info.id.lower())
        if not matched:
            add(info)
            continue
        keep = any(r.fork for r in matched)
        if keep:
            add(info)
        added = False
        for rule in matched:
            added = add(info.renamed(rule.alias, rule.display_name)) or added
        if not keep and not added:
            add(info)
    return out
