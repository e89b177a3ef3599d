"""The plugin store client's requests against the fake store, through the real upstream
HTTP client: auth across redirects, redacted failures, the asset URL it picks.
CPA: ``internal/pluginstore/auth_test.go``, ``install_test.go``."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.plugins.store.auth import parse_rules
from cliproxy.plugins.store.client import ReleaseAsset, StoreClient
from cliproxy.plugins.store.registry import StoreError
from cliproxy.providers.http import HttpClient
from tests.fakes.plugin_store import FakePluginStore

DOC = {"schema_version": 1, "plugins": []}


@pytest.fixture
async def setup(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PRIVATE_TOKEN", "tok-123")
    http = HttpClient(connect_timeout=5, first_byte_timeout=5, idle_timeout=5)
    async with FakePluginStore() as store:
        rules = parse_rules([
            {"match": f"{store.url}/private/", "type": "bearer", "token-env": "PRIVATE_TOKEN", "allow-insecure": True},
            {"match": f"{store.url}/", "allow-insecure": True},
        ])  # fmt: skip
        yield store, StoreClient(http, rules=tuple(rules), timeout=5)
    await http.close()


async def test_auth_is_chosen_again_on_each_redirect(setup):
    """CPA: TestPluginStoreAuthHeaderIsReevaluatedAcrossRedirect, TestPluginStoreAuthHeaderIsAppliedToMatchingRedirect."""
    store, client = setup
    store.registries.update({"/private/r.json": DOC, "/public.json": DOC})
    store.redirects.update({"/old.json": f"{store.url}/private/r.json", "/private/old.json": "/public.json"})
    await client.fetch_registry(f"{store.url}/old.json")
    await client.fetch_registry(f"{store.url}/private/old.json")
    assert store.requests == [
        ("/old.json", ""), ("/private/r.json", "Bearer tok-123"),
        ("/private/old.json", "Bearer tok-123"), ("/public.json", ""),
    ]  # fmt: skip


async def test_failures_do_not_leak(setup):
    """CPA: TestAuthenticatedPluginStoreFailureDoesNotExposeResponseBody,
    TestPluginStoreRequestErrorRedactsQueryAndFragment."""
    store, client = setup
    with pytest.raises(StoreError) as private:
        await client.fetch_registry(f"{store.url}/private/missing.json")
    assert str(private.value) == "unexpected status 404"
    with pytest.raises(StoreError, match="no registry"):
        await client.fetch_registry(f"{store.url}/missing.json")
    refused = StoreClient(
        client.http, rules=tuple(parse_rules([{"match": "http://127.0.0.1:9/", "allow-insecure": True}]))
    )
    with pytest.raises(StoreError) as exc:
        await refused.fetch_registry("http://127.0.0.1:9/r.json?sig=hidden#frag")
    assert "127.0.0.1:9/r.json" in str(exc.value) and "hidden" not in str(exc.value)


async def test_asset_url_choice(setup):
    """CPA: TestDownloadAssetFallsBackToReleaseAssetAPIURLWhenBrowserDownloadURLEmpty,
    TestDownloadAssetUsesAPIURLWhenAuthMatchesArtifact, TestDownloadAssetUsesBrowserDownloadURLWithUnrelatedAuth."""
    store, client = setup
    store.files.update({"api.zip": b"api", "browser.zip": b"browser"})
    store.redirects["/private/api.zip"] = f"{store.url}/files/api.zip"
    assert await client.download_asset(ReleaseAsset("a", f"{store.url}/files/api.zip", "")) == b"api"
    private = ReleaseAsset("a", f"{store.url}/private/api.zip", f"{store.url}/files/browser.zip")
    assert await client.download_asset(private) == b"api"  # a credential is configured for the API URL
    public = ReleaseAsset("a", f"{store.url}/files/api.zip", f"{store.url}/files/browser.zip")
    assert await client.download_asset(public) == b"browser"
