"""Codex (ChatGPT) callback sign-in: the authorize URL and exchange as the Codex CLI and
CPA send them, the account read from the id_token, and CPA's file and file name."""

from __future__ import annotations

import dataclasses
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.codex import CodexLogin
from cliproxy.credentials.login.core import pkce_challenge
from tests.login.conftest import authorize

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
CPA_KEYS = {
    "access_token",
    "account_id",
    "disabled",
    "email",
    "expired",
    "id_token",
    "last_refresh",
    "refresh_token",
    "type",
}


async def test_authorize_url_is_the_codex_cli_one(http, providers_at) -> None:
    flow = CodexLogin(http)
    started = await flow.start()
    parts = urlsplit(started.url)
    assert parts.path == "/oauth/authorize"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid email profile offline_access",
        "state": started.state,
        "code_challenge": pkce_challenge(started.secrets["code_verifier"]),
        "code_challenge_method": "S256",
        "prompt": "login",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    }
    assert flow.default_port == 1455 and flow.redirect_uri_for(8080) == "http://localhost:1455/auth/callback"


async def test_exchange_and_record(http, providers_at) -> None:
    flow = CodexLogin(http)
    started, code, state = await authorize(flow, "http://127.0.0.1:9/auth/callback")
    name, record = await flow.finish(started, code=code, state=state)
    (token,) = providers_at.seen("/oauth/token")
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.headers["Accept"] == "application/json"
    assert token.fields == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": code,
        "redirect_uri": "http://127.0.0.1:9/auth/callback",
        "code_verifier": started.secrets["code_verifier"],
    }
    digest = hashlib.sha256(b"acct-123").hexdigest()[:8]
    assert name == f"codex-{digest}-user@example.com-plus.json"
    assert set(record) == CPA_KEYS and list(record) == sorted(record)
    assert (record["type"], record["email"], record["account_id"]) == (
        "codex",
        "user@example.com",
        "acct-123",
    )
    assert record["id_token"].count(".") == 2 and record["disabled"] is False


@pytest.mark.parametrize(
    ("plan", "account_id", "want"),
    [
        ("team", "acct-123", "codex-{hash}-user@example.com-team.json"),
        (" Team Plan ", "acct-123", "codex-{hash}-user@example.com-team-plan.json"),
        ("", "acct-123", "codex-{hash}-user@example.com.json"),
        ("plus", "", "codex-user@example.com-plus.json"),
        ("", "", "codex-user@example.com.json"),
    ],
)
async def test_file_name_follows_plan_and_account(http, providers_at, plan, account_id, want) -> None:
    providers_at.account.plan_type, providers_at.account.chatgpt_account_id = plan, account_id
    flow = CodexLogin(http)
    started, code, state = await authorize(flow)
    name, _ = await flow.finish(started, code=code, state=state)
    assert name == want.replace("{hash}", hashlib.sha256(account_id.encode()).hexdigest()[:8])


async def test_wrong_verifier_gets_openai_error_text(http, providers_at) -> None:
    flow = CodexLogin(http)
    started, code, state = await authorize(flow)
    forged = dataclasses.replace(started, secrets={"code_verifier": "y" * 64})
    with pytest.raises(LoginError) as caught:
        await flow.finish(forged, code=code, state=state)
    assert caught.value.reason == "exchange_failed"
    assert "invalid_grant: Invalid code_verifier." in caught.value.message


async def test_an_id_token_without_email_is_refused(http, providers_at) -> None:
    providers_at.account.email = ""
    flow = CodexLogin(http)
    started, code, state = await authorize(flow)
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state=state)
    assert caught.value.reason == "bad_response"
    assert "email" in caught.value.message


async def test_wrong_state_is_refused_before_any_exchange(http, providers_at) -> None:
    flow = CodexLogin(http)
    started, code, _ = await authorize(flow)
    with pytest.raises(LoginError) as caught:
        await flow.finish(started, code=code, state="")
    assert caught.value.reason == "state_mismatch"
    assert providers_at.seen("/oauth/token") == []
