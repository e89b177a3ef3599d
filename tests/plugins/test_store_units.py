"""The plugin store's pure parts on real objects: registry checks, versions, checksums,
manifests, archive extraction and auth rule matching. CPA: ``internal/pluginstore/*_test.go``,
``sdk/pluginstore/pluginstore_test.go``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from cliproxy.plugins.store.auth import apply_auth, check_request_url, matching_rule, parse_rules
from cliproxy.plugins.store.client import (
    Release,
    ReleaseAsset,
    parse_checksums,
    select_release_assets,
    verify_checksum,
)
from cliproxy.plugins.store.install import install_archive
from cliproxy.plugins.store.manifest import (
    Manifest,
    manifest_from_plugin,
    manifest_from_release,
    release_version,
)
from cliproxy.plugins.store.registry import (
    Artifact,
    InstallPlan,
    Plugin,
    Source,
    StoreError,
    github_repository_parts,
    parse_registry,
)
from cliproxy.plugins.store.sources import DEFAULT_REGISTRY_URL, normalize_sources, source_id
from cliproxy.plugins.store.versions import update_available
from tests.fakes.plugin_store import plugin_zip

SHA = "a" * 64
GH = {
    "id": "alpha",
    "name": "Alpha",
    "description": "d",
    "author": "acme",
    "repository": "https://github.com/acme/alpha",
}
ART = {"goos": "linux", "goarch": "amd64", "url": "https://cdn.example/alpha.zip", "sha256": SHA, "size": 10}
DIRECT = {**GH, "version": "1.0.0", "install": {"type": "direct", "artifacts": [ART]}}


def test_registry_parses_normalises_and_accepts_direct() -> None:
    """CPA: TestParseRegistryNormalizesPluginFields, TestValidateRegistryAllowsMissingVersion,
    TestParseRegistrySupportsDirectInstall, TestPluginArtifactsIncludesVersionArtifacts."""
    reg = parse_registry({"schema_version": 1, "plugins": [{**GH, "id": " alpha ", "tags": [" x "]}]})
    assert reg.plugins[0].id == "alpha" and reg.plugins[0].tags == ["x"] and reg.plugins[0].version == ""
    extra = {"version": "v0.9.0", "install": {"artifacts": [{**ART, "goos": "macos", "goarch": "aarch64"}]}}
    reg = parse_registry({"schema_version": 2, "plugins": [{**DIRECT, "versions": [extra]}]})
    plugin = reg.plugins[0]
    assert plugin.install_type == "direct" and plugin.versions[0].version == "0.9.0"
    assert plugin.platforms() == [{"goos": "linux", "goarch": "amd64"}, {"goos": "darwin", "goarch": "arm64"}]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"schema_version": 3, "plugins": []}, "unsupported schema_version"),
        ({"schema_version": 1, "plugins": [{**GH, "name": ""}]}, "missing required field name"),
        ({"schema_version": 1, "plugins": [{**GH, "id": "../x"}]}, "invalid plugin id"),
        ({"schema_version": 1, "plugins": [{**GH, "version": "v1"}]}, "invalid plugin version"),
        ({"schema_version": 1, "plugins": [GH, GH]}, "duplicate plugin id"),
        ({"schema_version": 1, "plugins": [{**GH, "repository": "https://gitlab.com/a/b"}]}, "repository must be"),
        ({"schema_version": 1, "plugins": [DIRECT]}, "direct install requires schema_version 2"),
        ({"schema_version": 2, "plugins": [{**DIRECT, "version": ""}]}, "missing required field version"),
        ({"schema_version": 2, "plugins": [{**DIRECT, "install": {"type": "direct", "artifacts": [{**ART, "sha256": "ab"}]}}]}, "invalid sha256 length"),
        ({"schema_version": 2, "plugins": [{**DIRECT, "install": {"type": "direct", "artifacts": [{**ART, "url": "https://x.example/a?token=1"}]}}]}, "sensitive query"),
        ({"schema_version": 2, "plugins": [{**DIRECT, "install": {"type": "direct", "artifacts": [{**ART, "url": "ftp://x.example/a"}]}}]}, "http or https"),
        ({"schema_version": 2, "plugins": [{**DIRECT, "install": {"type": "direct", "artifacts": []}}]}, "at least one artifact"),
        ({"schema_version": 1, "plugins": [{**GH, "id": 5}]}, "decode registry"),
    ],
)  # fmt: skip
def test_registry_rejects_invalid_entries(doc: dict[str, Any], message: str) -> None:
    """CPA: TestParseRegistryValidatesRegistry, TestValidateRegistryRejectsInvalidEntries,
    TestValidateRegistryRejectsInvalidDirectInstall, TestValidateRegistryRejectsDirectInstallInSchemaV1."""
    with pytest.raises(StoreError, match=message):
        parse_registry(doc)


def test_sources_and_repositories() -> None:
    """CPA: TestNormalizeSourcesAppendsURLsToDefaultSource, TestNormalizeSourcesSkipsDuplicates,
    TestGitHubRepositoryPartsRejectsNonRepositoryURLs."""
    sources = normalize_sources(
        [" https://c.example/r.json ", "", DEFAULT_REGISTRY_URL, "https://c.example/r.json"]
    )
    assert [(s.id, s.name) for s in sources] == [
        ("official", "Official"),
        (source_id("https://c.example/r.json"), "c.example"),
    ]
    assert sources[1].id.startswith("source-") and len(sources[1].id) == len("source-") + 12
    assert github_repository_parts("https://github.com/acme/alpha") == ("acme", "alpha")
    for bad in ("http://github.com/a/b", "https://github.com/a", "https://github.com/a/b/c", "https://github.com/a/b.git",
                "https://github.com/a/b?x=1", "https://example.com/a/b"):  # fmt: skip
        with pytest.raises(StoreError):
            github_repository_parts(bad)


def test_update_available_and_release_version() -> None:
    """CPA: TestUpdateAvailable, TestReleaseVersion."""
    assert update_available("1.0.0", "1.2.0") and update_available("v1.0", "1.0.1")
    assert not update_available("1.10.0", "1.9.0") and not update_available("1.0", "v1.0")
    assert not update_available("", "1.0.0") and update_available("1.0.0-beta", "1.0.0")
    assert release_version("v1.2.3") == "1.2.3" and release_version("2.0.0-rc.1") == "2.0.0-rc.1"
    for bad in ("", "v", "vv1.0.0", "latest"):
        with pytest.raises(StoreError):
            release_version(bad)


def test_release_assets_and_checksums() -> None:
    """CPA: TestSelectReleaseAssets, TestSelectReleaseAssetsRejectsMissingAssets,
    TestParseChecksumsAndVerifyChecksum, TestVerifyChecksumRejectsMissingAndMismatch."""
    release = Release("v1.0.0", [ReleaseAsset("alpha_1.0.0_linux_amd64.zip"), ReleaseAsset("checksums.txt")])
    archive, sums = select_release_assets(release, "alpha", "1.0.0", "linux", "amd64")
    assert (archive.name, sums.name) == ("alpha_1.0.0_linux_amd64.zip", "checksums.txt")
    with pytest.raises(StoreError, match=r"alpha_1\.0\.0_darwin_arm64\.zip not found"):
        select_release_assets(release, "alpha", "1.0.0", "darwin", "arm64")
    with pytest.raises(StoreError, match=r"checksums\.txt not found"):
        select_release_assets(Release("v1", release.assets[:1]), "alpha", "1.0.0", "linux", "amd64")
    digest = hashlib.sha256(b"data").hexdigest()
    sums_map = parse_checksums(f"# comment\n{digest.upper()} *a.zip\n\n".encode())
    assert sums_map == {"a.zip": digest}
    verify_checksum("a.zip", b"data", sums_map)
    for name, data, message in (("b.zip", b"data", "not found"), ("a.zip", b"other", "mismatch")):
        with pytest.raises(StoreError, match=message):
            verify_checksum(name, data, sums_map)
    for bad in (b"onlyonefield\n", b"abc a.zip\n", b"z" * 64 + b" a.zip\n"):
        with pytest.raises(StoreError):
            parse_checksums(bad)


def test_manifests() -> None:
    """CPA: TestManifestValidateRequiresPinnedReleaseTag, TestManifestValidateRejectsReleaseTagVersionMismatch,
    TestManifestFromReleaseBuildsPinnedManifest, TestManifestFromPluginBuildsDirectManifest,
    TestManifestFromPluginRejectsArtifactQuery."""
    source = Source("official", "Official", DEFAULT_REGISTRY_URL)
    plugin = Plugin(**{k: v for k, v in GH.items()})
    manifest = manifest_from_release(source, plugin, "v1.2.0")
    manifest.validate()
    cfg = manifest.to_config()
    assert (cfg["version"], cfg["release-tag"], cfg["source-id"], cfg["install"]) == (
        "1.2.0",
        "v1.2.0",
        "official",
        {"type": "github-release"},
    )
    assert Manifest.from_config(cfg) == manifest
    with pytest.raises(StoreError, match="release-tag"):
        Manifest(id="alpha", version="1.0.0", install=InstallPlan("github-release")).validate()
    with pytest.raises(StoreError, match="resolves version"):
        Manifest(**{**{k: getattr(manifest, k) for k in ("id", "name", "description", "author", "repository")}},
                 version="1.0.0", release_tag="v2.0.0").validate()  # fmt: skip
    direct = Plugin(id="beta", name="Beta", description="d", author="a", version="1.0.0",
                    install=InstallPlan("direct", [Artifact(**ART)]))  # fmt: skip
    manifest = manifest_from_plugin(source, direct)
    assert manifest.schema_version == 2 and manifest.to_config()["install"]["artifacts"][0]["sha256"] == SHA
    direct.install.artifacts[0].url = "https://cdn.example/alpha.zip?v=1"
    with pytest.raises(StoreError, match="query or fragment"):
        manifest_from_plugin(source, direct)


def test_install_archive(tmp_path: Path) -> None:
    """CPA: TestInstallArchiveWritesPlatformPlugin, TestInstallArchiveReportsOverwrite,
    TestInstallArchiveRejectsUnsafeArchives."""
    data = plugin_zip({"alpha.so": b"lib", "docs/readme.txt": b"x"})
    result = install_archive(data, "alpha", "v1.0.0", str(tmp_path), "linux", "amd64")
    target = tmp_path / "linux" / "amd64" / "alpha-v1.0.0.so"
    assert result.path == str(target) and target.read_bytes() == b"lib" and not result.overwritten
    assert install_archive(data, "alpha", "1.0.0", str(tmp_path), "linux", "amd64").skipped
    again = install_archive(
        plugin_zip({"alpha-v1.0.0.so": b"new"}), "alpha", "1.0.0", str(tmp_path), "linux", "amd64"
    )
    assert again.overwritten and not again.skipped and target.read_bytes() == b"new"
    assert install_archive(
        plugin_zip({"alpha.dylib": b"m"}), "alpha", "1.0.0", str(tmp_path), "macos", "arm64"
    ).path.endswith("darwin/arm64/alpha-v1.0.0.dylib")
    for files, message in (
        ({"../alpha.so": b"x"}, "escapes archive root"),
        ({"/alpha.so": b"x"}, "absolute"),
        ({"lib\\alpha.so": b"x"}, "backslash"),
        ({"lib/alpha.so": b"x"}, "must be at zip root"),
        ({"other.so": b"x"}, "filename must be"),
        ({"alpha.so": b"x", "alpha-v1.0.0.so": b"y"}, "multiple target"),
        ({"readme.txt": b"x"}, "does not contain alpha.so"),
    ):
        with pytest.raises(StoreError, match=message):
            install_archive(plugin_zip(files), "alpha", "1.0.0", str(tmp_path / "bad"), "linux", "amd64")
    with pytest.raises(StoreError, match="open zip"):
        install_archive(b"not a zip", "alpha", "1.0.0", str(tmp_path), "linux", "amd64")
    assert not (tmp_path / "bad").exists()


def test_auth_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPA: TestPluginStoreAuthMatchesURLHostAndPathBoundaries, TestPluginStoreGitHubTokenUsesExplicitTokenEnv,
    TestPluginStoreRequestURLRejectsCredentials."""
    monkeypatch.setenv("GH_TOKEN_X", "tok")
    rules = parse_rules([
        {"match": "https://api.github.com/repos/acme/", "type": "github-token", "token-env": "GH_TOKEN_X", "apply-to": ["Metadata"]},
        {"match": "https://files.example/private", "type": "basic", "username-env": "GH_TOKEN_X", "password-env": "GH_TOKEN_X"},
        {"match": "", "type": "bearer"},
    ])  # fmt: skip
    assert len(rules) == 2
    assert (
        matching_rule(rules, "https://api.github.com/repos/acme/alpha/releases/latest", "metadata")
        is rules[0]
    )
    assert matching_rule(rules, "https://api.github.com/repos/acme/alpha/releases/latest", "artifact") is None
    assert matching_rule(rules, "https://api.github.com/repos/acmex/alpha", "metadata") is None
    assert matching_rule(rules, "https://files.example/private/a.zip", "artifact") is rules[1]
    assert matching_rule(rules, "https://files.example/privateer/a.zip", "artifact") is None
    headers: dict[str, str] = {}
    assert apply_auth(headers, rules, "https://api.github.com/repos/acme/a", "metadata")
    assert headers == {"Authorization": "Bearer tok"}
    monkeypatch.delenv("GH_TOKEN_X")
    with pytest.raises(StoreError, match="GH_TOKEN_X is empty"):
        apply_auth({}, rules, "https://api.github.com/repos/acme/a", "metadata")
    for url, message in (("https://u:p@x.example/r.json", "credentials"), ("https://x.example/r.json?api_key=1", "sensitive"),
                         ("http://x.example/r.json", "allow-insecure")):  # fmt: skip
        with pytest.raises(StoreError, match=message):
            check_request_url(rules, url, "registry")
