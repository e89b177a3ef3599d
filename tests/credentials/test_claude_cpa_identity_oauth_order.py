"""CPA's TestClaudeOAuthRequestHeaderOrderMatchesNative220Capture: Claude's OAuth control
plane calls (token refresh, sign-in exchange, profile and roles lookups) write Claude Code
Axios's headers in its order, Host and Content-Length included, over the Claude OAuth TLS
hello (a local HTTPS fake behind a redirecting CONNECT proxy, as in test_refresh_tls.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from cliproxy.credentials.login.base import AuthStart
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers import impersonate
from tests.credentials.test_refresh_tls import (  # noqa: F401
    _ClaudeSignIn,
    _client,
    _cred,
    _trusting,
    anthropic_token,
    cert,
    http,
)
from tests.fakes.tls import HelloFront
from tests.providers.test_impersonate import Redirect

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")

POST = ["Accept", "Content-Type", "User-Agent", "Content-Length", "Accept-Encoding", "Host", "Connection"]
INSPECT = [
    "Accept", "Content-Type", "Authorization", "Cache-Control", "User-Agent", "Accept-Encoding", "Host", "Connection",
]  # fmt: skip


async def test_a_refresh_writes_axioss_header_order(tmp_path, http, cert, anthropic_token) -> None:  # noqa: F811
    """The refresh also carries Axios's Accept-Encoding and ``Connection: close`` (CPA
    applyClaudeOAuthAxiosHeaders); "br" only where brotli can read the answer."""
    fake, _front, redirect = anthropic_token
    cred = _cred(tmp_path, "claude", redirect.url)
    pool = Pool()
    pool.replace([cred])
    client = _client(http, cert)
    try:
        await Refresher(pool, http, token_client=client).refresh_now(cred)
    finally:
        await client.close()
    headers = fake.requests[0].headers
    assert list(headers) == POST
    assert headers["Host"] == "platform.claude.com" and headers["Connection"] == "close"
    assert headers["User-Agent"] == "axios/1.15.2"


class _Recording(_ClaudeSignIn):
    def __init__(self, cert: Any) -> None:  # noqa: F811
        super().__init__(cert)
        self.orders: list[list[str]] = []

    async def _answer(self, request: web.Request) -> web.Response:
        self.orders.append(list(request.headers))
        return await super()._answer(request)


async def test_the_sign_in_calls_write_axioss_header_orders(http, cert, monkeypatch) -> None:  # noqa: F811
    """The code exchange in the POST order; the profile and roles lookups (authenticated
    GETs) in their own."""
    for name in ("BASE", "TOKEN", "PROFILE", "ROLES"):
        monkeypatch.delenv(f"CLIPROXY_OAUTH_CLAUDE_{name}", raising=False)
    monkeypatch.setattr(impersonate, "ImpersonatingClient", _trusting(cert))
    server = await _Recording(cert).start()
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
        await flow.finish(started, code="c", state="st")
    finally:
        await redirect.stop()
        await front.stop()
        await server.stop()
    assert server.paths == ["/v1/oauth/token", "/api/oauth/profile", "/api/oauth/claude_cli/roles"]
    assert server.orders == [POST, INSPECT, INSPECT]
