from __future__ import annotations

import json

import pytest

from cliproxy.errors import ConfigError
from cliproxy.models.catalog import Catalog, ThinkingSupport
from cliproxy.providers.gemini import FEWEST_OUTPUT_TOKENS

FAMILIES = {
    "claude",
    "gemini",
    "vertex",
    "gemini-cli",
    "aistudio",
    "codex-free",
    "codex-team",
    "codex-plus",
    "codex-pro",
    "kimi",
    "antigravity",
    "xai",
}


def test_packaged_catalog_has_every_family(catalog: Catalog):
    assert set(catalog.families) == FAMILIES
    for name in FAMILIES:
        assert catalog.family(name), name
    assert catalog.family("nope") == ()


def test_entries_carry_limits_methods_and_thinking(catalog: Catalog):
    pro = catalog.lookup("gemini-2.5-pro")
    assert pro is not None
    assert pro.owned_by == "google" and pro.type == "gemini"
    assert pro.context_window == 1048576 and pro.max_output == 65536
    assert "generateContent" in pro.methods
    assert pro.thinking == ThinkingSupport(min=128, max=32768, dynamic_allowed=True)
    haiku = catalog.lookup("claude-haiku-4-5-20251001")
    assert haiku is not None and haiku.owned_by == "anthropic" and haiku.created > 0
    assert haiku.thinking is not None and haiku.thinking.zero_allowed
    codex = [m.id for m in catalog.family("codex-pro")]
    assert "gpt-5.5" in codex and "gpt-image-2" in codex
    assert catalog.lookup("gpt-5.5").thinking.levels  # level-based reasoning


def test_claude_sonnet_5_is_a_static_model(catalog: Catalog):
    """CPA: TestLookupModelInfoIncludesClaudeSonnet5 (and TestLookupModelInfoReturnsCloneForStaticDefinitions:
    the entries are frozen, their levels a tuple, so a caller cannot change them)."""
    sonnet = catalog.lookup("claude-sonnet-5")
    assert sonnet is not None and sonnet.type == "claude"
    assert (sonnet.context_window, sonnet.max_output) == (1_000_000, 128_000)
    assert sonnet.thinking == ThinkingSupport(
        zero_allowed=True, dynamic_allowed=True, levels=("low", "medium", "high", "xhigh", "max")
    )


def test_vertex_and_xai_carry_the_release_ids(catalog: Catalog):
    """CPA: TestGeminiVertexModelsUseFlashLiteReleaseID, TestWithXAIBuiltinsIncludesImage20,
    TestWithXAIBuiltinsIncludesVideo15GAAndPreviewAlias."""
    vertex = [m.id for m in catalog.family("vertex")]
    assert "gemini-3.1-flash-lite" in vertex and "gemini-3.1-flash-lite-preview" not in vertex
    xai = {m.id: m for m in catalog.family("xai")}
    assert xai["grok-imagine-image-2.0"].created == 1786060800  # 2026-08-07
    assert {"grok-imagine-video-1.5", "grok-imagine-video-1.5-preview"} <= set(xai)


def test_codex_plans_differ(catalog: Catalog):
    free = {m.id for m in catalog.family("codex-free")}
    pro = {m.id for m in catalog.family("codex-pro")}
    assert "gpt-5.3-codex-spark" in pro and "gpt-5.3-codex-spark" not in free


def test_override_file_replaces_by_id_appends_and_adds_families(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            {
                "format": "cliproxy-model-catalog",
                "version": 1,
                "families": {
                    "claude": {
                        "owned_by": "anthropic",
                        "type": "claude",
                        "models": [
                            {
                                "id": "claude-sonnet-4-6",
                                "display_name": "Renamed",
                                "limits": {"context": 1000000},
                            },
                            {
                                "id": "claude-new",
                                "display_name": "New",
                                "thinking": {"levels": ["low", "none"]},
                            },
                        ],
                    },
                    "mine": {"owned_by": "me", "type": "custom", "models": [{"id": "m-1"}]},
                },
            }
        )
    )
    base = Catalog.load()
    cat = Catalog.load(path)
    ids = [m.id for m in cat.family("claude")]
    assert ids[: len(base.family("claude"))] == [m.id for m in base.family("claude")]
    assert ids[-1] == "claude-new"
    assert cat.lookup("claude-sonnet-4-6").display_name == "Renamed"
    assert cat.lookup("claude-sonnet-4-6").context_window == 1000000
    new = cat.lookup("claude-new")
    assert new.thinking.levels == ("low", "none") and new.thinking.zero_allowed
    assert cat.family("mine")[0].owned_by == "me" and cat.family("mine")[0].display_name == "m-1"
    assert cat.family("gemini") == base.family("gemini")


@pytest.mark.parametrize("body", ["not json", "{}", '{"families": {"x": {"models": [{"name": "no id"}]}}}'])
def test_bad_override_file_is_a_config_error(tmp_path, body):
    path = tmp_path / "bad.json"
    path.write_text(body)
    with pytest.raises(ConfigError):
        Catalog.load(path)


def test_missing_override_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        Catalog.load(tmp_path / "absent.json")


def test_no_model_writes_fewer_than_the_gemini_cap_floor(catalog: Catalog):
    """``providers.gemini`` looks a model's output limit up only for an ask above
    ``FEWEST_OUTPUT_TOKENS``: no model of the packaged catalog may write fewer."""
    limits = [m.max_output for name in catalog.families for m in catalog.family(name) if m.max_output]
    assert limits and min(limits) >= FEWEST_OUTPUT_TOKENS
