"""Antigravity sign-in: Google's code flow with the client secret (no PKCE), userinfo,
then the Cloud Code project from loadCodeAssist or onboardUser (ported from CPA's
internal/auth/antigravity/auth_test.go), and CPA's file."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from cliproxy.credentials.login.antigravity import AntigravityLogin, default_tier, project_of
from cliproxy.credentials.login.base import LoginError
from tests.login.conftest import authorize

CLIENT_ID = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
CPA_KEYS = {
    "access_token",
    "disabled",
    "email",
    "expired",
    "expires_in",
    "project_id",
    "refresh_token",
    "timestamp",
    "type",
}
REDIRECT = "http://127.0.0.1:9/oauth-callback"


async def test_authorize_url_is_google_offline_consent_without_pkce(http, providers_at) -> None:
    flow = AntigravityLogin(http)
    started = await flow.start()
    parts = urlsplit(started.url)
    assert parts.path == "/o/oauth2/v2/auth"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "access_type": "offline",
        "client_id": CLIENT_ID,
        "prompt": "consent",
        "redirect_uri": "http://localhost:51121/oauth-callback",
        "response_type": "code",
        "scope": " ".join(
            [
                "https://www.googleapis.com/auth/cloud-platform",
                "https://www.googleapis.com/auth/userinfo.email",
                "https://www.googleapis.com/auth/userinfo.profile",
                "https://www.googleapis.com/auth/cclog",
                "https://www.googleapis.com/auth/experimentsandconfigs",
            ]
        ),
        "state": started.state,
    }
    assert started.secrets == {}
    assert flow.redirect_uri_for(4000) == "http://localhost:4000/oauth-callback"


async def test_sign_in_onboards_until_done_and_writes_the_project(http, providers_at) -> None:
    """CPA: TestFetchProjectIDFallsBackToDailyOnboardUser (loadCodeAssist names only a tier:
    onboardUser with it, polled until done, gives the project)."""
    providers_at.onboard_pending = 1  # the first onboardUser answer is "not done"
    flow = AntigravityLogin(http, onboard_interval=0.01)
    started, code, state = await authorize(flow, REDIRECT)
    before = time.time()
    name, record = await flow.finish(started, code=code, state=state)

    (token,) = providers_at.seen("/token")
    assert token.fields == {
        "client_id": CLIENT_ID,
        "client_secret": "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",
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
    }
    (info,) = providers_at.seen("/oauth2/v2/userinfo")
    assert info.headers["Authorization"] == f"Bearer {record['access_token']}"
    (load,) = providers_at.seen("/v1internal:loadCodeAssist")
    assert load.headers["Accept"] == "*/*" and load.headers["Authorization"].startswith("Bearer ")
    assert load.headers["User-Agent"].startswith("antigravity/hub/")
    assert "google-api-nodejs-client/" not in load.headers["User-Agent"]
    assert "X-Goog-Api-Client" not in load.headers
    assert b'"ideType":"ANTIGRAVITY"' in load.raw
    onboard = providers_at.seen("/v1internal:onboardUser")
    assert len(onboard) == 2
    for seen in onboard:
        assert seen.headers["X-Goog-Api-Client"] == "gl-node/22.21.1"
        assert seen.headers["User-Agent"].startswith("antigravity/hub/")
        assert "google-api-nodejs-client/10.3.0" in seen.headers["User-Agent"]
        assert seen.fields["tier_id"] == "free-tier" and seen.fields["metadata"]["ide_type"] == "ANTIGRAVITY"

    assert name == "antigravity-user@example.com.json"
    assert set(record) == CPA_KEYS
    assert record["project_id"] == "cogent-snow-4mnnp" and record["type"] == "antigravity"
    assert record["expires_in"] == 3600 and before * 1000 - 1 <= record["timestamp"] <= time.time() * 1000 + 1


async def test_a_known_project_needs_no_onboarding(http, providers_at) -> None:
    """CPA: TestFetchProjectIDFromLoadCodeAssist."""
    providers_at.project_ready = True
    flow = AntigravityLogin(http)
    started, code, state = await authorize(flow, REDIRECT)
    _, record = await flow.finish(started, code=code, state=state)
    assert record["project_id"] == "cogent-snow-4mnnp"
    assert providers_at.seen("/v1internal:onboardUser") == []


async def test_onboarding_that_never_finishes_fails_the_sign_in(http, providers_at) -> None:
    providers_at.onboard_pending = 100
    flow = AntigravityLogin(http, onboard_interval=0.0)
    started, code, state = await authorize(flow, REDIRECT)
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state=state)
    assert caught.value.reason == "bad_response" and "5 attempts" in caught.value.message
    assert len(providers_at.seen("/v1internal:onboardUser")) == 5


async def test_a_reused_code_is_refused_with_google_error_text(http, providers_at) -> None:
    flow = AntigravityLogin(http, onboard_interval=0.0)
    started, code, state = await authorize(flow, REDIRECT)
    await flow.finish(started, code=code, state=state)
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state=state)
    assert caught.value.reason == "exchange_failed"
    assert "invalid_grant" in caught.value.message


@pytest.mark.parametrize(
    ("answer", "project"),
    [
        ({"cloudaicompanionProject": "cogent-snow-4mnnp"}, "cogent-snow-4mnnp"),
        ({"cloudaicompanionProject": {"id": "p-1", "name": "p-1"}}, "p-1"),
        ({"projectId": " p-2 "}, "p-2"),
        ({"project": {"id": "p-3"}}, "p-3"),
        ({"allowedTiers": [{"id": "free-tier", "isDefault": True}]}, ""),
    ],
)
def test_project_of(answer, project) -> None:
    assert project_of(answer) == project


@pytest.mark.parametrize(
    ("answer", "tier"),
    [
        (
            {"allowedTiers": [{"id": "legacy-tier"}, {"id": "standard-tier", "isDefault": True}]},
            "standard-tier",
        ),
        ({"allowedTiers": [{"id": "legacy-tier"}], "currentTier": {"id": "current"}}, "current"),
        ({}, "free-tier"),
    ],
)
def test_default_tier(answer, tier) -> None:
    assert default_tier(answer) == tier


async def test_file_keys_are_sorted_as_cpa_writes_them(http, providers_at) -> None:
    flow = AntigravityLogin(http, onboard_interval=0.0)
    started, code, state = await authorize(flow, REDIRECT)
    _, record = await flow.finish(started, code=code, state=state)
    assert list(orjson.loads(orjson.dumps(record))) == sorted(CPA_KEYS)
