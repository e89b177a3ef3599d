"""The curl client that dials chatgpt.com (Codex) and api.anthropic.com (Claude) with a
browser's or Claude Code's TLS hello writes each header as it is given: a client's value
with a line break in it became headers of the client's choosing on a request that carries
the account's token. It is now the client's 400, nothing sent, and no credential cooled,
as on the other upstream clients (test_header_line_breaks.py)."""

from __future__ import annotations

import aiohttp
import pytest

from cliproxy.errors import RequestError
from cliproxy.providers import impersonate
from cliproxy.providers.impersonate import CHROME, CLAUDE_CODE, ImpersonatingClient, OriginRouter
from tests.e2e.clients import KEY
from tests.fakes.openai import OpenAIFake
from tests.fakes.tls import make_cert, serve_tls
from tests.providers.test_impersonate import CODEX_CONFIG, Redirect

pytestmark = pytest.mark.skipif(not impersonate.available(), reason="curl_cffi not installed")

BAD = ["a\r\nChatgpt-Account-Id: another-workspace", "a\nX-Injected: 1", "a\x00b", "a\x7fb"]


@pytest.mark.parametrize("key", BAD, ids=["crlf", "lf", "nul", "del"])
async def test_a_codex_session_key_cannot_add_headers_on_chatgpt(start_proxy, tmp_path, key):
    """A Responses request's prompt_cache_key becomes Codex's Session-Id header (CPA); to
    https://chatgpt.com it goes through the curl client. Before, "a\\r\\nChatgpt-Account-Id:
    ..." reached chatgpt.com as two headers beside the account's token (a NUL cut the
    value short, a DEL went as it was); now the client gets 400 and nothing is sent, and
    the next request is served. CPA's Go client refuses such a value (net/http: invalid
    header field value)."""
    cert = make_cert(tmp_path)
    fake = await serve_tls(OpenAIFake(), cert)
    redirect = await Redirect(fake.port).start()
    try:
        proxy = await start_proxy(CODEX_CONFIG.replace("{redirect}", redirect.url))
        router = proxy.service.providers.get("codex").transport
        assert isinstance(router, OriginRouter) and router.impersonating.profile is CHROME
        router.impersonating.verify = str(cert.cert)  # trust the fake's certificate
        auth = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession() as s:
            body = {"model": "chrome-model", "input": "hi", "prompt_cache_key": key}
            async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
                answer = await r.json()
                assert r.status == 400, answer
                assert "line break or another control character" in answer["error"]["message"]
            assert not fake.requests
            body = {"model": "chrome-model", "input": "hi", "prompt_cache_key": "fine"}
            async with s.post(proxy.url + "/v1/responses", json=body, headers=auth) as r:
                assert r.status == 200, await r.text()
        [seen] = fake.requests
        assert seen.headers["Session-Id"] == "fine" and "X-Injected" not in seen.headers
    finally:
        await redirect.stop()
        await fake.stop()


@pytest.mark.parametrize("profile", [CHROME, CLAUDE_CODE], ids=["chrome", "claude-code"])
async def test_the_curl_client_refuses_before_it_dials(profile):
    """Refused before any connection: the URL's port has no listener, and the answer is
    the client's 400, not a network error."""
    client = ImpersonatingClient(profile)
    try:
        for value in BAD:
            with pytest.raises(RequestError, match="control character") as refused:
                await client.request(
                    "POST", "http://127.0.0.1:9/x", headers={"Session-Id": value}, body=b"{}"
                )
            assert refused.value.status == 400
    finally:
        await client.close()
