"""The Codex client template catalog (CPA internal/registry/codex_client_models.go and its
updater): checked as CPA's ``ValidateCodexClientModelsJSON`` does, fetched beside each
``models.json`` source, the first valid one taken (a fake source here, never the network)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.models.catalog import ModelInfo
from cliproxy.models.codex_client import codex_client_models
from cliproxy.models.codex_templates import parse_codex_templates
from cliproxy.models.remote import MODELS_URLS, CatalogUpdater, codex_client_urls
from tests.fakes.model_catalog import CatalogSource, codex_catalog, template


def _raw(*entries: dict[str, Any]) -> bytes:
    return orjson.dumps(codex_catalog(*entries))


def _without(field: str) -> dict[str, Any]:
    entry = template("gpt-5.5")
    del entry[field]
    return entry


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"models":', "not JSON"),
        (b'{"models":[]}', "no models"),
        (_raw(template("")), "slug"),
        (_raw(template("gpt-5.5"), template("gpt-5.5")), "twice"),
        (_raw(template("gpt-5.6-sol")), "default template"),
        (_raw(_without("base_instructions")), "base_instructions"),
        (_raw(_without("minimal_client_version")), "minimal_client_version"),
        (_raw(template("gpt-5.5", context_window="372000")), "context_window must be an integer"),
        (_raw(template("gpt-5.5", context_window=400000)), "exceeds max_context_window"),
        (_raw(template("gpt-5.5", priority=-1)), "priority"),
        (_raw(template("gpt-5.5", default_reasoning_level="ultra")), "not a supported level"),
        (_raw(template("gpt-5.5", supported_reasoning_levels=[])), "non-empty array"),
    ],
    ids=[
        "malformed",
        "empty",
        "empty slug",
        "duplicate slug",
        "missing default",
        "missing instructions",
        "missing client version",
        "wrong field type",
        "window above max",
        "negative priority",
        "default level not supported",
        "no levels",
    ],
)
def test_invalid_catalogs_are_refused(raw: bytes, why: str) -> None:
    """CPA TestValidateCodexClientModelsJSON (each invalid case), plus the window and
    priority bounds its validator checks."""
    with pytest.raises(ValueError, match=why):
        parse_codex_templates(raw)


def test_a_valid_catalog_is_taken() -> None:
    """CPA TestValidateCodexClientModelsJSON (the valid catalog): integers may come as
    whole floats, as any JSON number may."""
    templates = parse_codex_templates(_raw(template("gpt-5.5", 1, context_window=372000.0), template("b", 2)))
    assert set(templates.entries) == {"gpt-5.5", "b"} and templates.default["slug"] == "gpt-5.5"


def test_the_sources_are_cpas() -> None:
    """CPA codexClientModelsURLs: the file beside each of the two models.json sources."""
    assert codex_client_urls(MODELS_URLS) == (
        "https://raw.githubusercontent.com/router-for-me/models/refs/heads/main/codex_client_models.json",
        "https://models.router-for.me/codex_client_models.json",
    )
    assert codex_client_urls(["http://a/x/bad", "http://a/x/models.json"]) == (
        "http://a/x/codex_client_models.json",
    )


async def test_an_invalid_source_falls_back_to_the_next() -> None:
    """CPA TestFetchCodexClientModelsFallsBackToNextURL: an incomplete catalog at the first
    source is skipped, the second's taken (and a failure keeps no half-catalog)."""
    async with CatalogSource() as bad, CatalogSource() as good:
        bad.codex = codex_catalog({"slug": "gpt-5.6-sol"})
        good.codex = codex_catalog(template("gpt-5.5", base_instructions="From the second source."))
        updater = CatalogUpdater(lambda: None, lambda *_: None, urls=[bad.models_url, good.models_url])  # type: ignore[arg-type, return-value]
        assert await updater.refresh_codex_templates() is True
        assert updater.codex_templates is not None
        assert updater.codex_templates.default["base_instructions"] == "From the second source."
        assert bad.hits == good.hits == {"/codex_client_models.json": 1}


def test_a_model_the_registry_knows_no_levels_of_offers_none() -> None:
    """Deliberate difference from CPA: a model built from the default template, for which
    the registry knows no reasoning levels, offers none (no default level, no summaries)
    where CPA would offer the default template's levels, which it may not accept."""
    templates = parse_codex_templates(_raw(template("gpt-5.5")))
    info = ModelInfo(id="plain", owned_by="someone", context_window=8192)
    (entry,) = codex_client_models([info], lambda _: ["openai-compatibility"], templates)["models"]
    assert entry["supported_reasoning_levels"] == [] and "default_reasoning_level" not in entry
    assert entry["supports_reasoning_summaries"] is False
    assert (entry["context_window"], entry["max_context_window"]) == (8192, 8192)
    assert entry["base_instructions"] == template("gpt-5.5")["base_instructions"]
    assert entry["additional_speed_tiers"] == [] and entry["priority"] == 101
