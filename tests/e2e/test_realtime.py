"""The Realtime WebSocket (``GET /v1/realtime``) relayed through a Codex sign-in to a fake
of OpenAI's Realtime socket (tests/fakes/codex_realtime.py), with the official ``openai``
SDK's realtime client where it can connect and aiohttp for the rest. CPA's
internal/client/codex/live/websocket_test.go cases, each named in its test's docstring.

Deliberate difference, asserted here: a ``openai-insecure-api-key.*`` subprotocol (a
browser's client key) is not offered upstream; CPA offers every client subprotocol."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_alpha_search import write_codex
from tests.fakes.codex_realtime import RealtimeFake
from tests.fakes.proxies import Socks5Proxy

TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with RealtimeFake() as fake:
        monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_REALTIME", fake.ws_base)
        yield fake


async def signed_in(start_proxy: Any, fake: Any, tmp_path: Path, extra: str = "") -> Any:
    write_codex(tmp_path, fake, "solo", account="account-123")
    return await start_proxy(f'api-keys: ["{KEY}"]\n{extra}')


def sdk(proxy: Any, key: str = KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0, timeout=10)


def ws_url(proxy: Any, query: str = "?model=gpt-realtime") -> str:
    return proxy.url.replace("http", "ws", 1) + "/v1/realtime" + query


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def refused(proxy: Any, key: str = KEY, query: str = "?model=gpt-realtime") -> tuple[int, Any, Any]:
    """The answer to an upgrade the proxy refuses: status, body, headers."""
    url = proxy.url + "/v1/realtime" + query
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(url, headers={"Authorization": f"Bearer {key}", **UPGRADE}) as r:
            assert r.status != 101
            return r.status, orjson.loads(await r.read()), r.headers


async def test_sdk_session_is_relayed_with_the_sign_in(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """TestHandleDirectWebsocketRelaysStandardRealtimeFrames: the SDK's session goes to the
    Realtime socket with the account's token and account id, the client's model in the URL
    (no intent), OpenAI-Alpha left out; events both ways. No token in any log line."""
    caplog.set_level(logging.DEBUG)
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    headers = {"OpenAI-Alpha": "quicksilver=v2", "Session-Id": "s-1"}
    async with (
        sdk(proxy) as client,
        client.realtime.connect(model="gpt-realtime", extra_headers=headers) as conn,
    ):
        created = await conn.recv()
        assert created.type == "session.created"
        assert created.session.model == "gpt-realtime"
        await conn.session.update(session={"type": "realtime", "instructions": "be brief"})
        updated = await conn.recv()
        assert updated.type == "session.updated" and updated.session.instructions == "be brief"
        await conn.response.create()
        assert [(await conn.recv()).type for _ in range(2)] == ["response.created", "response.done"]
    [seen] = [r for r in realtime.requests if r.path == "/v1/realtime"]
    assert seen.headers["Authorization"] == "Bearer token-solo"
    assert seen.headers["Chatgpt-Account-Id"] == "account-123"
    assert seen.headers["Originator"] == "Codex Desktop"
    assert seen.headers["Session-Id"] == "s-1"
    assert "OpenAI-Alpha" not in seen.headers
    assert seen.query == {"model": "gpt-realtime"}
    [sock] = realtime.sockets
    assert [orjson.loads(data)["type"] for _, data in sock.received] == ["session.update", "response.create"]
    for record in caplog.records:
        if record.name.startswith("cliproxy"):  # (the SDK's websockets client logs its own key)
            assert "token-solo" not in record.getMessage() and KEY not in record.getMessage()


async def test_frames_subprotocols_and_close_codes(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """TestHandleDirectWebsocketRelaysStandardRealtimeFrames (the echo, text as text) and
    CPA relayWebsockets: binary stays binary, the upstream's subprotocol is the client's,
    a close code goes through either way. Deliberate difference: the key subprotocol stays here."""
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    headers = {"Authorization": f"Bearer {KEY}"}
    protocols = ("realtime", "openai-insecure-api-key.sk-browser")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.ws_connect(ws_url(proxy), headers=headers, protocols=protocols) as ws:
            assert ws.protocol == "realtime"
            assert (await ws.receive_json())["type"] == "session.created"
            await ws.send_str("ping me")
            msg = await ws.receive()
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "echo:ping me")
            await ws.send_bytes(b"\x00\x01pcm")
            msg = await ws.receive()
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, b"\x00\x01pcm")
            await ws.send_json({"type": "test.close", "code": 4001, "reason": "bye"})
            msg = await ws.receive()
            assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 4001, "bye")
        assert realtime.sockets[0].protocols == ["realtime"]
        async with s.ws_connect(ws_url(proxy), headers=headers) as ws:
            assert (await ws.receive_json())["type"] == "session.created"
            await ws.close(code=4002, message=b"done")
    for _ in range(100):  # the relay passes the close on; the fake records it when it ends
        if realtime.sockets[1].close_code is not None:
            break
        await asyncio.sleep(0.02)
    assert realtime.sockets[1].close_code == 4002


async def test_plain_get_is_426(start_proxy: Any, realtime: RealtimeFake, tmp_path: Path) -> None:
    """TestRealtimeStandardRoutesAndClientSecretAuth: GET /v1/realtime without an upgrade is
    426 with Upgrade: websocket and CPA's error."""
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(
            ws_url(proxy).replace("ws", "http", 1), headers={"Authorization": f"Bearer {KEY}"}
        ) as r:
            assert r.status == 426 and r.headers["Upgrade"] == "websocket"
            assert await r.json() == {
                "error": {
                    "message": "WebSocket upgrade required",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "websocket_upgrade_required",
                }
            }


