"""CPA internal/client/codex/models/models_test.go and internal/registry/
codex_client_models_test.go through a running proxy: the catalog the Codex CLI reads
(``GET /v1/models?client_version=...``), built from the Codex client template catalog the
proxy fetched (here from the fake source in tests/fakes/model_catalog.py), for models the
config declares.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.models.remote import URLS_ENV
from tests.e2e.clients import KEY
from tests.fakes.model_catalog import CatalogSource, codex_catalog, start_with_templates, template

DEAD = "http://127.0.0.1:9"
CODEX_PATH = "/codex_client_models.json"


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
SOL_LEVELS = [
    {"effort": e, "description": e} for e in ("low", "medium", "high", "xhigh", "max", "ultra", "turbo")
]
TEMPLATES = codex_catalog(
    template("gpt-5.5", 1, display_name="Template Name"),
    template("gpt-5.6-sol", 2, supported_reasoning_levels=SOL_LEVELS),
)


def _config(*, codex_models: list[str] | None = None) -> str:
    codex: dict[str, Any] = {"api-key": "sk-codex", "base-url": DEAD}
    if codex_models:
        codex["models"] = [{"name": m} for m in codex_models]
    config = {
        "api-keys": [KEY],
        "codex-api-key": [codex],
        "openai-compatibility": [
            {"name": "mimo", "base-url": DEAD, "api-key-entries": [{"api-key": "o"}], "models": COMPAT}
        ],
    }
    return "".join(f"{k}: {orjson.dumps(v).decode()}\n" for k, v in config.items())


async def _catalog(proxy: Any) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.get(proxy.url + "/v1/models?client_version=0.146.0", headers=headers) as resp,
    ):
        assert resp.status == 200
        return {m["slug"]: m for m in (await resp.json())["models"]}


@pytest.fixture
async def source(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with CatalogSource() as server:
        server.codex = TEMPLATES
        monkeypatch.setenv(URLS_ENV, server.models_url)
        yield server


async def test_codex_client_catalog_entries_follow_the_config(
    start_proxy: Any, source: CatalogSource
) -> None:
    """CPA: TestCodexClientModelsResponse_InputModalitiesFromRegistry (text and image only,
    once each, in that order; image detail only with image input, the key left out
    otherwise; an image-endpoint model hidden, without input modalities),
    TestCodexClientModelsResponse_AppliesDisplayNameToTemplateModel (the registry's display
    name over the template's), TestCodexClientModelsResponseAppliesMaxContextLengthOverride
    (a configured max-context-length is the window; without one the default template's),
    TestCodexClientModelsResponseMapsMaxCompletionTokensToMaxTokens (the registry's output
    limit is ``max_tokens``), TestCodexClientModelsResponse_DisablesSearchToolForSynthesizedModels
    (a model built from the default template says false, a template model served only by
    Codex keeps the template's true) and TestCodexClientModelsResponse_PreservesUltraReasoningEffort
    (a template's ``ultra`` stays; an effort the Codex CLI does not know is dropped).

    Every entry carries real instructions: a template's own, or the default template's for
    a model without one (the fix: they used to be empty).

    Deliberate difference: a model built from the default template offers the reasoning
    levels our registry knows for it (none when it knows none) where CPA keeps the default
    template's; and its input is text only unless the registry says image
    (CPA keeps the template's when the registry says nothing)."""
    proxy = await start_with_templates(start_proxy, source, _config())
    models = await _catalog(proxy)
    five = models["gpt-5.5"]
    assert five["base_instructions"] == TEMPLATES["models"][0]["base_instructions"]
    assert five["display_name"] == "GPT 5.5" and five["priority"] == 1
    assert five["minimal_client_version"] == "0.140.0"
    assert five["max_tokens"] == 128000 and five["supports_search_tool"] is True
    custom = models["custom-model"]
    assert custom["base_instructions"] == five["base_instructions"]
    assert custom["minimal_client_version"] == "0.140.0"
    assert custom["supports_search_tool"] is False and "upgrade" not in custom
    levels = {lv["effort"]: lv["description"] for lv in custom["supported_reasoning_levels"]}
    assert levels["medium"] == "Balanced speed and depth"  # the registry's levels, not the template's
    assert custom["default_reasoning_level"] == "medium"
    assert "apply_patch_tool_type" not in custom and custom["service_tiers"] == []
    assert custom["prefer_websockets"] is False
    assert models["mimo-vision"]["input_modalities"] == ["text", "image"]
    assert models["mimo-vision"]["supports_image_detail_original"] is True
    assert models["mimo-mixed"]["input_modalities"] == ["text", "image"]
    assert models["mimo-mixed"]["supports_image_detail_original"] is True
    assert models["mimo-text-only"]["input_modalities"] == ["text"]
    assert "supports_image_detail_original" not in models["mimo-text-only"]
    image = models["compat-image-only"]
    assert image["visibility"] == "hide" and "input_modalities" not in image
    flash, pro = models["deepseek-v4-flash"], models["deepseek-v4-pro"]
    assert flash["display_name"] == "Configured Name"
    assert (flash["context_window"], flash["max_context_window"]) == (1048576, 1048576)
    assert (pro["context_window"], pro["max_context_window"]) == (372000, 372000)
    efforts = [lv["effort"] for lv in models["gpt-5.6-sol"]["supported_reasoning_levels"]]
    assert efforts == ["low", "medium", "high", "xhigh", "max", "ultra"]
    # models without a template follow the templates by display name, 100 apart (CPA)
    extra = sorted((e for e in models.values() if e["priority"] > 2), key=lambda e: e["priority"])
    assert [e["priority"] for e in extra] == [2 + 100 * (i + 1) for i in range(len(extra))]
    names = [e["display_name"].lower() for e in extra]
    assert names == sorted(names)


async def test_search_tool_needs_a_template_and_only_codex(start_proxy: Any, source: CatalogSource) -> None:
    """CPA TestCodexClientModelsResponse_RequiresTemplateAndCodexProvidersForSearchTool: a
    template model also served by another provider (gpt-5.5 through the compat entry) says
    false; one served only by Codex (gpt-5.6-sol) keeps the template's true; a Codex model
    without a template (gpt-5.4) says false."""
    text = _config(codex_models=["gpt-5.6-sol", "gpt-5.4", "gpt-5.5"]).replace(
        '{"name":"custom-model","alias":"custom-model"}', '{"name":"gpt-5.5","alias":"gpt-5.5"}'
    )
    proxy = await start_with_templates(start_proxy, source, text)
    models = await _catalog(proxy)
    assert models["gpt-5.6-sol"]["supports_search_tool"] is True
    assert models["gpt-5.5"]["supports_search_tool"] is False
    assert models["gpt-5.4"]["supports_search_tool"] is False


async def test_a_newer_template_catalog_replaces_the_one_served(
    start_proxy: Any, source: CatalogSource
) -> None:
    """CPA TestLoadCodexClientModelTemplatesRefreshesOnRevision and
    TestRefreshCodexClientModelsKeepsLastValidSnapshot: the next valid catalog replaces the
    templates served; a missing file, broken JSON or an incomplete entry keeps the last
    valid one (TestFetchCodexClientModelsFallsBackToNextURL is in tests/models)."""
    proxy = await start_with_templates(start_proxy, source, _config())
    updater = proxy.service.catalog_updater
    source.codex = codex_catalog(template("gpt-5.5", 1, base_instructions="Second instructions."))
    assert await updater.refresh_codex_templates() is True
    assert (await _catalog(proxy))["custom-model"]["base_instructions"] == "Second instructions."
    assert await updater.refresh_codex_templates() is False  # the same document again
    for broken in (None, b'{"models":', codex_catalog({"slug": "gpt-5.5"})):
        source.codex = broken
        assert await updater.refresh_codex_templates() is False
        assert (await _catalog(proxy))["gpt-5.5"]["base_instructions"] == "Second instructions."
    assert source.hits[CODEX_PATH] == 6


async def test_without_templates_the_codex_cli_keeps_its_own_catalog(start_proxy: Any) -> None:
    """No template catalog (local model mode, no fetch yet, offline): an empty catalog,
    which the Codex CLI lays over the one it bundles (its own models keep their prompts,
    others get its fallback prompt by name), where entries with empty ``base_instructions``
    would have sent those models no system prompt at all. CPA, whose build embeds a
    catalog, answers ``models: null`` without a default template."""
    proxy = await start_proxy(_config())
    assert await _catalog(proxy) == {}


async def test_a_configured_window_replaces_a_templates(start_proxy: Any, source: CatalogSource) -> None:
    """CPA TestCodexClientModelsResponseAppliesMaxContextLengthOverride, for a model with a
    template: a ``max-context-length`` in the model's config is its window (gpt-5.5 here);
    a window from the model catalog is not, so a template model the config gives none
    keeps the template's (gpt-5.4: the catalog says 1050000, the template 372000)."""
    source.codex = codex_catalog(template("gpt-5.5", 1), template("gpt-5.4", 2))
    codex = {
        "api-key": "sk-codex",
        "base-url": DEAD,
        "models": [{"name": "gpt-5.5", "max-context-length": 1048576}, {"name": "gpt-5.4"}],
    }
    text = f"api-keys: [{orjson.dumps(KEY).decode()}]\ncodex-api-key: [{orjson.dumps(codex).decode()}]\n"
    models = await _catalog(await start_with_templates(start_proxy, source, text))
    five, four = models["gpt-5.5"], models["gpt-5.4"]
    assert (five["context_window"], five["max_context_window"]) == (1048576, 1048576)
    assert (four["context_window"], four["max_context_window"]) == (372000, 372000)


async def test_templates_from_a_file_url(
    start_proxy: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """No network: ``CLIPROXY_MODELS_URLS`` naming a ``file://`` models.json makes the
    updater read codex_client_models.json beside it from the disk (a missing models.json
    only keeps the packaged model catalog). CPA reads its embedded copy instead, which we
    do not ship: a deliberate difference (with ``-local-model`` as without: see
    :func:`test_local_model_reads_the_file_copy_only`)."""
    (tmp_path / "codex_client_models.json").write_bytes(orjson.dumps(TEMPLATES))
    monkeypatch.setenv(URLS_ENV, (tmp_path / "models.json").as_uri())
    proxy = await start_with_templates(start_proxy, None, _config())
    models = await _catalog(proxy)
    assert models["custom-model"]["base_instructions"] == TEMPLATES["models"][0]["base_instructions"]


async def test_local_model_reads_the_file_copy_only(
    start_proxy: Any, source: CatalogSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """CPA cmd/server main.go ``-local-model`` ("Use embedded models.json and
    codex_client_models.json only", TestModelCatalogUpdaterPlan: no updater runs): CPA
    still serves the Codex client catalog built into its binary. cliproxy ships none, so
    with ``-local-model`` (``model_updates`` off) a ``file://`` source's copy is read once
    at start in its place; the network source beside it is never asked, the models.json
    beside the file is not read (the packaged catalog stays, as CPA keeps its built-in one)
    and no refresh task runs. Before, -local-model left the Codex CLI catalog empty."""
    (tmp_path / "codex_client_models.json").write_bytes(orjson.dumps(TEMPLATES))
    (tmp_path / "models.json").write_bytes(orjson.dumps({"codex-pro": [{"id": "gpt-from-file"}]}))
    monkeypatch.setenv(URLS_ENV, f"{source.models_url},{(tmp_path / 'models.json').as_uri()}")
    proxy = await start_proxy(_config())  # model_updates=False: what serve -local-model runs
    models = await _catalog(proxy)
    assert models["custom-model"]["base_instructions"] == TEMPLATES["models"][0]["base_instructions"]
    updater = proxy.service.catalog_updater
    assert updater._task is None and updater.refreshes == 0 and updater.codex_refreshes == 1
    assert source.hits == {}
    assert "gpt-from-file" not in models


async def test_local_model_without_a_file_copy_serves_an_empty_catalog(
    start_proxy: Any, source: CatalogSource
) -> None:
    """``-local-model`` with only network sources: nothing is fetched, and the Codex CLI
    gets the empty catalog (it keeps the models and prompts it bundles)."""
    proxy = await start_proxy(_config())
    assert await _catalog(proxy) == {}
    assert proxy.service.catalog_updater is None and source.hits == {}
