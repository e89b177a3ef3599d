"""/v0/management operations: reset-quota, api-call, and the OAuth login endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.management.conftest import mcall

KEY = "client-key"
MODEL = "claude-sonnet-4-6"
HEAD = f'api-keys: ["{KEY}"]\n'


async def ask_claude(proxy) -> int:
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        await r.read()
        return r.status


class Echo:
    """A fake upstream that records each request and answers 201 with a JSON body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.Response(
            status=201, body=b'{"ok": "\xc3\xa9"}', content_type="application/json", headers={"X-Multi": "1"}
        )

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    fake = Echo()
    await fake.server.start_server()
    yield fake
    await fake.server.close()


def put(tmp_path: Path, name: str, data: dict) -> None:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps(data))


# -- reset-quota ------------------------------------------------------------------------------


async def test_reset_quota_makes_a_cooled_credential_serve_again(mproxy, fake_claude):
    proxy = await mproxy(
        HEAD + f'claude-api-key:\n  - api-key: "sk-a"\n    base-url: "{fake_claude.base_url}"\n'
    )
    fake_claude.fail_next(429, retry_after=3600)
    assert await ask_claude(proxy) == 429
    calls = len(fake_claude.requests)
    assert await ask_claude(proxy) == 429  # cooling: the upstream is not even asked
    assert len(fake_claude.requests) == calls
    cred = proxy.service.pool.credentials()[0]
    status, body = await mcall(proxy, "POST", "/reset-quota", {"auth_index": cred.index})
    assert status == 200 and body["status"] == "ok" and body["auth_index"] == cred.index
    assert body["models"] == [MODEL]
    assert await proxy.service.pool.cooldowns(cred) == []
    assert await ask_claude(proxy) == 200


async def test_reset_quota_errors(mproxy):
    proxy = await mproxy(HEAD + 'claude-api-key:\n  - api-key: "sk-a"\n')
    cred = proxy.service.pool.credentials()[0]
    assert await mcall(proxy, "POST", "/reset-quota", {}) == (400, {"error": "auth_index is required"})
    assert await mcall(proxy, "POST", "/reset-quota", data=b"") == (400, {"error": "invalid request body"})
    assert await mcall(proxy, "POST", "/reset-quota", {"auth_index": cred.id}) == (
        404,
        {"error": "auth not found"},
    )
    assert await mcall(proxy, "GET", "/reset-quota") == (
        405,
        {"error": "method GET not allowed on /v0/management/reset-quota"},
    )


# -- api-call -----------------------------------------------------------------------------------


async def test_api_call_substitutes_the_oauth_token(mproxy, tmp_path, echo):
    put(tmp_path, "claude-a.json", {"type": "claude", "access_token": "at-secret", "email": "u@example.com"})
    proxy = await mproxy(HEAD)
    index = proxy.service.pool.get("claude-a.json").index
    status, body = await mcall(
        proxy,
        "POST",
        "/api-call",
        {
            "auth_index": index,
            "method": "post",
            "url": echo.url + "/v1/ping?x=1",
            "header": {"Authorization": "Bearer $TOKEN$", "X-Plain": "p"},
            "data": '{"q": 1}',
        },
    )
    assert status == 200
    assert body["status_code"] == 201 and body["body"] == '{"ok": "é"}'
    assert body["header"]["X-Multi"] == ["1"] and body["header"]["Content-Type"] == ["application/json"]
    method, path, headers, sent = echo.seen[-1]
    assert (method, path, sent) == ("POST", "/v1/ping?x=1", b'{"q": 1}')
    assert headers["Authorization"] == "Bearer at-secret" and headers["X-Plain"] == "p"


