"""A Claude subscription credential's identity settled on first use (CPA
internal/runtime/executor/claude_executor_auth_test.go PrepareRequestAuth*): the device pool
made one device, a missing account read from the OAuth profile (or derived for setup
tokens, scope-restricted tokens and empty profiles), kept in the credential and its file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp import web

from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.claude_profile import RETRY_AFTER, ProfileLookup
from cliproxy.providers.http import HttpClient
from tests.e2e.clients import KEY

ACCOUNT = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
ORG = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
LEGACY = [c * 64 for c in "01234"]
PROFILE = {
    "account": {"uuid": ACCOUNT, "email": "user@example.com"},
    "organization": {"uuid": ORG, "name": "Example Org"},
}


class ProfileServer:
    """Anthropic's ``GET /api/oauth/profile``: ``status`` and ``body`` as set; every call kept."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = PROFILE
        self.calls: list[str] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(request.headers.get("Authorization", ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def profiles(monkeypatch: pytest.MonkeyPatch):
    server = ProfileServer()
    app = web.Application()
    app.router.add_get("/api/oauth/profile", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_BASE", f"http://127.0.0.1:{port}")
    yield server
    await runner.cleanup()


@pytest.fixture
async def http():
    client = HttpClient()
    yield client
    await client.close()


def oauth(tmp_path: Path, **meta: Any) -> Credential:
    path = tmp_path / "claude-a.json"
    data = {"type": "claude", "access_token": "sk-ant-oat01-prepare", **meta}
    path.write_bytes(orjson.dumps(data))
    return Credential(id="claude-a.json", provider="claude", metadata=data, path=path)


async def settle(cred: Credential, http: HttpClient) -> None:
    pending = ClaudeProvider().prepare(cred, http, proxy="")
    assert pending is not None
    assert await pending == {}


def saved(cred: Credential) -> dict[str, Any]:
    assert cred.path is not None
    out: dict[str, Any] = orjson.loads(cred.path.read_bytes())
    return out


async def test_populates_the_identity_from_the_profile(profiles, http, tmp_path) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuthPopulatesCredentialIdentity: the profile's
    account and organization, one device; nothing to prepare afterwards."""
    cred = oauth(tmp_path)
    await settle(cred, http)
    assert profiles.calls == ["Bearer sk-ant-oat01-prepare"]
    for where in (cred.metadata, saved(cred)):
        assert where["account_uuid"] == ACCOUNT and where["organization_uuid"] == ORG
        assert where["organization_name"] == "Example Org" and where["email"] == "user@example.com"
        assert where["claude_device_ids"] == [ident.derived_device(cred)]
    assert ClaudeProvider().prepare(cred, http, proxy="") is None
    assert ident.cli_identity(cred)[1] == ACCOUNT


async def test_migrates_five_devices_to_one_without_a_lookup(profiles, http, tmp_path) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuthMigratesFiveDevicesToOne."""
    cred = oauth(tmp_path, account_uuid=ACCOUNT, claude_device_ids=LEGACY)
    await settle(cred, http)
    assert profiles.calls == []
    assert saved(cred)["claude_device_ids"] == [LEGACY[0]]


@pytest.mark.parametrize(
    ("pool", "want"),
    [
        (["a" * 64, "a" * 64, "INVALID"], "a" * 64),
        (["  " + "A" * 64 + "  "], "a" * 64),
        (LEGACY, LEGACY[0]),
    ],
    ids=["duplicates-and-junk", "upper-case-and-spaces", "five-slots"],
)
async def test_the_device_pool_is_repaired_to_one_canonical_device(
    profiles, http, tmp_path, pool, want
) -> None:
    """CPA: TestEnsureDeviceIDPoolRepairsAndStabilizesCredentialMetadata,
    TestEnsureDeviceIDPoolCanonicalizesSingleDevice, TestEnsureDeviceIDPoolMigratesFiveSlotsToOne:
    the first valid device, lower-cased and trimmed, alone in the pool, in the credential
    and its file; settled once, nothing to do on the next request."""
    cred = oauth(tmp_path, account_uuid=ACCOUNT, claude_device_ids=pool)
    await settle(cred, http)
    assert profiles.calls == []
    assert cred.metadata["claude_device_ids"] == saved(cred)["claude_device_ids"] == [want]
    assert ClaudeProvider().prepare(cred, http, proxy="") is None
    assert ident.cli_identity(cred)[0] == want


@pytest.mark.parametrize(
    "meta",
    [
        {"scopes": "user:inference user:ccr_inference user:file_upload"},
        {"skip_account_profile": True},
        {"is_setup_token": True},
    ],
    ids=["setup-token-scopes", "skip-account-profile", "is-setup-token"],
)
async def test_setup_tokens_get_the_stable_identity(profiles, http, tmp_path, meta) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuthSetupTokenBypassesProfile,
    TestClaudeExecutorPrepareRequestAuthSkipAccountProfileConfig."""
    cred = oauth(tmp_path, **meta)
    await settle(cred, http)
    assert profiles.calls == []
    assert saved(cred)["account_uuid"] == ident.derived_account(cred)
    assert len(saved(cred)["claude_device_ids"]) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"type": "error", "error": {"type": "permission_error", "message": "scope requirement"}}),
        (200, {}),
    ],
    ids=["403-scope", "empty-account"],
)
async def test_falls_back_to_the_stable_identity(profiles, http, tmp_path, status, body) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuth403ScopeFallback,
    TestClaudeExecutorPrepareRequestAuthEmptyAccountUUIDInProfileFallback: one lookup.
    A deliberate difference from TestApplyClaudeCredentialMetadataRequiresAccountUUID and
    TestEnsureClaudeCLIFingerprintIdentityNoopWithoutSynthesize, where a sign-in without an
    account fails its request: here it gets the stable derived account, so a profile the
    token cannot read never takes a working subscription out of service."""
    profiles.status, profiles.body = status, body
    cred = oauth(tmp_path)
    await settle(cred, http)
    assert len(profiles.calls) == 1
    assert saved(cred)["account_uuid"] == ident.derived_account(cred)


@pytest.mark.parametrize("status", [401, 503])
async def test_a_failed_lookup_never_blocks_and_runs_again_later(profiles, http, tmp_path, status) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuthIgnoresFreshTimestampWithoutIdentity, with
    our difference: the request goes on with the stable identity (CPA fails it), nothing is
    saved, and the lookup runs again after RETRY_AFTER, not on every request."""
    profiles.status, profiles.body = status, {"error": "unavailable"}
    now = [1000.0]
    provider = ClaudeProvider()
    provider.profiles = ProfileLookup(clock=lambda: now[0])
    cred = oauth(tmp_path, claude_device_ids=[LEGACY[0]])
    pending = provider.prepare(cred, http, proxy="")
    assert pending is not None and await pending == {}
    assert "account_uuid" not in saved(cred) and ident.cli_identity(cred)[1] == ident.derived_account(cred)
    assert provider.prepare(cred, http, proxy="") is None  # not again at once
    now[0] += RETRY_AFTER
    profiles.status, profiles.body = 200, PROFILE
    pending = provider.prepare(cred, http, proxy="")
    assert pending is not None and await pending == {}
    assert saved(cred)["account_uuid"] == ACCOUNT and len(profiles.calls) == 2


async def test_concurrent_first_requests_share_one_lookup(profiles, http, tmp_path) -> None:
    """CPA: TestClaudeExecutorPrepareRequestAuthIsRaceFreeOnSharedCredential,
    TestEnsureDeviceIDPoolConcurrentInitialization: first requests of one credential at once
    make one lookup, and its identity (one device) is the credential's."""
    profiles.delay = 0.2
    cred = oauth(tmp_path)
    provider = ClaudeProvider()
    pending = [provider.prepare(cred, http, proxy="") for _ in range(3)]
    await asyncio.gather(*(p for p in pending if p is not None))
    assert len(profiles.calls) == 1
    assert cred.metadata["account_uuid"] == ACCOUNT and len(cred.metadata["claude_device_ids"]) == 1


def test_api_keys_and_other_providers_need_nothing(tmp_path) -> None:
    provider = ClaudeProvider()
    key = Credential(id="k", provider="claude", api_key="sk-ant-api03-x")
    kimi = Credential(id="kimi", provider="kimi", metadata={"access_token": "tok"})
    assert provider.prepare(key, None, proxy="") is None  # type: ignore[arg-type]
    assert provider.prepare(kimi, None, proxy="") is None  # type: ignore[arg-type]


async def test_through_the_proxy_the_request_names_the_real_account(
    start_proxy, fake_claude, profiles, tmp_path
) -> None:
    """An imported file with the old five-device pool and no account: the first request's
    ``metadata.user_id`` already names the profile's account and the kept device, the
    file keeps both, and the second request looks nothing up."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    path = auth_dir / "claude-imported.json"
    data = {
        "type": "claude",
        "access_token": "sk-ant-oat01-imported",
        "refresh_token": "rt",
        "expired": "2099-01-01T00:00:00Z",
        "email": "imported@example.com",
        "base_url": fake_claude.base_url,
        "claude_device_ids": LEGACY,
    }
    path.write_bytes(orjson.dumps(data))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for _ in range(2):
            await client.messages.create(
                model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    for request in fake_claude.requests[-2:]:
        uid = orjson.loads(request.json["metadata"]["user_id"])
        assert uid["account_uuid"] == ACCOUNT and uid["device_id"] == LEGACY[0]
    assert profiles.calls == ["Bearer sk-ant-oat01-imported"]
    kept = orjson.loads(path.read_bytes())
    assert kept["account_uuid"] == ACCOUNT and kept["claude_device_ids"] == [LEGACY[0]]
    assert kept["access_token"] == "sk-ant-oat01-imported"
