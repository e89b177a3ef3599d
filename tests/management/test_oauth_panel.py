"""Sign-in from the management panel, callback flows (Claude, Codex, Antigravity), over real
HTTP: the panel asks ``/<provider>-auth-url``, the test plays the browser at the fake
authorization server and lands on the proxy's ``/<provider>/callback``, then the panel
polls ``/get-auth-status``. CPA's bodies and error texts throughout."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import anthropic
import orjson
import pytest

from cliproxy.management.oauth_sessions import OAuthSessions
from cliproxy.server.management import LOGINS
from cliproxy.server.routes import MANAGEMENT_APP
from tests.fakes.antigravity_hub import AntigravityHubFake
from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401
from tests.login.conftest import Page, browse, fetch_location
from tests.management.conftest import mcall

HEAD = 'api-keys: ["k-client"]\n'
FAR = 10 * 24 * 3600  # token lifetime beyond every refresh lead: the refresh loop stays away

# provider -> (credential file, token answer's access token prefix, authorize path, PKCE)
CALLBACK = {
    "anthropic": ("claude-user@example.com.json", "at-claude-", "/oauth/authorize", True),
    "codex": ("codex-3abf465e-user@example.com-plus.json", "at-codex-", "/oauth/authorize", True),
    "antigravity": ("antigravity-user@example.com.json", "at-google-", "/o/oauth2/v2/auth", False),
}


@pytest.fixture
def signin(auth_server: AuthServerFake, monkeypatch: pytest.MonkeyPatch) -> AuthServerFake:  # noqa: F811
    """The fake authorization server with every Claude/Codex/Antigravity URL on it."""
    for provider in ("CLAUDE", "CODEX", "ANTIGRAVITY"):
        monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_BASE", auth_server.base)
    auth_server.expires_in = FAR
    auth_server.project_ready = True  # loadCodeAssist names the project at once
    return auth_server


def store_of(proxy: Any) -> OAuthSessions:
    return proxy.app[MANAGEMENT_APP][LOGINS].oauth


async def start(proxy: Any, name: str, query: str = "") -> dict[str, Any]:
    status, body = await mcall(proxy, "GET", f"/{name}-auth-url{query}")
    assert status == 200, body
    return body


async def land(proxy: Any, name: str, location: str) -> Page:
    """The browser on the proxy's callback route with what the provider sent it back with
    (what the forwarder on the provider's port does)."""
    return await browse(f"{proxy.url}/{name}/callback?{urlsplit(location).query}")


async def status_of(proxy: Any, state: str) -> tuple[int, Any]:
    return await mcall(proxy, "GET", f"/get-auth-status?state={state}")


async def until_done(proxy: Any, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        status, body = await status_of(proxy, state)
        assert status == 200
        if body["status"] != "wait":
            return body
        assert time.monotonic() < deadline, "the sign-in did not end"
        await asyncio.sleep(0.02)


def creds(proxy: Any, provider: str) -> list[Any]:
    return [c for c in proxy.service.pool.credentials() if c.provider == provider]


# -- every callback provider, end to end --------------------------------------------------------


@pytest.mark.parametrize("name", list(CALLBACK))
async def test_panel_sign_in_end_to_end(mproxy, signin, tmp_path, name):
    file_name, token_prefix, authorize_path, pkce = CALLBACK[name]
    proxy = await mproxy(HEAD)
    body = await start(proxy, name, "?is_webui=false")
    assert set(body) == {"status", "url", "state"} and body["status"] == "ok"
    url = urlsplit(body["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == signin.base + authorize_path
    assert query["state"] == body["state"]
    assert ("code_challenge" in query and query["code_challenge_method"] == "S256") is pkce
    assert await status_of(proxy, body["state"]) == (200, {"status": "wait"})

    page = await land(proxy, name, await fetch_location(body["url"]))

    assert page.status == 200 and "Authentication successful" in page.text
    assert await status_of(proxy, body["state"]) == (200, {"status": "ok"})
    saved = orjson.loads((tmp_path / "auths" / file_name).read_bytes())
    assert saved["access_token"].startswith(token_prefix) and saved["email"] == "user@example.com"
    provider = "claude" if name == "anthropic" else name
    live = creds(proxy, provider)
    assert [c.access_token for c in live] == [saved["access_token"]]  # in the pool, no restart


@pytest.mark.parametrize("name", list(CALLBACK))
async def test_the_callback_can_be_pasted_into_oauth_callback(mproxy, signin, tmp_path, name):
    """Without a browser landing on our port: the panel posts the redirect URL (CPA)."""
    proxy = await mproxy(HEAD)
    body = await start(proxy, name)
    location = await fetch_location(body["url"])
    assert await mcall(proxy, "POST", "/oauth-callback", {"provider": name, "redirect_url": location}) == (
        200,
        {"status": "ok"},
    )
    assert await until_done(proxy, body["state"]) == {"status": "ok"}
    assert (tmp_path / "auths" / CALLBACK[name][0]).is_file()


async def test_is_webui_forwards_the_providers_port_to_our_callback(mproxy, signin, tmp_path):
    proxy = await mproxy(HEAD)
    store_of(proxy).callback_ports["codex"] = 0  # tests bind any free port, not 1455
    body = await start(proxy, "codex", "?is_webui=1")
    forwarder = store_of(proxy).forwarders["codex"]
    location = urlsplit(await fetch_location(body["url"]))
    assert location.netloc == "localhost:1455"  # the registered redirect URI is kept

    page = await browse(f"http://127.0.0.1:{forwarder.port}{location.path}?{location.query}")

    assert page.status == 200 and "Authentication successful" in page.text
    assert page.url.startswith(f"{proxy.url}/codex/callback?")
    assert await status_of(proxy, body["state"]) == (200, {"status": "ok"})
    await asyncio.sleep(0)
    for _ in range(100):  # the sign-in ended: its forwarder is released and closed
        if "codex" not in store_of(proxy).forwarders:
            break
        await asyncio.sleep(0.01)
    assert "codex" not in store_of(proxy).forwarders
    with pytest.raises(aiohttp.ClientConnectionError):
        await browse(f"http://127.0.0.1:{forwarder.port}/auth/callback")


async def test_a_busy_callback_port_is_a_clear_error(mproxy, signin):
    proxy = await mproxy(HEAD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        store_of(proxy).callback_ports["anthropic"] = port
        status, body = await mcall(proxy, "GET", "/anthropic-auth-url?is_webui=true")
    assert status == 500
    assert body == {"error": f"failed to start callback server: port {port} is already in use"}
    assert len(store_of(proxy)) == 0  # no session was left behind


# -- failures ------------------------------------------------------------------------------------


async def test_denial_ends_the_sign_in_with_cpas_error(mproxy, signin, tmp_path):
    proxy = await mproxy(HEAD)
    signin.deny = True
    body = await start(proxy, "anthropic")
    page = await land(proxy, "anthropic", await fetch_location(body["url"]))
    assert page.status == 400 and "Sign-in failed" in page.text
    assert await status_of(proxy, body["state"]) == (200, {"status": "error", "error": "Bad request"})
    assert list((tmp_path / "auths").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [("codex", "Bad Request"), ("antigravity", "Authentication failed")],
)
async def test_denial_texts_per_provider(mproxy, signin, name, text):
    proxy = await mproxy(HEAD)
    signin.deny = True
    body = await start(proxy, name)
    await land(proxy, name, await fetch_location(body["url"]))
    assert await status_of(proxy, body["state"]) == (200, {"status": "error", "error": text})


async def test_a_wrong_state_reaches_no_sign_in(mproxy, signin, tmp_path):
    proxy = await mproxy(HEAD)
    body = await start(proxy, "anthropic")
    location = await fetch_location(body["url"])
    code = parse_qs(urlsplit(location).query)["code"][0]

    page = await browse(f"{proxy.url}/anthropic/callback?code={code}&state=not-{body['state'][:20]}")
    assert page.status == 400 and "unknown, expired or already finished" in page.text
    assert await mcall(proxy, "GET", f"/oauth-callback?state=other-state&code={code}") == (
        404,
        {"status": "error", "error": "unknown or expired state"},
    )
    # the callback of another provider's route does not count either
    assert (await land(proxy, "codex", location)).status == 400
    assert await status_of(proxy, body["state"]) == (200, {"status": "wait"})  # still waiting
    page = await land(proxy, "anthropic", location)  # the right answer still completes it
    assert page.status == 200 and await status_of(proxy, body["state"]) == (200, {"status": "ok"})


async def test_a_refused_code_exchange(mproxy, signin, tmp_path):
    """The code is spent before we exchange it: Codex's text carries the cause (CPA)."""
    proxy = await mproxy(HEAD)
    body = await start(proxy, "codex")
    location = await fetch_location(body["url"])
    code = parse_qs(urlsplit(location).query)["code"][0]
    signin._codes.pop(code)  # as if already used
    page = await land(proxy, "codex", location)
    assert page.status == 400
    assert (await status_of(proxy, body["state"]))[0] == 200
    _, answer = await status_of(proxy, body["state"])
    assert answer["status"] == "error"
    assert answer["error"].startswith("Failed to exchange authorization code for tokens: ")
    assert "Invalid authorization code" in answer["error"]


async def test_no_callback_in_time(mproxy, signin):
    proxy = await mproxy(HEAD)
    store_of(proxy).callback_timeout = 0.05
    claude = await start(proxy, "anthropic")
    antigravity = await start(proxy, "antigravity")
    assert await until_done(proxy, claude["state"]) == {
        "status": "error",
        "error": "Timeout waiting for OAuth callback",
    }
    assert await until_done(proxy, antigravity["state"]) == {
        "status": "error",
        "error": "OAuth flow timed out",
    }


async def test_expired_and_unknown_states(mproxy, signin, clock):
    """CPA: TestGetAuthStatusRejectsUnknownStateAndAcceptsCompletedState (unknown state)."""
    proxy = await mproxy(HEAD)
    store_of(proxy).clock = clock
    body = await start(proxy, "anthropic")
    clock.advance(31 * 60)  # CPA keeps a session 30 minutes
    unknown = (200, {"status": "error", "error": "unknown or expired state"})
    assert await status_of(proxy, body["state"]) == unknown
    assert await status_of(proxy, "never-issued") == unknown
    assert await status_of(proxy, "a..b") == (400, {"status": "error", "error": "invalid state"})


async def test_completed_sessions_answer_ok_then_refuse_callbacks(mproxy, signin, clock):
    """A finished sign-in stays a minute as a tombstone that answers ``ok`` and refuses
    callbacks with 409. CPA: TestOAuthSessionStoreCompleteKeepsShortLivedSession,
    TestGetAuthStatusRejectsUnknownStateAndAcceptsCompletedState, TestOAuthCallbackRejectsCompletedSession,
    TestGetOAuthSessionHidesCompletedSession (its HTTP face; the accessor is CPA's Go SDK)."""
    proxy = await mproxy(HEAD)
    store_of(proxy).clock = clock
    body = await start(proxy, "anthropic")
    location = await fetch_location(body["url"])
    await land(proxy, "anthropic", location)
    assert await status_of(proxy, body["state"]) == (200, {"status": "ok"})
    assert await mcall(proxy, "POST", "/oauth-callback", {"redirect_url": location}) == (
        409,
        {"status": "error", "error": "oauth flow is already completed"},
    )
    clock.advance(61)  # the tombstone lasts a minute
    assert (await status_of(proxy, body["state"]))[1]["error"] == "unknown or expired state"


async def test_callback_checks_the_provider(mproxy, signin):
    proxy = await mproxy(HEAD)
    body = await start(proxy, "anthropic")
    state = body["state"]
    assert await mcall(proxy, "GET", f"/oauth-callback?state={state}&code=c&provider=codex") == (
        400,
        {"status": "error", "error": "provider does not match state"},
    )
    assert await mcall(proxy, "GET", f"/oauth-callback?state={state}&code=c&provider=bogus") == (
        400,
        {"status": "error", "error": "unsupported provider"},
    )


async def test_cancel_stops_the_sign_in(mproxy, signin, tmp_path):
    """CPA: TestOAuthSessionStoreCancelRemovesPendingSession, TestCancelOAuthSessionAndCallbackRejectAfterCancel,
    TestCancelAuthSessionHandler (missing state: test_ops_api, invalid: test_oauth_sessions_cpa)."""
    proxy = await mproxy(HEAD)
    body = await start(proxy, "anthropic")
    state = body["state"]
    location = await fetch_location(body["url"])
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={state}") == (
        200,
        {"status": "ok", "cancelled": True},
    )
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={state}") == (
        200,
        {"status": "ok", "cancelled": False},
    )
    assert (await status_of(proxy, state))[1] == {"status": "error", "error": "unknown or expired state"}
    assert (await land(proxy, "anthropic", location)).status == 400
    assert list((tmp_path / "auths").iterdir()) == []
    assert signin.seen("/v1/oauth/token") == []  # the code was never exchanged


async def test_concurrent_sessions_finish_independently(mproxy, signin):
    """CPA's oauth_codex_concurrency_test: finishing one leaves the other pending."""
    proxy = await mproxy(HEAD)
    first, second = await start(proxy, "codex"), await start(proxy, "codex")
    await land(proxy, "codex", await fetch_location(first["url"]))
    assert await status_of(proxy, first["state"]) == (200, {"status": "ok"})
    assert await status_of(proxy, second["state"]) == (200, {"status": "wait"})


# -- the credential is live, and a second sign-in replaces it ------------------------------------


async def test_a_second_sign_in_replaces_the_account_live(mproxy, signin, fake_claude, tmp_path):
    """An expired account signs in again: the same file, the user's keys kept, one
    credential in the pool, and the very next request carries the new token."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    path = auth_dir / "claude-user@example.com.json"
    old = {
        "type": "claude",
        "email": "user@example.com",
        "access_token": "at-old",
        "refresh_token": "rt-old",
        "expired": "2099-01-01T00:00:00Z",
        "base_url": fake_claude.base_url,
        "note": "my account",
        "priority": 3,
    }
    path.write_bytes(orjson.dumps(old))
    proxy = await mproxy(HEAD)
    assert await ask_claude(proxy, fake_claude) == "Bearer at-old"
    fake_claude.fail_key("at-old", 401, message="OAuth token has been revoked")

    for _ in range(2):
        body = await start(proxy, "anthropic")
        await land(proxy, "anthropic", await fetch_location(body["url"]))
        assert await status_of(proxy, body["state"]) == (200, {"status": "ok"})
        saved = orjson.loads(path.read_bytes())
        assert await ask_claude(proxy, fake_claude) == f"Bearer {saved['access_token']}"

    assert sorted(p.name for p in auth_dir.iterdir()) == [path.name]
    assert (saved["note"], saved["priority"], saved["base_url"]) == ("my account", 3, fake_claude.base_url)
    assert saved["refresh_token"].startswith("rt-claude-")
    assert [c.access_token for c in creds(proxy, "claude")] == [saved["access_token"]]


async def ask_claude(proxy: Any, fake: Any) -> str:
    """One Claude request through the proxy; the Authorization header the upstream saw."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k-client", max_retries=0) as client:
        msg = await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert msg.content
    return str(fake.requests[-1].headers["Authorization"])


async def test_a_panel_antigravity_sign_in_reports_the_hub_version(mproxy, signin, tmp_path):
    """CPA's AntigravityAuth in the server (its shortUserAgent / nodeUserAgent and
    antigravityControlPlaneMetadata read misc.AntigravityLatestVersion, which the server's
    version updater keeps current): a sign-in started from the panel reports the version
    the proxy fetched from the Antigravity Hub in userinfo's and loadCodeAssist's user
    agent, onboardUser's long user agent and its ide_version. Before, it reported the
    fallback 2.9.1 whatever the Hub said."""
    hub = AntigravityHubFake(version="2.9.8")
    await hub.start()
    try:
        proxy = await mproxy(HEAD)
        version = proxy.service.antigravity_version
        version.url = hub.manifest_url
        assert await version.refresh(proxy.service.http) == "2.9.8"
    finally:
        await hub.stop()
    signin.project_ready, signin.onboard_pending = False, 0  # loadCodeAssist names none: onboardUser
    body = await start(proxy, "antigravity")
    page = await land(proxy, "antigravity", await fetch_location(body["url"]))
    assert page.status == 200 and await until_done(proxy, body["state"]) == {"status": "ok"}
    short = "antigravity/hub/2.9.8 darwin/arm64"
    for path in ("/oauth2/v2/userinfo", "/v1internal:loadCodeAssist"):
        assert [r.headers["User-Agent"] for r in signin.seen(path)] == [short], path
    [onboard] = signin.seen("/v1internal:onboardUser")
    assert onboard.headers["User-Agent"] == short + " google-api-nodejs-client/10.3.0"
    assert onboard.fields["metadata"]["ide_version"] == "2.9.8"
