"""Plugin store sources: the official registry first, then ``plugins.store-sources``."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import urlsplit

from cliproxy.plugins.store.registry import Source, StoreError

__all__ = [
    "DEFAULT_REGISTRY_URL",
    "DEFAULT_SOURCE_ID",
    "normalize_sources",
    "official_url",
    "source_id",
    "source_name",
]

DEFAULT_REGISTRY_URL = (
    "https://raw.githubusercontent.com/router-for-me/CLIProxyAPI-Plugins-Store/main/registry.json"
)
DEFAULT_SOURCE_ID = "official"
DEFAULT_SOURCE_NAME = "Official"


def source_id(url: str) -> str:
    return "source-" + hashlib.sha256(url.strip().encode()).hexdigest()[:12]


def source_name(url: str) -> str:
    try:
        host = urlsplit(url.strip()).netloc
    except ValueError:
        host = ""
    return host or url.strip()


def official_url() -> str:
    """The official registry (``CLIPROXY_PLUGIN_STORE`` overrides it, for tests and mirrors)."""
    return os.environ.get("CLIPROXY_PLUGIN_STORE", "").strip() or DEFAULT_REGISTRY_URL


def normalize_sources(urls: list[str]) -> list[Source]:
    """The official source first, then each configured URL once (``source-<sha256[:12]>``)."""
    out = [Source(DEFAULT_SOURCE_ID, DEFAULT_SOURCE_NAME, official_url())]
    ids = {DEFAULT_SOURCE_ID: out[0].url}
    for raw in urls:
        url = raw.strip()
        if not url or any(s.url == url for s in out):
            continue
        src = Source(source_id(url), source_name(url), url)
        if src.id in ids:
            raise StoreError(f"plugin store source id collision for {ids[src.id]!r} and {url!r}")
        ids[src.id] = url
        out.append(src)
    return out
