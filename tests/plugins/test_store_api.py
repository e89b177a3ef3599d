"""``/v0/management/plugin-store``: listing and installing against a fake store over HTTP.

The fake (tests/fakes/plugin_store.py) serves the official registry
(``CLIPROXY_PLUGIN_STORE``), a third-party one, GitHub's release API
(``CLIPROXY_GITHUB_API``) and the assets; ``store-auth`` lets plain http through with
``allow-insecure``, as CPA requires. CPA: ``internal/api/handlers/management/plugin_store_test.go``.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from cliproxy.plugins.store.install import current_platform, plugin_extension
from tests.fakes.plugin_store import FakePluginStore, checksums, plugin_zip
from tests.plugins.native import CC, compile_command

MKEY = {"Authorization": "Bearer m-secret"}
GOOS, GOARCH = current_platform()
EXT = plugin_extension(GOOS)
LIB = b"\x7fELF fake plugin library"


def _github(name: str = "alpha", description: str = "Alpha plugin") -> dict[str, Any]:
    return {"id": name, "name": name.title(), "description": description, "author": "acme",
            "repository": f"https://github.com/acme/{name}"}  # fmt: skip


def _direct(
    store: FakePluginStore, data: bytes, size: int | None = None, version: str = "2.0.0"
) -> dict[str, Any]:
    store.files[f"beta-{version}.zip"] = data
    art = {"goos": GOOS, "goarch": GOARCH, "url": f"{store.url}/files/beta-{version}.zip",
           "sha256": hashlib.sha256(data).hexdigest(), "size": len(data) if size is None else size}  # fmt: skip
    return {"id": "beta", "name": "Beta", "description": "Direct plugin", "author": "acme", "version": version,
            "auth_required": True, "install": {"type": "direct", "artifacts": [art]}}  # fmt: skip


def _release(
    store: FakePluginStore, tag: str, lib: bytes = LIB, bad_sum: bool = False, name: str = "alpha"
) -> None:
    version = tag.removeprefix("v")
    archive = f"{name}_{version}_{GOOS}_{GOARCH}.zip"
    data = plugin_zip({f"{name}{EXT}": lib, "README.md": b"hi"})
    sums = checksums({archive: b"other" if bad_sum else data})
    store.add_release("acme", name, tag, {archive: data, "checksums.txt": sums})


@pytest.fixture
async def store(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with FakePluginStore() as fake:
        monkeypatch.setenv("CLIPROXY_PLUGIN_STORE", f"{fake.url}/registry.json")
        monkeypatch.setenv("CLIPROXY_GITHUB_API", fake.url)
        monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
        monkeypatch.setenv("STORE_TOKEN", "s3cret-token")
        yield fake


async def _proxy(start_proxy: Any, store: FakePluginStore, tmp_path: Path, configs: str = "") -> Any:
    return await start_proxy(
        f"""
        plugins:
          enabled: true
          dir: {tmp_path}/plugins
          store-sources: ["{store.url}/community.json", "{store.url}/missing.json"]
          store-auth:
            - {{match: "{store.url}/files/", type: bearer, token-env: STORE_TOKEN, allow-insecure: true}}
            - {{match: "{store.url}/", allow-insecure: true}}
          configs: {{{configs}}}
        """
    )


async def _call(proxy: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, proxy.url + "/v0/management" + path, headers=MKEY, json=body) as r,
    ):
        return r.status, await r.json()


def _store_cfg(proxy: Any, pid: str) -> Any:
    return (yaml.safe_load(proxy.config_path.read_text())["plugins"]["configs"] or {}).get(pid)


def _target(tmp_path: Path, pid: str, version: str) -> Path:
    return tmp_path / "plugins" / GOOS / GOARCH / f"{pid}-v{version}{EXT}"


async def test_list_merges_sources_and_local_status(start_proxy, store, tmp_path):
    """CPA: TestListPluginStoreMergesInstalledStatus, TestListPluginStoreUsesVersionFromInstalledFilename,
    TestListPluginStoreShowsLatestReleaseVersionAndCaches, TestListPluginStoreIncludesThirdPartySources,
    TestListPluginStoreIncludesDirectMetadataAndAuth, TestListPluginStoreEscapesRegistryStrings,
    TestListPluginStoreFallsBackToRegistryVersion (a source that fails is a source error)."""
    store.registries["/registry.json"] = {
        "schema_version": 1,
        "plugins": [_github(description="<b>Alpha</b>")],
    }
    store.registries["/community.json"] = {"schema_version": 2, "plugins": [_direct(store, b"zip")]}
    _release(store, "v1.0.0")
    _release(store, "v1.2.0")
    _target(tmp_path, "alpha", "1.0.0").parent.mkdir(parents=True)
    _target(tmp_path, "alpha", "1.0.0").write_bytes(LIB)
    proxy = await _proxy(start_proxy, store, tmp_path)
    status, body = await _call(proxy, "GET", "/plugin-store")
    assert status == 200 and body["plugins_enabled"] is True
    assert body["sources"][0]["id"] == "official" and len(body["sources"]) == 3
    assert [e["source_url"] for e in body["source_errors"]] == [f"{store.url}/missing.json"]
    alpha, beta = body["plugins"]
    assert alpha["store_id"] == "official/alpha" and alpha["description"] == "&lt;b&gt;Alpha&lt;/b&gt;"
    assert (alpha["installed"], alpha["installed_version"], alpha["version"]) == (True, "1.0.0", "1.2.0")
    assert alpha["update_available"] is True and alpha["install_source_status"] == "assumed"
    assert alpha["install_type"] == "github-release" and alpha["auth_configured"] is False
    assert beta["source_id"].startswith("source-") and beta["install_type"] == "direct"
    assert beta["platforms"] == [{"goos": GOOS, "goarch": GOARCH}] and beta["version"] == "2.0.0"
    assert (beta["auth_required"], beta["auth_configured"], beta["installed"]) == (True, True, False)
    latest_hits = sum(p.endswith("/releases/latest") for p, _ in store.requests)
    await _call(proxy, "GET", "/plugin-store")
    assert sum(p.endswith("/releases/latest") for p, _ in store.requests) == latest_hits  # cached


async def test_install_latest_pinned_and_identical(start_proxy, store, tmp_path):
    """CPA: TestInstallPluginFromStoreWritesFileAndEnablesConfig, TestInstallUsesLatestReleaseVersion,
    TestInstallVersionUsesPinnedReleaseTag, TestInstallPluginFromStoreOverwritesFilePreservesConfigAndReloads,
    TestEnablePluginConfigLockedPreservesExistingFields, TestInstallArchiveReportsOverwrite (identical: skipped)."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github("gamma")]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": []}
    _release(store, "v1.0.0", name="gamma")
    _release(store, "v1.2.0", name="gamma")
    proxy = await _proxy(start_proxy, store, tmp_path, "gamma: {mode: x}")
    status, body = await _call(proxy, "POST", "/plugin-store/gamma/install")
    assert status == 200, body
    path = _target(tmp_path, "gamma", "1.2.0")
    assert body == {"status": "installed", "source_id": "official", "source_name": "Official",
                    "source_url": f"{store.url}/registry.json", "id": "gamma", "version": "1.2.0",
                    "install_type": "github-release", "path": str(path), "plugins_enabled": True,
                    "restart_required": False}  # fmt: skip
    assert path.read_bytes() == LIB
    cfg = _store_cfg(proxy, "gamma")
    assert cfg["enabled"] is True and cfg["mode"] == "x"
    assert (cfg["store"]["version"], cfg["store"]["release-tag"], cfg["store"]["source-id"]) == (
        "1.2.0",
        "v1.2.0",
        "official",
    )
    before = path.stat().st_mtime_ns
    assert (await _call(proxy, "POST", "/plugin-store/gamma/install"))[0] == 200
    assert path.stat().st_mtime_ns == before  # identical bytes: left alone
    status, body = await _call(
        proxy, "POST", "/plugin-store/gamma/install?version=1.0.0", {"version": "v1.0.0"}
    )
    assert status == 200 and body["version"] == "1.0.0" and _target(tmp_path, "gamma", "1.0.0").is_file()
    assert _store_cfg(proxy, "gamma")["store"]["release-tag"] == "v1.0.0"
    status, body = await _call(
        proxy, "POST", "/plugin-store/gamma/install?version=1.0.0", {"version": "1.2.0"}
    )
    assert status == 400 and body["error"] == "invalid_request"


