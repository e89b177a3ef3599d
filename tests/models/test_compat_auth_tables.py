"""Auth files the OpenAI-compatible provider serves each register their own entry's models."""

from __future__ import annotations

from cliproxy.models.registry import ModelRegistry

from .conftest import config, oauth

ENTRIES = [
    {"name": "alpha", "base-url": "https://alpha.example.com/v1", "models": [{"name": "alpha-1"}]},
    {"name": "beta", "base-url": "https://beta.example.com/v1", "models": [{"name": "beta-1"}]},
]


def test_auth_files_of_one_type_keep_their_own_entry(registry: ModelRegistry) -> None:
    """registerModelsForAuth (CPA's service) registers an OpenAI-compatible auth file's
    models from the entry its ``compat_name`` names, one auth at a time: two files of one
    type naming different entries serve different models, and a file with an endpoint but
    no entry of its name serves none of theirs. Before, files of one type shared the table
    of whichever registered first."""
    cfg = config({"openai-compatibility": ENTRIES})
    a = oauth("a.json", "plugin-provider", compat_name="alpha")
    b = oauth("b.json", "plugin-provider", compat_name="beta")
    c = oauth("c.json", "plugin-provider", base_url="https://c.example.com/v1")
    registry.rebuild([a, b, c], cfg)
    assert [m.id for m in registry.models_for(a)] == ["alpha-1"]
    assert [m.id for m in registry.models_for(b)] == ["beta-1"]
    assert registry.models_for(c) == []
    assert registry.resolve("beta-1").supports(b, "beta-1")
    assert not registry.resolve("beta-1").supports(a, "beta-1")


def test_entry_change_reaches_kept_auth_files(registry: ModelRegistry) -> None:
    """A reload that changes the entry's models re-registers the same auth file objects
    with the new models (CPA re-registers every auth on a config change); before, the
    table kept from the last rebuild stayed."""
    a = oauth("a.json", "plugin-provider", compat_name="alpha")
    registry.rebuild([a], config({"openai-compatibility": ENTRIES}))
    changed = [{**ENTRIES[0], "models": [{"name": "alpha-2"}]}, ENTRIES[1]]
    registry.rebuild([a], config({"openai-compatibility": changed}))
    assert [m.id for m in registry.models_for(a)] == ["alpha-2"]
