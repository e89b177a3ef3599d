"""CPA's internal/api/handlers/management/plugin_store_test.go, through a running proxy and
the fake plugin store over HTTP: TestListPluginStoreMatchesInstalledStatusToManifestSource."""

from __future__ import annotations

from tests.plugins.test_store_api import LIB, _call, _github, _proxy, _release, _target, store  # noqa: F401


async def test_listing_matches_the_installed_file_to_its_manifest_source(start_proxy, store, tmp_path):  # noqa: F811
    """The same plugin id in two registries, installed from the official one (its config's
    ``store.source-id``): the official entry says ``matched`` and offers the newer release;
    the community entry names the official source as the installed one, says ``different``
    and offers no update (an update there would switch the plugin's source)."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github()]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": [_github()]}
    _release(store, "v0.1.0")
    _target(tmp_path, "alpha", "0.0.1").parent.mkdir(parents=True)
    _target(tmp_path, "alpha", "0.0.1").write_bytes(LIB)
    proxy = await _proxy(start_proxy, store, tmp_path, "alpha: {store: {source-id: official}}")
    status, body = await _call(proxy, "GET", "/plugin-store")
    assert status == 200
    entries = {e["source_id"]: e for e in body["plugins"]}
    assert len(entries) == 2
    official = entries.pop("official")
    [community] = entries.values()
    assert official["installed_version"] == "0.0.1" and official["version"] == "0.1.0"
    assert (official["installed_source_id"], official["install_source_status"]) == ("official", "matched")
    assert official["update_available"] is True
    assert (community["installed_source_id"], community["install_source_status"]) == ("official", "different")
    assert community["update_available"] is False
