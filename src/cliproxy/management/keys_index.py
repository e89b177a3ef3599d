"""Provider key lists as GET answers: each entry in CPA's JSON shape plus its live
``auth-index`` (the index of the running credential made from it, empty when none)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cliproxy.credentials import sources

__all__ = ["COMPAT_LIST", "auth_indexes", "compact", "render"]

COMPAT_LIST = "openai-compatibility"
_LIST_OF_PROVIDER = {
    "gemini": "gemini-api-key",
    "gemini-interactions": "interactions-api-key",
    "claude": "claude-api-key",
    "codex": "codex-api-key",
    "xai": "xai-api-key",
    "vertex": "vertex-api-key",
}
# Go writes these even when empty; every other empty field is left out (``omitempty``).
_ALWAYS = frozenset({"api-key", "base-url", "proxy-url", "name", "alias", "disabled", "models"})
# Optional settings where a zero or false is a choice, not an absence (Go pointers).
_POINTERS = frozenset({"weight", "disable-cooling", "request-retry", "cache-user-id"})


def auth_indexes(service: Any) -> dict[str, dict[int, list[str]]]:
    """``{list name: {entry index: [auth-index per credential made from that entry]}}``."""
    live = {cred.id for cred in service.pool.credentials()}
    out: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for cred in sources.from_config(service.config):
        name = _LIST_OF_PROVIDER.get(
            cred.provider,
            COMPAT_LIST if cred.compat_name or cred.provider.startswith("openai-compat") else "",
        )
        position = int(cred.attributes.get("config_index", "-1"))
        if name and position >= 0:
            out[name][position].append(cred.index if cred.id in live else "")
    return out


def compact(data: Any, keep: frozenset[str] = _ALWAYS) -> Any:
    """Drop empty fields the way Go's ``omitempty`` does; ``keep`` names those always shown."""
    if isinstance(data, list):
        return [compact(item, keep) for item in data]
    if not isinstance(data, dict):
        return data
    return {
        k: compact(v, keep)
        for k, v in data.items()
        if k in keep or not _blank(v) or (k in _POINTERS and v is not None)
    }


def _blank(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str | list | dict) and not value


def render(service: Any, name: str) -> list[dict[str, Any]]:
    """The entries of one list, as the GET endpoint answers them."""
    entries = getattr(service.config, name.replace("-", "_"))
    indexes = auth_indexes(service).get(name, {})
    out = []
    for position, entry in enumerate(entries):
        item = compact(entry.yaml_dump())
        found = indexes.get(position, [])
        if name == COMPAT_LIST:
            _compat_indexes(item, found)
        elif found and found[0]:
            item["auth-index"] = found[0]
        out.append(item)
    return out


def _compat_indexes(item: dict[str, Any], found: list[str]) -> None:
    keys = item.get("api-key-entries") or []
    if not keys:
        item.pop("api-key-entries", None)
        if found and found[0]:
            item["auth-index"] = found[0]
        return
    for key_entry, index in zip(keys, found, strict=False):
        if index:
            key_entry["auth-index"] = index
