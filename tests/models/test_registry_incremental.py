"""A rebuild that keeps what did not change gives what a rebuild from nothing gives.

Each step rebuilds one long-lived registry, which reuses the tables of the credentials
it saw before, and a fresh one from the same inputs; the two must agree on everything a
request or a listing reads, and both with registering one credential at a time (CPA's
registry registers each client's models in turn).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cliproxy.credentials.record import Credential, ModelAlias
from cliproxy.credentials.sources import from_config
from cliproxy.models.bindings import bind_credential
from cliproxy.models.catalog import Catalog, ModelInfo
from cliproxy.models.registry import ModelRegistry

from .conftest import config, oauth


def _facts(info: ModelInfo | None) -> ModelInfo | None:
    """``info`` without the registration time a configured model takes (the clock's)."""
    return dataclasses.replace(info, created=0) if info is not None else info


def _view(registry: ModelRegistry, creds: list[Credential]) -> dict[str, Any]:
    listed = registry.listable()
    routes = {info.id: registry.resolve(info.id) for info in listed}
    return {
        "listed": [(i.id, _facts(i)) for i in listed],
        "providers": {m: r.providers for m, r in routes.items()},
        "by_provider": {
            (m, p): _facts(registry.model_info(m, p)) for m, r in routes.items() for p in r.providers
        },
        "auto": registry.resolve("auto").model if listed else None,
        "per_cred": {
            c.id: [
                (i.id, routes[i.id].upstream_models(c), routes[i.id].fixed(c)) for i in registry.models_for(c)
            ]
            for c in creds
        },
        "supports": {(c.id, m): r.supports(c, m) for c in creds for m, r in routes.items()},
    }


def _one_at_a_time(registry: ModelRegistry, creds: list[Credential], cfg: Any) -> dict[str, Any]:
    """Listing order, providers and info per provider, one credential after another."""
    order: list[str] = []
    infos: dict[tuple[str, str], ModelInfo | None] = {}
    counts: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for cred in creds:
        if cred.disabled or cred.id in seen:
            continue
        seen.add(cred.id)
        provider = cred.provider.strip().lower()
        table = bind_credential(cred, cfg, registry.catalog, 0, {}, registry.provider_models)
        for model, binding in table.items():
            if model not in counts:
                order.append(model)
            infos.setdefault((model, provider), _facts(binding.info))
            per = counts.setdefault(model, {})
            per[provider] = per.get(provider, 0) + 1
    providers = {m: sorted(per, key=lambda name: (-per[name], name)) for m, per in counts.items()}
    return {"order": order, "providers": providers, "by_provider": infos}


def _step(kept: ModelRegistry, data: dict[str, Any], files: list[Credential]) -> dict[str, Any]:
    """Rebuild ``kept`` and a fresh registry from the same inputs: they must agree."""
    cfg = config(data)
    creds = from_config(cfg) + files
    fresh = ModelRegistry(kept.catalog)
    fresh.provider_models = kept.provider_models
    kept.rebuild(creds, cfg)
    fresh.rebuild(creds, cfg)
    view = _view(kept, creds)
    assert view == _view(fresh, creds)
    oracle = _one_at_a_time(kept, creds, cfg)
    assert [m for m, _ in view["listed"] if m in oracle["providers"]] == oracle["order"]
    assert {m: view["providers"][m] for m in oracle["order"]} == oracle["providers"]
    assert {k: view["by_provider"][k] for k in oracle["by_provider"]} == oracle["by_provider"]
    return view


def _models(view: dict[str, Any], cred_id: str) -> list[str]:
    return [m for m, _, _ in view["per_cred"][cred_id]]


def test_unchanged_credentials_keep_their_models_across_unrelated_edits(catalog: Catalog) -> None:
    """A config edit that leaves the model inputs alone keeps every file credential's table."""
    registry = ModelRegistry(catalog)
    files = [oauth(f"c{i}.json", "claude") for i in range(3)] + [oauth("k.json", "kimi")]
    first = _step(registry, {"api-keys": ["a"]}, files)
    tables = {c.id: registry._gen.bindings[c.id] for c in files}
    again = _step(registry, {"api-keys": ["b"]}, files)
    assert again == first
    assert all(registry._gen.bindings[c.id] is tables[c.id] for c in files)  # not bound again


def test_changed_credential_gets_its_new_models_and_a_removed_one_loses_them(catalog: Catalog) -> None:
    registry = ModelRegistry(catalog)
    a, b = oauth("a.json", "claude"), oauth("b.json", "claude")
    view = _step(registry, {}, [a, b])
    assert "claude-sonnet-4-6" in _models(view, "a.json")
    # the same file rewritten with a prefix and an exclusion: a new object under the same id
    a2 = dataclasses.replace(a, prefix="team", excluded_models=("claude-sonnet-4-6",))
    view = _step(registry, {}, [a2, b])
    assert "team/claude-opus-4-6" in _models(view, "a.json")
    assert "claude-sonnet-4-6" not in _models(view, "a.json")
    assert "claude-sonnet-4-6" in _models(view, "b.json")
    view = _step(registry, {}, [b])  # a removed: nothing of it is served
    assert "team/claude-opus-4-6" not in view["providers"]
    assert not registry.models_for(a2)
    assert not registry.resolve("claude-sonnet-4-6").supports(a2, "claude-sonnet-4-6")


def test_disabling_a_kept_credential_takes_its_models_away(catalog: Catalog) -> None:
    registry = ModelRegistry(catalog)
    a, k = oauth("a.json", "claude"), oauth("k.json", "kimi")
    _step(registry, {}, [a, k])
    view = _step(registry, {}, [a, dataclasses.replace(k, disabled=True)])
    assert "kimi-k2" not in view["providers"]
    view = _step(registry, {}, [a, k])  # the first object again: served again
    assert "kimi-k2" in view["providers"]


def test_config_changes_that_touch_models_rebuild_them(catalog: Catalog) -> None:
    """oauth-model-alias, oauth-excluded-models, force-model-prefix and an API key's models
    list change what the kept credentials serve."""
    registry = ModelRegistry(catalog)
    files = [oauth("a.json", "claude", prefix="p"), oauth("b.json", "claude")]
    key = {"api-key": "sk-1", "models": [{"name": "claude-opus-4-6", "alias": "opus"}]}
    base: dict[str, Any] = {"claude-api-key": [key]}
    view = _step(registry, base, files)
    assert "claude-sonnet-4-6" in _models(view, "b.json")
    assert "p/claude-sonnet-4-6" in _models(view, "a.json")
    aliased = {
        **base,
        "oauth-model-alias": {"claude": [{"name": "claude-sonnet-4-6", "alias": "sonnet", "fork": False}]},
    }
    view = _step(registry, aliased, files)
    assert "sonnet" in _models(view, "b.json") and "claude-sonnet-4-6" not in _models(view, "b.json")
    view = _step(registry, {**aliased, "oauth-excluded-models": {"claude": ["claude-opus-*"]}}, files)
    assert not any(m.startswith("claude-opus") for m in _models(view, "b.json"))
    view = _step(registry, {**base, "force-model-prefix": True}, files)
    assert "claude-sonnet-4-6" not in _models(view, "a.json")
    assert "claude-sonnet-4-6" in _models(view, "b.json")
    renamed = {"claude-api-key": [{**key, "models": [{"name": "claude-opus-4-6", "alias": "big"}]}]}
    view = _step(registry, renamed, files)
    key_id = next(c.id for c in from_config(config(renamed)))
    assert _models(view, key_id) == ["big"]
    assert "opus" not in view["providers"]


def test_first_credential_still_decides_a_models_info_and_order(catalog: Catalog) -> None:
    """Credentials sharing a table register together, yet the model's info per provider
    and the listing order stay those of the first credential to register it."""
    registry = ModelRegistry(catalog)

    def named(cred_id: str, shown: str) -> Credential:
        rule = {"name": "claude-opus-4-6", "alias": "big", "display-name": shown}
        return oauth(cred_id, "claude", model_aliases=(rule,))

    plain = [oauth(f"c{i}.json", "claude") for i in range(3)]
    b, c = named("b.json", "B"), named("c.json", "C")
    for order, shown in (([plain[0], b, *plain[1:], c], "B"), ([c, *plain, b], "C"), ([*plain, b, c], "B")):
        _step(registry, {}, order)
        info = registry.model_info("big", "claude")
        assert info is not None and info.display_name == shown


def test_a_new_catalog_or_plugin_models_rebind_kept_credentials(catalog: Catalog) -> None:
    registry = ModelRegistry(catalog)
    files = [oauth("k.json", "kimi")]
    _step(registry, {}, files)
    extra = ModelInfo(id="kimi-plugin-x", display_name="x", owned_by="p", type="plugin")
    registry.provider_models = {"kimi": (extra,)}
    view = _step(registry, {}, files)
    assert "kimi-plugin-x" in _models(view, "k.json")
    registry.catalog = catalog.replaced({"kimi": [dataclasses.replace(extra, id="kimi-only")]})
    view = _step(registry, {}, files)
    assert _models(view, "k.json")[0] == "kimi-only"


def test_api_keys_and_plugin_credentials_are_bound_every_time(catalog: Catalog) -> None:
    """Their tables depend on their config entry or their plugin, not on the object alone."""
    registry = ModelRegistry(catalog)
    plugin = Credential(
        id="pl.json", provider="acme", kind="oauth", models=(ModelAlias("m1"),), attributes={"plugin": "acme"}
    )
    data = {"claude-api-key": [{"api-key": "sk-1"}]}
    _step(registry, data, [plugin])
    key = from_config(config(data))[0]
    first = registry._gen.bindings[key.id]
    _step(registry, data, [plugin])
    assert registry._gen.bindings[key.id] is not first


def test_a_credential_registered_again_shows_its_new_model_info(catalog: Catalog) -> None:
    """CPA: TestGetAvailableModelsInvalidatesCacheOnRegistryChanges (a client registered
    again with a new display name is listed with it): here the auth file is rewritten, so
    the same id comes with a new credential object."""
    registry = ModelRegistry(catalog)
    rule = {"name": "claude-opus-4-6", "alias": "m1", "display-name": "Model One"}
    first = oauth("c.json", "claude", model_aliases=(rule,))
    _step(registry, {}, [first])
    assert registry.model_info("m1", "claude").display_name == "Model One"  # type: ignore[union-attr]
    again = dataclasses.replace(first, model_aliases=({**rule, "display-name": "Model One Updated"},))
    _step(registry, {}, [again])
    assert registry.model_info("m1", "claude").display_name == "Model One Updated"  # type: ignore[union-attr]