async def test_install_refuses_bad_archives(start_proxy, store, tmp_path):
    """CPA: TestVerifyChecksumRejectsMissingAndMismatch, TestInstallDirectRejectsChecksumMismatch,
    TestDownloadArtifactEnforcesDeclaredSizeDuringRead, TestInstallDirectDownloadsMatchingArtifactWithBearerAuth,
    TestInstallPluginFromStoreInstallsDirectArtifact, TestInstallPluginFromStoreHonorsDirectQueryVersion,
    TestPluginStoreDirectManifestPinsRequestedVersionArtifacts.
    Nothing is written and the config is untouched when a check fails."""
    good = plugin_zip({f"beta{EXT}": LIB})
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github()]}
    _release(store, "v3.0.0", bad_sum=True)
    proxy = await _proxy(start_proxy, store, tmp_path)
    for beta, why in ((_direct(store, good, size=10), "exceeds declared size"),
                      ({**_direct(store, good)}, "checksum mismatch")):  # fmt: skip
        if why == "checksum mismatch":
            store.files["beta-2.0.0.zip"] = good[:-1] + bytes([good[-1] ^ 1])  # same size
        store.registries["/community.json"] = {"schema_version": 2, "plugins": [beta]}
        status, body = await _call(proxy, "POST", "/plugin-store/beta/install")
        assert status == 502 and body["error"] == "plugin_install_failed" and why in body["message"], body
    status, body = await _call(proxy, "POST", "/plugin-store/alpha/install")
    assert status == 502 and "checksum mismatch" in body["message"]
    assert not (tmp_path / "plugins").exists() and _store_cfg(proxy, "alpha") is None
    assert {auth for p, auth in store.requests if p.startswith("/files/")} == {"Bearer s3cret-token"}
    assert {auth for p, auth in store.requests if not p.startswith("/files/")} == {""}
    store.files["beta-2.0.0.zip"] = good
    old = _direct(store, plugin_zip({f"beta{EXT}": b"old"}), version="1.5.0")["install"]
    beta = {**_direct(store, good), "versions": [{"version": "1.5.0", "install": old}]}
    store.registries["/community.json"] = {"schema_version": 2, "plugins": [beta]}
    status, body = await _call(proxy, "POST", "/plugin-store/beta/install?version=v1.5.0")
    assert (
        status == 200
        and body["version"] == "1.5.0"
        and _target(tmp_path, "beta", "1.5.0").read_bytes() == b"old"
    )
    status, body = await _call(proxy, "POST", "/plugin-store/beta/install")
    assert status == 200 and body["install_type"] == "direct" and _target(tmp_path, "beta", "2.0.0").is_file()
    assert _store_cfg(proxy, "beta")["store"]["install"]["artifacts"][0]["size"] == len(good)


