"""The plugin's configuration: ``plugins.configs.claude-web-search-router`` in config.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cliproxy.plugins.api import PluginError

# route value -> the backends it may use, in fallback order
ROUTES: dict[str, tuple[str, ...]] = {
    "fallback": ("antigravity", "codex", "xai", "tavily"),
    "antigravity_google": ("antigravity",),
    "codex_web_search": ("codex",),
    "xai_web_search": ("xai",),
    "tavily": ("tavily",),
    "default_provider": (),
}


@dataclass(slots=True)
class Settings:
    """Every key has a default, so a partial config keeps the others."""

    enabled: bool = True
    route: str = "fallback"
    antigravity_model: str = ""
    codex_model: str = "gpt-5.4-mini"
    xai_model: str = "grok-4.3"
    default_provider: str = ""
    default_provider_model: str = ""
    tavily_api_keys: list[str] = field(default_factory=list)
    require_web_search_only: bool = True
    tavily_base_url: str = "https://api.tavily.com"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        s = cls()
        s.enabled = _bool(config.get("enabled"), s.enabled)
        s.require_web_search_only = _bool(config.get("require_web_search_only"), s.require_web_search_only)
        for key in (
            "antigravity_model",
            "codex_model",
            "xai_model",
            "default_provider",
            "default_provider_model",
            "tavily_base_url",
        ):
            value = str(config.get(key) or "").strip()
            if value:  # an empty value keeps the default: never the client's Claude model (CPA)
                setattr(s, key, value)
        s.route = str(config.get("route") or "fallback").strip().lower()
        if s.route not in ROUTES:
            raise PluginError(
                f"route must be one of {', '.join(ROUTES)}, not {s.route!r}", code="invalid_config"
            )
        s.default_provider = s.default_provider.lower()
        s.tavily_base_url = s.tavily_base_url.rstrip("/")
        s.tavily_api_keys = _keys(config.get("tavily_api_keys"))
        return s

    def model_for(self, backend: str) -> str:
        """The model a built-in backend is called with ("" for tavily)."""
        return {"antigravity": self.antigravity_model, "codex": self.codex_model, "xai": self.xai_model}.get(
            backend, ""
        )


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _keys(value: Any) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [str(k).strip() for k in items if str(k).strip()]
