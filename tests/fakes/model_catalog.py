"""A fake of the remote model catalog sources (router-for-me/models): ``models.json`` and
the Codex client template catalog beside it (``codex_client_models.json``).

    async with CatalogSource() as source:
        source.codex = codex_catalog(template("gpt-5.5", 1), template("gpt-5.4", 2))
        monkeypatch.setenv(URLS_ENV, source.models_url)   # the proxy looks beside it
        source.hits["/codex_client_models.json"]

``models`` is the ``models.json`` document (``None``: 404, the packaged catalog stays);
``codex`` the Codex client catalog (a dict, raw bytes for a broken one, ``None``: 404);
``status`` forces a status on a path. The template text is ours, made up for tests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Self

import orjson
from aiohttp import web

__all__ = ["CatalogSource", "codex_catalog", "start_with_templates", "template"]


def template(slug: str, priority: int = 1, **over: Any) -> dict[str, Any]:
    """A valid Codex client template entry; ``over`` replaces or adds fields."""
    entry: dict[str, Any] = {
        "slug": slug,
        "display_name": f"Template {slug}",
        "description": f"Template description of {slug}",
        "base_instructions": f"Test instructions for {slug}: follow the repository rules.",
        "minimal_client_version": "0.140.0",
        "visibility": "list",
        "shell_type": "shell_command",
        "supported_in_api": True,
        "priority": priority,
        "context_window": 372000,
        "max_context_window": 372000,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [
            {"effort": "low", "description": "Light"},
            {"effort": "medium", "description": "Balanced"},
            {"effort": "high", "description": "Deep"},
        ],
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "supports_parallel_tool_calls": True,
        "supports_reasoning_summaries": True,
        "support_verbosity": True,
        "default_verbosity": "low",
        "apply_patch_tool_type": "freeform",
        "web_search_tool_type": "text",
        "supports_search_tool": True,
        "supports_image_detail_original": True,
        "input_modalities": ["text", "image"],
        "experimental_supported_tools": [],
        "additional_speed_tiers": ["fast"],
        "service_tiers": [{"id": "priority"}],
        "upgrade": None,
        "availability_nux": None,
        "prefer_websockets": True,
        "multi_agent_version": None,
    }
    entry.update(over)
    return entry


def codex_catalog(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"models": list(entries)}


class CatalogSource:
    """The fake source server on 127.0.0.1; ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.models: dict[str, Any] | None = None
        self.codex: dict[str, Any] | bytes | None = codex_catalog(template("gpt-5.5"))
        self.status: dict[str, int] = {}
        self.hits: dict[str, int] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None

    @property
    def models_url(self) -> str:
        return f"{self.base}/models.json"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path in self.status:
            return web.Response(status=self.status[path], text="busy")
        doc: Any = self.models if path.endswith("/models.json") and "codex" not in path else None
        if path.endswith("/codex_client_models.json"):
            doc = self.codex
        if doc is None:
            return web.Response(status=404, text="404: Not Found")
        body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        return web.Response(body=body, content_type="application/json")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def start_with_templates(start_proxy: Any, source: CatalogSource | None, yaml_text: str) -> Any:
    """A proxy whose catalog updater fetched ``source``'s Codex client catalog (the caller
    points ``CLIPROXY_MODELS_URLS`` at ``source.models_url``)."""
    proxy = await start_proxy(yaml_text, model_updates=True)
    updater = proxy.service.catalog_updater
    deadline = time.monotonic() + 10
    while updater.codex_refreshes < 1:
        assert time.monotonic() < deadline, "the Codex client catalog was never fetched"
        await asyncio.sleep(0.01)
    return proxy
