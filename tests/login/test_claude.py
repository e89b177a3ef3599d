"""Claude sign-in: the authorize URL, the exchange and companion calls as Claude Code
sends them (ported from CPA's anthropic_auth_test.go), and CPA's file."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.core import pkce_challenge
from tests.login.conftest import authorize

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
SCOPE = "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
AXIOS = {
    "Accept": "application/json, text/plain, */*",
    "Content-Type": "application/json",
    "User-Agent": "axios/1.15.2",
    "Connection": "close",
}
CPA_KEYS = {
    "access_token",
    "account_uuid",
    "claude_device_ids",
    "disabled",
    "email",
    "expired",
    "id_token",
    "last_refresh",
    "organization_name",
    "organization_uuid",
    "refresh_token",
    "type",
}


async def test_authorize_url_carries_pkce_and_the_registered_redirect(http, providers_at) -> None:
    flow = ClaudeLogin(http)
    started = await flow.start()
    parts = urlsplit(started.url)
    assert f"{parts.scheme}://{parts.netloc}" == providers_at.base and parts.path == "/oauth/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "code": "true",
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": "http://localhost:54545/callback",
        "scope": SCOPE,
        "code_challenge": pkce_challenge(started.secrets["code_verifier"]),
        "code_challenge_method": "S256",
        "state": started.state,
    }
    assert started.redirect_uri == "http://localhost:54545/callback" and flow.default_port == 54545
    assert flow.redirect_uri_for(9999) == "http://localhost:54545/callback"  # CPA keeps it
    assert started.secrets["code_verifier"] not in repr(started)


async def test_exchange_then_profile_then_roles_in_the_native_shape(http, providers_at) -> None:
    """CPA: TestExchangeCodeForTokensUsesNative220ControlPlaneShape,
    TestExchangeCodeForTokensPersistsUpstreamAccountAndDevicePool (a pool of ClaudeDevicePoolSize = 1),
    TestFetchOAuthProfile (the profile call's headers)."""
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    before = time.time()
    name, record = await flow.finish(started, code=code, state=state)

    calls = [(r.method, r.path) for r in providers_at.requests if r.path != "/oauth/authorize"]
    assert calls == [
        ("POST", "/v1/oauth/token"),
        ("GET", "/api/oauth/profile"),
        ("GET", "/api/oauth/claude_cli/roles"),
    ]
    token, profile, roles = (r for r in providers_at.requests if r.path != "/oauth/authorize")
    # key order mirrors Claude Code 2.1.220's body
    want = (
        '{{"grant_type":"authorization_code","code":"{}","redirect_uri":"http://127.0.0.1:9/callback",'
        '"client_id":"{}","code_verifier":"{}","state":"{}"}}'
    ).format(code, CLIENT_ID, started.secrets["code_verifier"], state)
    assert token.raw.decode() == want
    for seen in (token, profile, roles):
        for key, value in AXIOS.items():
            assert seen.headers.get(key) == value, (seen.path, key)
    assert "Authorization" not in token.headers
    for seen in (profile, roles):
        assert seen.headers["Authorization"] == f"Bearer {record['access_token']}"
        assert seen.headers["Cache-Control"] == "no-cache"

    assert name == "claude-user@example.com.json"
    assert set(record) == CPA_KEYS
    assert record["type"] == "claude" and record["id_token"] == "" and record["disabled"] is False
    assert record["account_uuid"] == "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    assert (record["organization_uuid"], record["organization_name"]) == (
        "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
        "Example Org",
    )
    (device,) = record["claude_device_ids"]
    assert re.fullmatch(r"[0-9a-f]{64}", device)
    expired = datetime.fromisoformat(record["expired"]).timestamp()
    assert before + 3600 - 2 <= expired <= time.time() + 3600 + 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", record["last_refresh"])


async def test_profile_identity_wins_over_the_token_answer(http, providers_at) -> None:
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    providers_at.profile_email = "profile@example.com"
    name, record = await flow.finish(started, code=code, state=state)
    assert record["email"] == "profile@example.com" and name == "claude-profile@example.com.json"


async def test_a_failed_companion_lookup_does_not_fail_the_sign_in(http, providers_at) -> None:
    """CPA: TestExchangeCodeForTokensSurvivesCompanionLookupFailure."""
    providers_at.fail_profile = True
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    _, record = await flow.finish(started, code=code, state=state)
    assert record["email"] == "user@example.com"
    assert record["account_uuid"] == "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    assert record["organization_name"] == "Example Org"


async def test_wrong_verifier_is_refused_without_leaking_tokens(http, providers_at, caplog) -> None:
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    forged = dataclasses.replace(started, secrets={"code_verifier": "x" * 64})
    with pytest.raises(LoginError) as caught:
        await flow.finish(forged, code=code, state=state)
    assert caught.value.reason == "exchange_failed"
    assert "invalid_grant: Invalid code verifier" in caught.value.message
    assert code not in caught.value.message and "x" * 64 not in caught.value.message
    assert code not in caplog.text


async def test_the_copy_paste_form_code_hash_state_is_accepted(http, providers_at) -> None:
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    name, _ = await flow.finish(started, code=f"{code}#{state}")
    assert name == "claude-user@example.com.json"
    assert orjson.loads(providers_at.seen("/v1/oauth/token")[0].raw)["state"] == state


async def test_a_reused_code_is_refused(http, providers_at) -> None:
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    await flow.finish(started, code=code, state=state)
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state=state)
    assert caught.value.reason == "exchange_failed"


async def test_unreachable_token_endpoint_is_a_clear_error(http, providers_at, monkeypatch) -> None:
    flow = ClaudeLogin(http)
    started, code, state = await authorize(flow)
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_TOKEN", "http://127.0.0.1:9/v1/oauth/token")
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state=state)
    assert caught.value.reason == "unreachable"
