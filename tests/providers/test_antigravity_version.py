"""CPA internal/misc/antigravity_version_test.go: the client version and user agents an
Antigravity account reports, the version kept current from the Antigravity Hub's update
manifest (tests/fakes/antigravity_hub.py) in the background.

Not applicable: TestAntigravityVersionFromUserAgentParsesHubFamily,
TestAntigravityVersionFromUserAgentParsesLegacyFamily: CPA parses only its own default user
agent that way (for onboardUser's ``ide_version``); cliproxy reads the version itself, the
same value (test_onboard_reports_the_fetched_version).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.config import load_or_default
from cliproxy.credentials.login import antigravity as login
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers import antigravity
from cliproxy.providers.antigravity_project import ProjectLookup
from cliproxy.providers.antigravity_version import (
    FALLBACK_VERSION,
    MANIFEST_URL_ENV,
    HubVersion,
    ManifestError,
)
from cliproxy.providers.http import HttpClient
from cliproxy.server.app import listen
from cliproxy.service import Service
from tests.conftest import Proxy
from tests.e2e.clients import KEY
from tests.e2e.test_antigravity_credits import CloudCode
from tests.e2e.test_providers_more import FAR
from tests.fakes.antigravity_hub import AntigravityHubFake
from tests.fakes.proxies import HttpProxy

SHORT = "antigravity/hub/2.9.7 darwin/arm64"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def hub() -> AsyncIterator[AntigravityHubFake]:
    fake = AntigravityHubFake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    try:
        yield client
    finally:
        await client.close()


def test_the_fallback_meets_the_backend_floor() -> None:
    """CPA: TestAntigravityLatestVersionUsesCurrentHubFallback,
    TestAntigravityFallbackVersionMeetsBackendFloor: before any fetch the fallback is
    reported; Cloud Code resolves newer models only for clients reporting at least 2.9.0
    (older ones get 404 Requested entity was not found). The sign-in reports it too."""
    assert HubVersion().current() == FALLBACK_VERSION == login.VERSION == antigravity.DEFAULT_VERSION
    major, minor, _patch = (int(n) for n in FALLBACK_VERSION.split("."))
    assert (major, minor) >= (2, 9)
    assert HubVersion().user_agent() == login.USER_AGENT == "antigravity/hub/2.9.1 darwin/arm64"


async def test_fetch_reads_the_hub_manifest(hub: AntigravityHubFake, http: HttpClient) -> None:
    """CPA: TestFetchAntigravityLatestVersionUsesHubManifest (electron-builder's headers),
    TestAntigravityUserAgentUsesHubFamily, TestAntigravityLoadCodeAssistUserAgentUsesShortUA
    and TestAntigravityOnboardUserUserAgentUsesLongUA with the fetched version."""
    version = HubVersion(hub.manifest_url)
    assert await version.refresh(http) == "2.9.7"
    assert hub.last.headers["User-Agent"] == "electron-builder"
    assert hub.last.headers["Cache-Control"] == "no-cache"
    assert version.current() == "2.9.7"
    assert version.user_agent() == SHORT
    assert version.onboard_user_agent() == f"{SHORT} google-api-nodejs-client/10.3.0"


@pytest.mark.parametrize(
    "manifest",
    [None, "version: 2.2.1\n", "version: 2.9\n", "version: ''\n", "[not, a, map]\n", "version: 2.9.x\n"],
    ids=["http-500", "below-floor", "two-parts", "empty", "not-a-map", "not-digits"],
)
async def test_a_failed_fetch_reports_the_fallback(
    hub: AntigravityHubFake, http: HttpClient, manifest: str | None
) -> None:
    """CPA: TestFetchAntigravityLatestVersionReturnsHubManifestError (a 500) and
    ``isValidAntigravitySemVersion``: no version is taken, the fallback is reported.
    Deliberate difference: a valid version below 2.9.0 (CPA's test manifest names 2.2.1)
    counts as a failure here; CPA would report it, and Cloud Code would then refuse the
    newer models for every account."""
    if manifest is None:
        hub.fail_next(500, times=None)
    else:
        hub.manifest = manifest
    version = HubVersion(hub.manifest_url)
    with pytest.raises(ManifestError):
        await version.fetch(http)
    assert await version.refresh(http) == FALLBACK_VERSION
    assert version.user_agent() == "antigravity/hub/2.9.1 darwin/arm64"


async def test_a_fetched_version_outlives_failures_for_six_hours(
    hub: AntigravityHubFake, http: HttpClient
) -> None:
    """CPA ``refreshAntigravityVersion`` / ``AntigravityLatestVersion``: a failed refresh
    keeps the fetched version while it is fresh (6 hours); after that the fallback."""
    clock = Clock()
    version = HubVersion(hub.manifest_url, clock=clock)
    await version.refresh(http)
    hub.fail_next(500, times=None)
    clock.now += 5 * 3600
    assert await version.refresh(http) == "2.9.7"
    clock.now += 3600
    assert version.current() == FALLBACK_VERSION
    assert await version.refresh(http) == FALLBACK_VERSION


async def test_onboard_reports_the_fetched_version(hub: AntigravityHubFake, http: HttpClient) -> None:
    """CPA ``antigravityControlPlaneMetadata``: a first-use onboardUser reports the current
    version as ``ide_version`` (CPA reads it back from its default user agent)."""
    version = HubVersion(hub.manifest_url)
    await version.refresh(http)
    cloud = await CloudCode().start()
    try:
        cred = Credential(
            id="antigravity-v.json", provider="antigravity", kind=KIND_OAUTH, metadata={"access_token": "t"}
        )
        lookup = ProjectLookup(version=version)
        await lookup.ensure(cred, http, base_url=cloud.url, user_agent=SHORT, proxy="")
    finally:
        assert cloud.runner is not None
        await cloud.runner.cleanup()
    onboard = [body for path, body in cloud.control if path.endswith(":onboardUser")]
    assert onboard and onboard[0]["metadata"]["ide_version"] == "2.9.7"
    assert cred.metadata["project_id"] == "onboarded-standard-tier"


async def test_the_service_refreshes_in_the_background_through_proxy_url(
    hub: AntigravityHubFake, fakes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPA ``StartAntigravityVersionUpdater``: the server fetches the manifest when it
    starts, in the background, and every Antigravity request of an account without a user
    agent of its own then reports the fetched version. The fetch goes through the config's
    ``proxy-url`` (CPA's only through the environment's proxy)."""
    monkeypatch.setenv(MANIFEST_URL_ENV, hub.manifest_url)
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    data = {
        "type": "antigravity",
        "access_token": "ag-version-token",
        "refresh_token": "ag-version-refresh",
        "expired": FAR,
        "email": "version@example.com",
        "project_id": "proj",
        "base_url": fakes.gemini.base_url,
    }
    (auth_dir / "antigravity-version.json").write_bytes(orjson.dumps(data))
    forward = HttpProxy()
    await forward.start()
    path = tmp_path / "config.yaml"
    path.write_text(f'auth-dir: {auth_dir}\napi-keys: ["{KEY}"]\nproxy-url: "{forward.url}"\n')
    config, _ = load_or_default(path)
    service = Service(config, path, watch=False, version_updates=True)
    proxy = Proxy(await listen(service, "127.0.0.1", 0), service, path)
    try:
        async with asyncio.timeout(10):
            while not hub.requests:
                await asyncio.sleep(0.02)
        options = gtypes.HttpOptions(base_url=proxy.url, retry_options=gtypes.HttpRetryOptions(attempts=1))
        client = genai.Client(api_key=KEY, http_options=options)
        try:
            await client.aio.models.generate_content(model="gemini-3-flash", contents="hi")
        finally:
            await client.aio.aclose()
    finally:
        await proxy.close()
        await forward.stop()
    assert [r.path for r in hub.requests] == ["/manifest/latest-arm64-mac.yml"]
    assert f"127.0.0.1:{hub.port}" in forward.targets, forward.targets
    generated = [r for r in fakes.gemini.requests if r.path.endswith(":generateContent")]
    assert generated and generated[-1].headers["User-Agent"] == SHORT
    assert os.environ[MANIFEST_URL_ENV] == hub.manifest_url
