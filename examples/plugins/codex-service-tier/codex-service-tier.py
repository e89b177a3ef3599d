"""codex-service-tier: ask Codex for the priority tier ("fast mode") on one model.

A request normalizer: it sees every request body after translation, just before it goes
upstream. When ``fast`` is on, the upstream format is ``codex`` and the upstream model is
the configured ``model``, it sets ``service_tier: "priority"``; otherwise it changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from cliproxy.plugins.api import ConfigField, Host, Plugin, RequestNormalizer, TransformRequest

DEFAULT_MODEL = "gpt-5.5"


class CodexServiceTier(Plugin, RequestNormalizer):
    name = "codex-service-tier"
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("fast", "boolean", description="Send service_tier: priority (default false)."),
        ConfigField("model", "string", description=f"The upstream model it applies to ({DEFAULT_MODEL})."),
    ]

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.fast = config.get("fast") is True
        self.model = str(config.get("model") or DEFAULT_MODEL).strip()

    async def normalize_request(self, request: TransformRequest) -> bytes | None:
        if not self.fast or request.to_format != "codex" or request.model != self.model:
            return None  # None keeps the body as it is
        body = json.loads(request.body)
        body["service_tier"] = "priority"
        return json.dumps(body).encode()


plugin = CodexServiceTier()