async def test_api_call_uses_the_api_key_and_host_override(mproxy, echo):
    proxy = await mproxy(HEAD + 'claude-api-key:\n  - api-key: "sk-config"\n')
    cred = proxy.service.pool.credentials()[0]
    status, body = await mcall(
        proxy,
        "POST",
        "/api-call",
        {
            "authIndex": cred.index,
            "method": "GET",
            "url": echo.url + "/",
            "header": {"x-api-key": "$TOKEN$", "Host": "example.test"},
        },
    )
    assert status == 200 and body["status_code"] == 201
    _, _, headers, sent = echo.seen[-1]
    assert headers["x-api-key"] == "sk-config" and headers["Host"] == "example.test" and sent == b""


async def test_api_call_without_credential_keeps_placeholder(mproxy, echo):
    proxy = await mproxy(HEAD)
    status, _ = await mcall(
        proxy,
        "POST",
        "/api-call",
        {
            "auth_index": "ffffffffffffffff",
            "method": "GET",
            "url": echo.url + "/",
            "header": {"X-T": "$TOKEN$"},
            "proxy_url": "direct",
        },
    )
    assert status == 200 and echo.seen[-1][2]["X-T"] == "$TOKEN$"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"url": "http://127.0.0.1:1/"}, "missing method"),
        ({"method": "GET"}, "missing url"),
        ({"method": "GET", "url": "not-a-url"}, "invalid url"),
        ({"method": "GET", "url": "http://127.0.0.1:1/", "proxy_url": "ftp://x"}, "invalid proxy_url"),
        ({"method": "GET", "url": "http://127.0.0.1:1/", "header": {"a": 1}}, "invalid body"),
        ([1, 2], "invalid body"),
    ],
)
async def test_api_call_bad_requests(mproxy, body, error):
    proxy = await mproxy(HEAD)
    assert await mcall(proxy, "POST", "/api-call", body) == (400, {"error": error})


async def test_api_call_credential_without_token_and_unreachable(mproxy, tmp_path):
    put(tmp_path, "claude-a.json", {"type": "claude", "email": "u@example.com"})
    proxy = await mproxy(HEAD)
    index = proxy.service.pool.get("claude-a.json").index
    assert await mcall(
        proxy,
        "POST",
        "/api-call",
        {"auth_index": index, "method": "GET", "url": "http://127.0.0.1:1/", "header": {"A": "$TOKEN$"}},
    ) == (400, {"error": "auth token not found"})
    assert await mcall(proxy, "POST", "/api-call", {"method": "GET", "url": "http://127.0.0.1:1/"}) == (
        502,
        {"error": "request failed"},
    )


# -- OAuth login endpoints -------------------------------------------------------------------


async def test_oauth_session_endpoints_know_no_state(mproxy):
    proxy = await mproxy(HEAD)
    assert await mcall(proxy, "GET", "/get-auth-status") == (200, {"status": "ok"})
    assert await mcall(proxy, "GET", "/get-auth-status?state=abc-123") == (
        200,
        {"status": "error", "error": "unknown or expired state"},
    )
    assert await mcall(proxy, "GET", "/get-auth-status?state=a..b") == (
        400,
        {"status": "error", "error": "invalid state"},
    )
    assert await mcall(proxy, "DELETE", "/oauth-session") == (
        400,
        {"status": "error", "error": "missing state"},
    )
    assert await mcall(proxy, "DELETE", "/oauth-session?state=abc") == (
        200,
        {"status": "ok", "cancelled": False},
    )
    assert await mcall(proxy, "GET", "/oauth-callback?code=c") == (
        400,
        {"status": "error", "error": "state is required"},
    )
    assert await mcall(proxy, "GET", "/oauth-callback?state=s1") == (
        400,
        {"status": "error", "error": "code or error is required"},
    )
    assert await mcall(proxy, "GET", "/oauth-callback?state=s1&code=c") == (
        404,
        {"status": "error", "error": "unknown or expired state"},
    )
    assert await mcall(
        proxy, "POST", "/oauth-callback", {"redirect_url": "http://localhost:1455/cb?state=s2&code=c"}
    ) == (404, {"status": "error", "error": "unknown or expired state"})
    assert await mcall(proxy, "POST", "/oauth-callback", data=b"{x") == (
        400,
        {"status": "error", "error": "invalid body"},
    )