async def test_install_errors_and_source_switches(start_proxy, store, tmp_path):
    """CPA: TestInstallPluginFromStoreRejectsImplicitSourceSwitch, TestInstallPluginFromStoreRejectsUnknownManagedSource,
    TestInstallPluginFromStoreRequiresSourceForDuplicateIDs, TestInstallPluginFromStoreUsesRequestedThirdPartySource."""
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github(), _github("delta")]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": [_github()]}
    _release(store, "v1.0.0")
    configs = "alpha: {store: {source-id: official, version: 1.0.0}}, delta: {store: {source-url: 'https://gone.example/r.json'}}"
    proxy = await _proxy(start_proxy, store, tmp_path, configs)
    status, body = await _call(proxy, "POST", "/plugin-store/delta/install")
    assert status == 409 and body["error"] == "plugin_store_installed_source_unknown"
    status, body = await _call(proxy, "POST", "/plugin-store/nope/install")
    assert status == 404 and body["error"] == "plugin_not_found"
    status, body = await _call(proxy, "POST", "/plugin-store/alpha/install?source=source-000000000000")
    assert status == 404 and body["error"] == "plugin_store_source_not_found"
    status, body = await _call(proxy, "POST", "/plugin-store/alpha/install")
    assert status == 409 and body["error"] == "plugin_store_source_required" and len(body["sources"]) == 2
    third = next(
        s for s in (await _call(proxy, "GET", "/plugin-store"))[1]["sources"] if s["id"] != "official"
    )
    status, body = await _call(proxy, "POST", f"/plugin-store/alpha/install?source={third['id']}")
    assert status == 409 and body["error"] == "plugin_store_source_conflict"
    assert (body["installed_source_id"], body["requested_source_id"]) == ("official", third["id"])
    assert not (tmp_path / "plugins").exists()
    status, body = await _call(proxy, "POST", "/plugin-store/alpha/install?source=official")
    assert status == 200 and body["source_id"] == "official"


@pytest.mark.skipif(CC is None, reason="needs a C compiler")
async def test_installed_native_plugin_is_loaded(start_proxy, store, tmp_path):
    """An installed library is opened by the reload the config edit starts. (The test library's
    metadata has no GitHubRepository, so the host then refuses to use it: it is opened and
    registered, not registered *validly*.)"""
    lib = tmp_path / "build" / f"basic{EXT}"
    lib.parent.mkdir()
    subprocess.run(compile_command("basic", lib), check=True, timeout=120)
    store.registries["/registry.json"] = {"schema_version": 1, "plugins": [_github("basic")]}
    store.registries["/community.json"] = {"schema_version": 1, "plugins": []}
    _release(store, "v0.1.0", lib.read_bytes(), name="basic")
    proxy = await _proxy(start_proxy, store, tmp_path)
    status, body = await _call(proxy, "POST", "/plugin-store/basic/install")
    assert status == 200, body
    async with asyncio.timeout(10):
        while "basic" not in proxy.service.plugins.records:
            await asyncio.sleep(0.02)
    assert proxy.service.plugins.records["basic"].path == str(_target(tmp_path, "basic", "0.1.0"))
    assert proxy.service.plugins.records["basic"].metadata["Name"] == "test-basic"
    status, listing = await _call(proxy, "GET", "/plugin-store")
    entry = listing["plugins"][0]
    assert entry["installed"] and entry["enabled"] and entry["install_source_status"] == "matched"
