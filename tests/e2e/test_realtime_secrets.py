"""Realtime client secrets (``POST /v1/realtime/client_secrets``, ``/v1/realtime/sessions``)
and the Realtime routes cliproxy does not relay, through a running proxy: CPA's
internal/client/codex/live/client_secret_test.go, capabilities_test.go and
internal/api/server_test.go cases, each named in its test's docstring.

Deliberate differences, asserted here: a WebRTC call (``POST /v1/realtime``,
``/v1/realtime/calls``, ``/v1/live``) is 503 even with a Codex sign-in, since cliproxy relays
no media and forwards no SDP (CPA forwards the offer to chatgpt.com); so no call exists to
join (404) or hang up (404). ``/v1/live`` answers in the OpenAI error shape where CPA writes
``{"error": "<text>"}``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_realtime import UPGRADE, refused, sdk, signed_in
from tests.fakes.codex_realtime import RealtimeFake

TIMEOUT = aiohttp.ClientTimeout(total=10)


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with RealtimeFake() as fake:
        monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_REALTIME", fake.ws_base)
        yield fake


async def post(
    proxy: Any, path: str, body: bytes | None = b"{}", key: str | None = KEY
) -> tuple[int, Any, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.post(proxy.url + path, data=body, headers=headers) as r:
            return r.status, orjson.loads(await r.read()), r.headers


def error(body: Any) -> tuple[str, str]:
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]["type"], body["error"]["code"]


async def test_secret_maps_the_model_and_opens_the_socket(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """TestCreateClientSecretMapsStandardRealtimeModel, TestHandleDirectWebsocketAppliesClientSecretSession
    and TestLiveSelectionHeadersRemoveLocalClientSecret: the SDK mints an ek_ secret whose
    session reads back as asked (id, object, model gpt-realtime, instructions); the SDK then
    connects with it alone, the upstream gets the account's token (never the secret) and
    first a session.update with the secret's session, without its model."""
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    async with sdk(proxy) as client:
        minted = await client.realtime.client_secrets.create(
            session={"type": "realtime", "model": "gpt-realtime", "instructions": "help"},
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert minted.value.startswith("ek_") and minted.expires_at > time.time()
    session = minted.session
    assert session.id and session.object == "realtime.session" and session.type == "realtime"
    assert session.model == "gpt-realtime" and session.instructions == "help"
    async with sdk(proxy, key=minted.value) as client, client.realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        updated = await conn.recv()
        assert updated.type == "session.updated" and updated.session.instructions == "help"
    [seen] = realtime.requests
    assert seen.headers["Authorization"] == "Bearer token-solo"
    assert minted.value not in str(dict(seen.headers))
    first = orjson.loads(realtime.sockets[0].received[0][1])
    assert first == {"type": "session.update", "session": {"type": "realtime", "instructions": "help"}}


async def test_secret_is_scoped_to_its_model(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """TestHandleDirectWebsocketRejectsClientSecretModelMismatch: a secret for gpt-realtime
    (Codex's gpt-live-1-codex) does not open another model's socket (403); gpt-realtime-mini
    maps to the same Codex model and may. An unknown ek_ secret is 401."""
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    status, body, _ = await post(
        proxy, "/v1/realtime/client_secrets", b'{"session":{"model":"gpt-realtime"}}'
    )
    assert status == 200, body
    secret = body["value"]
    status, body, _ = await refused(proxy, key=secret, query="?model=another-live-model")
    assert status == 403 and error(body) == ("invalid_request_error", "realtime_client_secret_scope_mismatch")
    assert realtime.sockets == []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        url = proxy.url.replace("http", "ws", 1) + "/v1/realtime?model=gpt-realtime-mini"
        async with s.ws_connect(url, headers={"Authorization": f"Bearer {secret}"}) as ws:
            assert (await ws.receive_json())["type"] == "session.created"
    status, body, _ = await refused(proxy, key="ek_unknown")
    assert status == 401 and body["error"]["code"] == "invalid_realtime_client_secret", body


async def test_client_secret_requests(start_proxy: Any) -> None:
    """TestRealtimeStandardRoutesAndClientSecretAuth (no key: 401 authentication_error
    invalid_api_key; an ek_ secret is no client key for minting), TestCreateClientSecretRejectsUnsupportedSessionType
    (501), TestReadClientSecretBodyRejectsOversizedSession (413), TestNormalizeClientSecretSessionHandlesWhitespaceNullAndRejectsArrays
    (a blank or null session is gpt-realtime, an array is 400), and CPA clientSecretLifetime's bounds."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    path = "/v1/realtime/client_secrets"
    status, body, _ = await post(proxy, path, key=None)
    assert status == 401 and body["error"]["type"] == "authentication_error"
    assert body["error"]["code"] == "invalid_api_key"
    status, body, headers = await post(proxy, path, b"")
    assert status == 200 and body["session"]["model"] == "gpt-realtime", body
    assert headers["Cache-Control"] == "no-store"
    assert body["expires_at"] - time.time() == pytest.approx(600, abs=5)
    status, body, _ = await post(proxy, path, key=body["value"])
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    cases = [
        (
            b'{"session":{"type":"transcription","model":"gpt-4o-transcribe"}}',
            501,
            "realtime_capability_not_supported",
        ),
        (b'{"session":[]}', 400, "invalid_session"),
        (b"[1]", 400, "invalid_request"),
        (b"{nope", 400, "invalid_request"),
        (b'{"expires_after":{"seconds":5}}', 400, "invalid_expires_after"),
        (b'{"expires_after":{"seconds":7201}}', 400, "invalid_expires_after"),
        (b'{"expires_after":{"anchor":"now","seconds":60}}', 400, "invalid_expires_after"),
        (b'{"expires_after":{"seconds":"60"}}', 400, "invalid_request"),
        (b'{"session":{"model":"x"},"pad":"' + b"a" * (64 << 10) + b'"}', 413, "invalid_request"),
    ]
    for raw, want, code in cases:
        status, body, _ = await post(proxy, path, raw)
        assert (status, body["error"]["code"]) == (want, code), (raw[:60], body)
    status, body, _ = await post(proxy, "/v1/realtime/sessions", b"  null \n")
    assert (
        status == 200 and body["model"] == "gpt-realtime" and body["client_secret"]["value"].startswith("ek_")
    )
    status, body, _ = await post(proxy, "/v1/realtime/sessions", b"[]")
    assert status == 400 and error(body) == ("invalid_request_error", "invalid_session")


async def test_legacy_sessions_with_the_sdk(start_proxy: Any) -> None:
    """CPA CreateLegacySession: the beta SDK's sessions.create gets the session back with a
    client_secret (value, expires_at)."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with sdk(proxy) as client:
        made = await client.beta.realtime.sessions.create(model="gpt-realtime", instructions="hi")
    assert made.client_secret.value.startswith("ek_") and made.client_secret.expires_at > time.time()
    assert made.model == "gpt-realtime" and made.instructions == "hi"


async def test_secrets_per_key_are_capped(start_proxy: Any) -> None:
    """CPA clientSecretMaxEntriesPerIssuer: 64 live secrets per client key, then 429 with
    Retry-After: 1 (rate_limit_error, realtime_client_secret_capacity_exhausted)."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        for _ in range(64):
            async with s.post(
                proxy.url + "/v1/realtime/client_secrets", headers={"Authorization": f"Bearer {KEY}"}
            ) as r:
                assert r.status == 200
    status, body, headers = await post(proxy, "/v1/realtime/client_secrets")
    assert status == 429 and headers["Retry-After"] == "1"
    assert error(body) == ("rate_limit_error", "realtime_client_secret_capacity_exhausted")


async def test_routes_without_a_media_relay(start_proxy: Any, realtime: RealtimeFake, tmp_path: Path) -> None:
    """TestRealtimeStandardRoutesAndClientSecretAuth's route table, TestCodexLiveRoutesRequireAuthAndAreRegistered,
    TestUnsupportedRealtimeCapabilitiesUseStandardError and CPA HandleHangup / HandleSideband
    for an unknown call: every route needs a key (401), then answers CPA's status; an ek_
    secret is taken on /v1/realtime/calls (503 there: no WebRTC, see the module docstring)."""
    proxy = await signed_in(start_proxy, realtime, tmp_path)
    _, minted, _ = await post(proxy, "/v1/realtime/client_secrets")
    table = [
        ("POST", "/v1/realtime", 503, "realtime_request_failed"),
        ("POST", "/v1/realtime/calls", 503, "realtime_request_failed"),
        ("POST", "/v1/live", 503, "realtime_request_failed"),
        ("POST", "/v1/realtime/transcription_sessions", 501, "realtime_capability_not_supported"),
        ("GET", "/v1/realtime/translations", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/translations", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/translations/client_secrets", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/calls/call-123/accept", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/calls/call-123/reject", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/calls/call-123/refer", 501, "realtime_capability_not_supported"),
        ("POST", "/v1/realtime/calls/call-123/hangup", 404, "realtime_call_not_found"),
        ("POST", "/v1/realtime/calls/bad.id/hangup", 400, "invalid_call_id"),
        ("GET", "/v1/realtime/calls/call-123", 426, "realtime_request_failed"),
        ("GET", "/v1/live/call-123", 426, "realtime_request_failed"),
        ("GET", "/v1/realtime?call_id=call-123", 426, "realtime_request_failed"),
    ]
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        for method, path, status, code in table:
            async with s.request(method, proxy.url + path) as r:
                assert r.status == 401, (path, await r.text())
            async with s.request(method, proxy.url + path, headers={"Authorization": f"Bearer {KEY}"}) as r:
                body = await r.json()
                assert (r.status, body["error"]["code"]) == (status, code), (method, path, body)
                if status == 426:
                    assert r.headers["Upgrade"] == "websocket"
        for path, status in (
            ("/v1/live/call-123", 404),
            ("/v1/realtime?call_id=call-123", 404),
            ("/v1/live/a.b", 400),
        ):
            async with s.get(proxy.url + path, headers={"Authorization": f"Bearer {KEY}", **UPGRADE}) as r:
                assert r.status == status, (path, await r.text())
        headers = {"Authorization": f"Bearer {minted['value']}", "Content-Type": "application/sdp"}
        async with s.post(proxy.url + "/v1/realtime/calls", data=b"v=0\r\n", headers=headers) as r:
            assert r.status == 503
    assert realtime.requests == []  # nothing went upstream
    async with sdk(proxy) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.realtime.calls.create(sdp="v=0\r\n")
    assert caught.value.status_code == 503
