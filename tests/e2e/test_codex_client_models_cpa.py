"""CPA internal/client/codex/models/models_test.go through a running proxy: the catalog the
Codex CLI reads (``GET /v1/models?client_version=...``) for models the config declares.

Deliberate difference, for the whole file: CPA fills the entries of OpenAI's own models
from a template catalog (Codex's own ``models.json``, refreshed from its model repository:
TestLoadCodexClientModelTemplatesRefreshesOnRevision); cliproxy has none and generates
every entry from its model registry. So the template-only facts differ: an official model
served only by Codex is not marked ``supports_search_tool`` here
(TestCodexClientModelsResponse_DisablesSearchToolForSynthesizedModels' official half,
TestCodexClientModelsResponse_RequiresTemplateAndCodexProvidersForSearchTool: every entry
says false), and ``gpt-5.6-sol`` offers the
reasoning levels the registry knows for it, without the template's ``ultra``
(TestCodexClientModelsResponse_PreservesUltraReasoningEffort).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.e2e.clients import KEY

DEAD = "http://127.0.0.1:9"


def _model(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "alias": name, **extra}


COMPAT = [
    _model("mimo-vision", **{"input-modalities": ["text", "image"]}),
    _model("mimo-text-only", **{"input-modalities": ["text"]}),
    _model("mimo-mixed", **{"input-modalities": ["text", "image", "audio", "video", "TEXT", "IMAGE"]}),
    _model("compat-image-only", image=True),
    _model("deepseek-v4-flash", **{"max-context-length": 1048576, "display-name": "Configured Name"}),
    _model("deepseek-v4-pro"),
    _model("custom-model"),
]


async def _catalog(start_proxy: Any) -> dict[str, dict[str, Any]]:
    config = {
        "api-keys": [KEY],
        "codex-api-key": [{"api-key": "sk-codex", "base-url": DEAD}],
        "openai-compatibility": [
            {"name": "mimo", "base-url": DEAD, "api-key-entries": [{"api-key": "o"}], "models": COMPAT}
        ],
    }
    proxy = await start_proxy("".join(f"{k}: {orjson.dumps(v).decode()}\n" for k, v in config.items()))
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.get(proxy.url + "/v1/models?client_version=0.146.0", headers=headers) as resp,
    ):
        assert resp.status == 200
        return {m["slug"]: m for m in (await resp.json())["models"]}


async def test_codex_client_catalog_entries_follow_the_config(start_proxy: Any) -> None:
    """CPA: TestCodexClientModelsResponse_InputModalitiesFromRegistry (text and image only,
    once each, in that order; image detail only with image input; an image-endpoint model
    hidden), TestCodexClientModelsResponse_AppliesDisplayNameToTemplateModel (the configured
    display name), TestCodexClientModelsResponseAppliesMaxContextLengthOverride (a
    configured max-context-length is the window; without one CPA's default 272000),
    TestCodexClientModelsResponseMapsMaxCompletionTokensToMaxTokens (the registry's output
    limit is ``max_tokens``), the synthesized half of
    TestCodexClientModelsResponse_DisablesSearchToolForSynthesizedModels.

    Small differences in form: a text-only entry says ``supports_image_detail_original:
    false`` where CPA leaves the key out, and the hidden image model keeps
    ``input_modalities: ["text"]`` where CPA drops the key (it is hidden either way)."""
    models = await _catalog(start_proxy)
    assert models["mimo-vision"]["input_modalities"] == ["text", "image"]
    assert models["mimo-vision"]["supports_image_detail_original"] is True
    assert models["mimo-mixed"]["input_modalities"] == ["text", "image"]
    assert models["mimo-mixed"]["supports_image_detail_original"] is True
    assert models["mimo-text-only"]["input_modalities"] == ["text"]
    assert not models["mimo-text-only"].get("supports_image_detail_original")
    assert models["compat-image-only"]["visibility"] == "hide"
    flash, pro = models["deepseek-v4-flash"], models["deepseek-v4-pro"]
    assert flash["display_name"] == "Configured Name"
    assert (flash["context_window"], flash["max_context_window"]) == (1048576, 1048576)
    assert (pro["context_window"], pro["max_context_window"]) == (272000, 272000)
    assert models["gpt-5.5"]["max_tokens"] == 128000
    assert models["custom-model"]["supports_search_tool"] is False
    assert models["gpt-5.5"]["supports_search_tool"] is False  # no template: see the module
