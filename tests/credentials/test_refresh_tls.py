"""Token refresh over the Claude OAuth TLS hello (CPA ``auth/claude/utls_transport.go``).

CPA refreshes Claude tokens (``platform.claude.com``) and reads the profile
(``api.anthropic.com``) through uTLS with Claude Code's Axios hello; every other
provider's refresh keeps the ordinary client. A local HTTPS token endpoint behind a
front that records the ClientHello stands in for Anthropic; a CONNECT proxy that sends
every tunnel there lets the refresh ask for the real Anthropic URL, so the hello carries
the real SNI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.base import AuthStart
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers import impersonate
from cliproxy.providers.http import HttpClient
from cliproxy.providers.impersonate import CLAUDE_OAUTH, ImpersonatingClient, OriginRouter
from tests.fakes.oauth import OAuthFake
from tests.fakes.tls import Cert, HelloFront, make_cert
from tests.providers.test_impersonate import OAUTH_JA3, OAUTH_JA3_MD5, OAUTH_JA4, OAUTH_LENGTH, Redirect

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")

TOKEN_URL = "https://platform.claude.com/v1/oauth/token"


class _Tls:
    """An ``OAuthFake`` token endpoint served over HTTPS on 127.0.0.1."""

    def __init__(self, fake: OAuthFake, cert: Cert) -> None:
        self.fake = fake
        self.cert = cert
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> _Tls:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.fake._token)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.cert.server_context())
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
def cert(tmp_path) -> Cert:
    return make_cert(tmp_path, ("platform.claude.com", "api.anthropic.com", "localhost"))


@pytest.fixture
async def anthropic_token(cert) -> AsyncIterator[tuple[OAuthFake, HelloFront, Redirect]]:
    fake = OAuthFake()
    server = await _Tls(fake, cert).start()
    front = await HelloFront(server.port).start()
    redirect = await Redirect(front.port).start()
    yield fake, front, redirect
    await redirect.stop()
    await front.stop()
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    yield client
    await client.close()


def _cred(tmp_path: Path, provider: str, proxy: str) -> Credential:
    data = {
        "type": provider,
        "email": "a@example.com",
        "access_token": "old-at",
        "refresh_token": "old-rt",
        "proxy_url": proxy,
    }
    path = tmp_path / f"{provider}.json"
    path.write_bytes(orjson.dumps(data))
    cred = load_auth_file(path, tmp_path)
    assert cred is not None
    return cred


def _client(http: HttpClient, cert: Cert) -> OriginRouter:
    client = impersonate.token_client(http)
    assert isinstance(client, OriginRouter)
    client.impersonating.verify = str(cert.cert)  # trust the fake's certificate
    return client


def test_the_token_client_routes_only_claudes_control_plane(http) -> None:
    client = impersonate.token_client(http)
    assert isinstance(client, OriginRouter)
    assert client.impersonating.profile is CLAUDE_OAUTH
    assert client.fallback is http
    for url in (TOKEN_URL, "https://api.anthropic.com/api/oauth/profile"):
        assert url.startswith(client.prefixes), url
    for url in (
        "https://auth.openai.com/oauth/token",
        "https://oauth2.googleapis.com/token",
        "https://platform.claude.com.example/v1/oauth/token",
        "http://platform.claude.com/v1/oauth/token",
        "http://127.0.0.1:8080/token",
    ):
        assert not url.startswith(client.prefixes), url


async def test_a_claude_refresh_carries_the_claude_oauth_hello(tmp_path, http, cert, anthropic_token) -> None:
    fake, front, redirect = anthropic_token
    cred = _cred(tmp_path, "claude", redirect.url)
    pool = Pool()
    pool.replace([cred])
    client = _client(http, cert)
    refresher = Refresher(pool, http, token_client=client)
    try:
        updated = await refresher.refresh_now(cred)
    finally:
        await client.close()
    assert updated.access_token == "at-1"
    assert [r.path for r in fake.requests] == ["/v1/oauth/token"]
    assert fake.requests[0].fields["refresh_token"] == "old-rt"
    # then the profile, as CPA reads it after a refresh (the fake has none: the file keeps its own)
    assert redirect.asked == ["platform.claude.com:443", "api.anthropic.com:443"]
    hello = front.hellos[0]
    assert [h.ja3_md5 for h in front.hellos] == [OAUTH_JA3_MD5] * 2
    assert hello.ja3_md5 == OAUTH_JA3_MD5
    assert hello.ja4 == OAUTH_JA4
    # CPA's 245 bytes are for SNI api.anthropic.com; platform.claude.com is 2 bytes longer
    assert hello.length == OAUTH_LENGTH + len("platform.claude.com") - len("api.anthropic.com")


async def test_other_providers_refresh_through_the_plain_client(tmp_path, http, cert) -> None:
    async with OAuthFake() as fake:
        cred = _cred(tmp_path, "codex", "")
        pool = Pool()
        pool.replace([cred])
        client = _client(http, cert)
        refresher = Refresher(pool, http, token_urls={"codex": fake.url("/oauth/token")}, token_client=client)
        try:
            updated = await refresher.refresh_now(cred)
        finally:
            await client.close()
    assert updated.access_token == "at-1"
    assert [r.path for r in fake.requests] == ["/oauth/token"]
    assert client.impersonating._session is None  # curl never opened: aiohttp carried it


async def test_the_service_refreshes_claude_through_the_oauth_hello(
    tmp_path, start_proxy, cert, anthropic_token
) -> None:
    fake, front, redirect = anthropic_token
    auths = tmp_path / "auths"
    auths.mkdir()
    data = {
        "type": "claude",
        "email": "a@example.com",
        "access_token": "old-at",
        "refresh_token": "old-rt",
        "expired": "2999-01-01T00:00:00Z",  # not due: only the forced refresh below runs
        "proxy_url": redirect.url,
    }
    (auths / "claude-a.json").write_bytes(orjson.dumps(data))
    proxy = await start_proxy("")
    refresher = proxy.service.refresher
    assert refresher is not None
    client = refresher.token_client
    assert isinstance(client, OriginRouter) and client.fallback is proxy.service.http
    client.impersonating.verify = str(cert.cert)
    cred = proxy.service.pool.get("claude-a.json")
    assert cred is not None
    updated = await refresher.refresh_now(cred)
    assert updated.access_token == "at-1"
    assert redirect.asked == ["platform.claude.com:443", "api.anthropic.com:443"]  # the token, the profile
    assert [h.ja3_md5 for h in front.hellos] == [OAUTH_JA3_MD5] * 2
    assert [r.fields["refresh_token"] for r in fake.requests] == ["old-rt"]


class _ClaudeSignIn:
    """Claude's token endpoint, profile and roles over HTTPS on 127.0.0.1 (the hosts are
    platform.claude.com and api.anthropic.com; a ``Redirect`` proxy sends both here)."""

    def __init__(self, cert: Cert) -> None:
        self.cert = cert
        self.paths: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if request.path == "/v1/oauth/token":
            body = {
                "access_token": "at-1",
                "refresh_token": "rt-1",
                "expires_in": 3600,
                "account": {"uuid": "acct-1", "email_address": "a@example.com"},
            }
        elif request.path == "/api/oauth/profile":
            body = {"account": {"uuid": "acct-1", "email": "a@example.com"}}
        else:
            body = {}
        return web.json_response(body)

    async def start(self) -> _ClaudeSignIn:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.cert.server_context()).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def test_the_claude_sign_in_calls_carry_the_claude_oauth_hello(http, cert, monkeypatch) -> None:
    for name in ("BASE", "TOKEN", "PROFILE", "ROLES"):
        monkeypatch.delenv(f"CLIPROXY_OAUTH_CLAUDE_{name}", raising=False)
    monkeypatch.setattr(impersonate, "ImpersonatingClient", _trusting(cert))
    server = await _ClaudeSignIn(cert).start()
    front = await HelloFront(server.port).start()
    redirect = await Redirect(front.port).start()
    try:
        flow = ClaudeLogin(http, proxy=redirect.url)
        started = AuthStart(
            provider="claude",
            state="st",
            flow="callback",
            url="",
            redirect_uri="http://localhost:54545/callback",
            secrets={"code_verifier": "v"},
        )
        _, record = await flow.finish(started, code="c", state="st")
    finally:
        await redirect.stop()
        await front.stop()
        await server.stop()
    assert record["access_token"] == "at-1" and record["email"] == "a@example.com"
    assert server.paths == ["/v1/oauth/token", "/api/oauth/profile", "/api/oauth/claude_cli/roles"]
    assert redirect.asked == ["platform.claude.com:443", "api.anthropic.com:443", "api.anthropic.com:443"]
    # a full hello per host; the second call to api.anthropic.com resumes the TLS session
    # (CPA keeps a session cache too): the same hello plus pre_shared_key (41) at its end
    resumed = OAUTH_JA3.replace("-45-43,", "-45-43-41,")
    assert [h.ja3 for h in front.hellos] == [OAUTH_JA3, OAUTH_JA3, resumed]


def _trusting(cert: Cert) -> type[ImpersonatingClient]:
    """``ImpersonatingClient`` that trusts the fake's certificate."""

    class Trusting(ImpersonatingClient):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.verify = str(cert.cert)

    return Trusting
