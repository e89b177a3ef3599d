"""cheapest-router: send an alias to the cheapest upstream that serves it, and to the next
one while the cheapest is rate limited.

A model router and a usage plugin in one object. ``route`` sees the providers that have an
enabled credential (``available_providers``), but not whether their credentials are cooling
down; the usage records tell: a failed call's record names its provider, its status and the
upstream's response headers (``Retry-After``). The router remembers until when each provider
is out and passes it over meanwhile.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from cliproxy.plugins.api import (
    ConfigField,
    Host,
    ModelRouter,
    Plugin,
    PluginError,
    RouteDecision,
    RouteRequest,
    UsagePlugin,
    UsageRecord,
)

DEFAULT_WAIT = 30.0  # seconds a provider stays out after a 429 without Retry-After


class CheapestRouter(Plugin, ModelRouter, UsagePlugin):
    name = "cheapest-router"
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("alias", "string", description="The model name clients ask for (cheap)."),
        ConfigField("model", "string", description="The upstream model every provider is asked for."),
        ConfigField("prices", "object", description="Provider name -> price; the lowest is tried first."),
    ]

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        prices = config.get("prices")
        if not config.get("model") or not isinstance(prices, dict) or not prices:
            raise PluginError("cheapest-router needs `model` and a `prices` mapping (provider: price)")
        self.alias = str(config.get("alias") or "cheap")
        self.model = str(config["model"])
        self.order = sorted(prices, key=lambda p: float(prices[p]))  # cheapest first
        self.out_until: dict[str, float] = {}  # provider -> monotonic time it may be tried again

    async def route(self, request: RouteRequest) -> RouteDecision | None:
        if request.requested_model != self.alias:
            return None  # not ours: the next router, or the normal flow, decides
        usable = [p for p in self.order if p in request.available_providers]
        if not usable:
            return None  # no credential for any of them: the normal flow decides
        now = time.monotonic()
        ready = [p for p in usable if self.out_until.get(p, 0.0) <= now]
        # every one out: the one back first (the client gets its 429 and Retry-After)
        provider = ready[0] if ready else min(usable, key=lambda p: self.out_until[p])
        return RouteDecision.provider(provider, self.model, reason="cheapest available")

    async def handle_usage(self, record: UsageRecord) -> None:
        if record.failed and record.failure.status_code == 429:
            self.out_until[record.provider] = time.monotonic() + _retry_after(record.response_headers)


def _retry_after(headers: dict[str, list[str]]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(1.0, float(values[0]))
            except ValueError:
                break  # an HTTP date: keep the default
    return DEFAULT_WAIT


plugin = CheapestRouter()
