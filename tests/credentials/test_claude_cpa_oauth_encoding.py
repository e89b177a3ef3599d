"""CPA's ``internal/auth/claude/oauth_response_test.go``: Claude's OAuth answers (the code
exchange, the profile and roles lookups) are read whatever compression they advertise,
one coding or several stacked over repeated ``Content-Encoding`` lines, through the
Claude OAuth TLS hello (a local HTTPS fake behind a redirecting CONNECT proxy)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest
from aiohttp import web

from cliproxy.credentials.login.base import AuthStart
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.providers import impersonate
from tests.credentials.test_refresh_tls import _ClaudeSignIn, _trusting, cert, http  # noqa: F401
from tests.fakes.tls import HelloFront
from tests.providers.test_impersonate import Redirect

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


class _Compressing(_ClaudeSignIn):
    """Every answer compressed by ``codings`` in order, each named on a line of its own."""

    def __init__(self, cert: Any, codings: list[str]) -> None:  # noqa: F811
        super().__init__(cert)
        self.codings = codings

    async def _answer(self, request: web.Request) -> web.Response:
        plain = await super()._answer(request)
        data = plain.body if isinstance(plain.body, bytes) else orjson.dumps({})
        for coding in self.codings:
            data = gzip.compress(data) if coding == "gzip" else _deflate(data)
        resp = web.Response(body=data, content_type="application/json")
        for coding in self.codings:
            resp.headers.add("Content-Encoding", coding)
        return resp


@pytest.mark.parametrize(
    "codings", [["gzip"], ["deflate"], ["gzip", "deflate"]], ids=["gzip", "deflate", "stacked"]
)
async def test_the_sign_in_reads_compressed_answers(http, cert, monkeypatch, codings) -> None:  # noqa: F811
    """CPA: TestReadClaudeOAuthResponseBodyDecodesAdvertisedEncodings (gzip; brotli is
    read where the brotli package is installed, and only then asked for),
    TestReadClaudeOAuthResponseBodyDecodesStackedRepeatedHeaders (gzip then deflate here:
    both in the standard library; CPA stacks gzip and br)."""
    for name in ("BASE", "TOKEN", "PROFILE", "ROLES"):
        monkeypatch.delenv(f"CLIPROXY_OAUTH_CLAUDE_{name}", raising=False)
    monkeypatch.setattr(impersonate, "ImpersonatingClient", _trusting(cert))
    server = await _Compressing(cert, codings).start()
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
    assert record["account_uuid"] == "acct-1"