async def test_only_a_codex_sign_in_serves(start_proxy: Any, realtime: RealtimeFake) -> None:
    """CPA selects Codex OAuth accounts only (SelectAuthByKind oauth): a codex-api-key entry
    does not serve Realtime, the socket is refused with 503 codex_auth_unavailable.
    CPA: TestManagerSelectAuthByKindReturnsErrorWhenUnavailable."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "sk-codex"\n    base-url: "{realtime.base_url}"\n'
    )
    status, body, _ = await refused(proxy)
    assert status == 503
    assert body["error"]["code"] == "codex_auth_unavailable" and body["error"]["type"] == "server_error"
    assert realtime.sockets == []


@pytest.mark.parametrize(
    ("upstream", "status", "code"),
    [
        (404, 501, "realtime_capability_not_supported"),
        (401, 401, "realtime_upstream_unauthorized"),
        (429, 429, "realtime_websocket_upstream_unavailable"),
    ],
)
async def test_refused_upgrade(
    start_proxy: Any,
    realtime: RealtimeFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream: int,
    status: int,
    code: str,
) -> None:
    """CPA HandleDirectWebsocket's dial errors: the handshake's status (404 and 501 are 501
    not_supported_error, 401 authentication_error), Retry-After passed on."""
    # a 401 is dialled again after a token refresh, which fails here (no token route)
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", realtime.url("/oauth/token"))
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    realtime.fail_next(upstream, retry_after=7)
    got, body, headers = await refused(proxy)
    assert got == status and body["error"]["code"] == code, body
    if upstream == 429:
        assert headers["Retry-After"] == "7"


async def test_idle_socket_is_closed(start_proxy: Any, realtime: RealtimeFake, tmp_path: Path) -> None:
    """``timeouts.client-websocket-idle`` (ours: CPA's relay waits without a limit): no
    message either way for that long closes both sockets with 1000 "idle timeout"."""
    proxy = await signed_in(start_proxy, realtime, tmp_path, "timeouts:\n  client-websocket-idle: 400ms\n")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.ws_connect(ws_url(proxy), headers={"Authorization": f"Bearer {KEY}"}) as ws:
            assert (await ws.receive_json())["type"] == "session.created"
            msg = await ws.receive(timeout=5)
            assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 1000, "idle timeout")
    for _ in range(100):
        if realtime.sockets[0].close_code is not None:
            break
        await asyncio.sleep(0.02)
    assert realtime.sockets[0].close_code == 1000


async def test_the_socket_dials_through_the_credentials_proxy(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """CPA TestProxyURLForAuthPrefersCredentialOverride: the upstream Realtime socket goes
    through the sign-in's ``proxy_url`` when it has one, else the config's ``proxy-url``,
    and nowhere else with ``direct``."""
    async with Socks5Proxy() as config_proxy, Socks5Proxy() as own_proxy:
        for name, own in (("own", own_proxy.url), ("global", ""), ("direct", "direct")):
            auth_dir = tmp_path / name
            auth_dir.mkdir()
            write_codex(auth_dir, realtime, name)
            path = auth_dir / "auths" / f"{name}.json"
            path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), "proxy_url": own}))
            proxy = await start_proxy(
                f'auth-dir: "{auth_dir / "auths"}"\napi-keys: ["{KEY}"]\nproxy-url: "{config_proxy.url}"\n'
            )
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as s,
                s.ws_connect(ws_url(proxy), headers={"Authorization": f"Bearer {KEY}"}) as ws,
            ):
                assert (await ws.receive_json())["type"] == "session.created"
        assert (own_proxy.connections, config_proxy.connections) == (1, 1)
        assert [r.headers["Authorization"] for r in realtime.requests] == [
            "Bearer token-own",
            "Bearer token-global",
            "Bearer token-direct",
        ]
