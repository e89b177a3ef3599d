"""More plugin store cases from CPA (internal/pluginstore/install_test.go and
internal/api/handlers/management/plugin_store_test.go): the version a store config pins
among installed files, what counts as store auth in the listing, an archive over the
file discovery picks, and a release whose tag names no version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cliproxy.plugins.store.install import install_archive
from tests.fakes.plugin_store import FakePluginStore, plugin_zip
from tests.plugins.test_store_api import (
    GOARCH,
    GOOS,
    LIB,
    _call,
    _github,
    _proxy,
    _release,
    _store_cfg,
    _target,
)
from tests.plugins.test_store_api import store as store


def test_install_archive_overwrites_the_file_discovery_picks(tmp_path: Path) -> None:
    """CPA: TestInstallArchiveOverwritesRuntimeSelectedPlugin. An archive holding the plain
    ``alpha.so`` for version 1.0.0 replaces the ``alpha-v1.0.0.so`` already installed (the
    file the host loads for that version) and says so."""
    existing = tmp_path / "linux" / "amd64" / "alpha-v1.0.0.so"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"old")
    result = install_archive(
        plugin_zip({"alpha.so": b"new"}), "alpha", "1.0.0", str(tmp_path), "linux", "amd64"
    )
    assert result.path == str(existing) and result.overwritten and not result.skipped
    assert existing.read_bytes() == b"new"


async def test_list_reports_the_store_pinned_version_among_installed_files(start_proxy, store, tmp_path):
    """CPA: TestListPluginStoreUsesConfiguredStoreVersionWhenFilesCoexist. With
    ``alpha-v1.0.0`` and ``alpha-v1.2.0`` installed side by side and the plugin's store
    config pinning 1.0.0, the listing reports 1.0.0 and its file (the one the host loads),
    not the newer file."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github()]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": []}
    _release(store, "v1.2.0")
    pinned, newer = _target(tmp_path, "alpha", "1.0.0"), _target(tmp_path, "alpha", "1.2.0")
    pinned.parent.mkdir(parents=True)
    for path in (pinned, newer):
        path.write_bytes(LIB)
    proxy = await _proxy(
        start_proxy, store, tmp_path, "alpha: {store: {version: 1.0.0, release-tag: v1.0.0}}"
    )
    status, body = await _call(proxy, "GET", "/plugin-store")
    assert status == 200, body
    (alpha,) = body["plugins"]
    assert (alpha["installed"], alpha["installed_version"], alpha["path"]) == (True, "1.0.0", str(pinned))


async def _auth_proxy(start_proxy: Any, store: FakePluginStore, tmp_path: Path, match: str, kind: str) -> Any:
    """A proxy whose only credential rule is a bearer token for ``match``, for ``kind`` requests."""
    return await start_proxy(
        f"""
        plugins:
          enabled: true
          dir: {tmp_path}/plugins
          store-auth:
            - {{match: "{match}", apply-to: [{kind}], type: bearer, token-env: STORE_TOKEN, allow-insecure: true}}
            - {{match: "{store.url}/", allow-insecure: true}}
        """
    )


async def test_list_reports_auth_for_a_version_artifact(start_proxy, store, tmp_path):
    """CPA: TestListPluginStoreReportsVersionArtifactAuth. A direct plugin whose newest
    artifact has no credential but whose pinned version 0.3.0 downloads from a URL an
    ``artifact`` rule covers is listed with ``auth_configured`` true."""
    art = {"goos": GOOS, "goarch": GOARCH, "sha256": "0" * 64}
    beta = {
        "id": "beta", "name": "Beta", "description": "Direct plugin", "author": "acme", "version": "1.0.0",
        "install": {"type": "direct", "artifacts": [{**art, "url": f"{store.url}/downloads/beta.zip"}]},
        "versions": [{"version": "0.3.0", "install": {"type": "direct", "artifacts": [
            {**art, "url": f"{store.url}/versioned/beta-0.3.0.zip"}]}}],
    }  # fmt: skip
    store.registries["/registry.json"] = {"schema_version": 2, "plugins": [beta]}
    proxy = await _auth_proxy(start_proxy, store, tmp_path, f"{store.url}/versioned/", "artifact")
    status, body = await _call(proxy, "GET", "/plugin-store")
    assert status == 200, body
    assert [p["auth_configured"] for p in body["plugins"]] == [True]


async def test_list_reports_auth_for_github_metadata(start_proxy, store, tmp_path):
    """CPA: TestListPluginStoreReportsGitHubMetadataAuth. A release plugin whose GitHub
    release API (``/repos/acme/alpha/releases/``) a ``metadata`` rule covers is listed
    with ``auth_configured`` true; the same plugin without the rule reports false
    (test_list_merges_sources_and_local_status)."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github()]}
    _release(store, "v1.0.0")
    proxy = await _auth_proxy(
        start_proxy, store, tmp_path, f"{store.url}/repos/acme/alpha/releases/", "metadata"
    )
    status, body = await _call(proxy, "GET", "/plugin-store")
    assert status == 200, body
    assert [p["auth_configured"] for p in body["plugins"]] == [True]


async def test_install_refuses_a_latest_release_tag_naming_no_version(start_proxy, store, tmp_path):
    """CPA: TestInstallRejectsInvalidLatestReleaseTag. GitHub's newest release is tagged
    ``latest``: the install is refused as an invalid release tag (CPA's error; a 502 with
    ``plugin_install_failed`` here, as any install failure), nothing is written and the
    config is not touched."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github()]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": []}
    store.add_release("acme", "alpha", "latest", {})
    proxy = await _proxy(start_proxy, store, tmp_path)
    status, body = await _call(proxy, "POST", "/plugin-store/alpha/install")
    assert status == 502 and body["error"] == "plugin_install_failed", body
    assert "invalid release tag" in body["message"]
    assert not (tmp_path / "plugins").exists()
    assert _store_cfg(proxy, "alpha") is None
