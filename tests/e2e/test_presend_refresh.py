"""An OAuth account whose token has expired is refreshed before its request goes out
(``credentials.presend``), through a running proxy: each type's auth file as CPA writes it
(``expired`` in the past; Antigravity's ``expires_in`` and ``timestamp`` too), the upstream
fake refusing the old token with a 401, and the token endpoint slow enough that the refresh
loop's first pass is still under way when the requests arrive.

CPA's Antigravity executor refreshes before sending (``ensureAccessToken``, no test of its
own beyond TestEnsureAccessToken_WarmTokenLoadsCreditsHint, whose warm token is sent as it
is); its other executors send the stored token and refresh after the 401
(sdk/cliproxy/auth/conductor_unauthorized_refresh_test.go, ported in
tests/e2e/test_unauthorized_refresh_cpa.py). Here every type refreshes first: a deliberate
difference, since a token past its expiry can only meet a 401.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_oauth_files import write_auth
from tests.fakes.oauth import oauth_fake  # noqa: F401

PAST = "2025-10-03T15:05:13+08:00"
FAR = "2099-01-01T00:00:00Z"


def _file(kind: str, fakes: Any, token: str, expired: str) -> dict[str, Any]:
    """``kind``'s auth file with CPA's field names, its token ``token`` expiring at ``expired``."""
    base = {"access_token": token, "refresh_token": "rt-" + token, "expired": expired, "email": "u@x.com"}
    if kind == "claude":
        return {**base, "type": "claude", "id_token": "", "last_refresh": "2025-10-03T07:05:13Z",
                "base_url": fakes.claude.base_url}  # fmt: skip
    if kind == "codex":
        return {**base, "type": "codex", "account_id": "acct-1", "last_refresh": "2025-10-03T07:05:13Z",
                "base_url": fakes.responses.base_url + "/backend-api/codex"}  # fmt: skip
    if kind == "antigravity":
        return {**base, "type": "antigravity", "expires_in": 3599, "timestamp": 1759475113000,
                "project_id": "proj-1", "base_url": fakes.gemini.base_url}  # fmt: skip
    if kind == "xai":
        return {**base, "type": "xai", "expires_in": 10800, "base_url": fakes.openai.base_url + "/v1"}
    return {**base, "type": "kimi", "device_id": "dev-1", "base_url": fakes.claude.base_url + "/coding"}


# kind: (model, client format, fake)
CASES = {
    "claude": ("claude-opus-4-6", Format.CLAUDE, "claude"),
    "codex": ("gpt-5.4", Format.RESPONSES, "responses"),
    "antigravity": ("gemini-3-flash", Format.GEMINI, "gemini"),
    "xai": ("grok-4.3", Format.OPENAI, "openai"),
    "kimi": ("kimi-k2.6", Format.CLAUDE, "claude"),
}


def _keys(fake: Any) -> list[str | None]:
    return [r.key for r in fake.requests if r.key in ("old", "backup") or (r.key or "").startswith("at-")]


@pytest.mark.parametrize("kind", list(CASES))
async def test_an_expired_token_is_refreshed_before_the_first_requests(
    start_proxy,
    fakes,
    oauth_fake,  # noqa: F811
    tmp_path,
    monkeypatch,
    kind,
) -> None:
    """Two concurrent first requests (whole and streamed) on an account whose token has
    expired: both go out with the new token, the old one never reaches the upstream, one
    token call serves the loop and both requests, and the file holds the new token."""
    model, fmt, fake_name = CASES[kind]
    fake = getattr(fakes, fake_name)
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_" + kind.upper(), oauth_fake.url("/token"))
    path = write_auth(tmp_path, f"{kind}-u@x.com.json", _file(kind, fakes, "old", PAST))
    fake.fail_key("old", 401, message="token expired")
    oauth_fake.delay = 0.3  # the loop's refresh is still under way when the requests arrive
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    answers = await asyncio.gather(
        ask(fmt, proxy.url, model, "Say hello", stream=False),
        ask(fmt, proxy.url, model, "Say hello", stream=True),
    )
    assert all(a.text for a in answers)
    assert _keys(fake) == ["at-1", "at-1"]
    assert len(oauth_fake.requests) == 1
    saved = orjson.loads(path.read_bytes())
    assert saved["access_token"] == "at-1"
    assert saved["expired"] != PAST


async def test_a_refused_refresh_before_sending_falls_back_to_the_next_account(
    start_proxy,
    fakes,
    oauth_fake,  # noqa: F811
    tmp_path,
    monkeypatch,
) -> None:
    """CPA's Antigravity executor returns a failed pre-send refresh as the attempt's error
    and the conductor goes on (as TestManager_Execute_UnauthorizedRefreshFailureFallsBackToNextAuth
    for a 401): the expired primary's refresh is refused, the backup answers, the expired
    token is never sent, and the primary is suspended as unauthorized."""
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_ANTIGRAVITY", oauth_fake.url("/token"))
    write_auth(tmp_path, "a-primary.json", {**_file("antigravity", fakes, "old", PAST), "priority": 10})
    write_auth(tmp_path, "b-backup.json", _file("antigravity", fakes, "backup", FAR))
    fakes.gemini.fail_key("old", 401, message="token expired")
    oauth_fake.fail_next(400, "invalid_grant")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  strategy: fill-first\n')
    answer = await ask(Format.GEMINI, proxy.url, "gemini-3-flash", "Say hello", stream=False)
    assert answer.text
    assert _keys(fakes.gemini) == ["backup"]
    assert len(oauth_fake.requests) == 1
    pool = proxy.service.pool
    [primary] = [c for c in pool.credentials() if c.priority == 10]
    assert {r.reason for r in await pool.cooldowns(primary)} == {"unauthorized"}


async def test_a_refused_refresh_with_one_account_is_a_clear_error(
    start_proxy,
    fakes,
    oauth_fake,  # noqa: F811
    tmp_path,
    monkeypatch,
) -> None:
    """The only account's token has expired and its refresh is refused with OpenAI's error
    shape (``invalid_request_error``): the client gets a 401 in its own format saying the
    account's token could not be refreshed, not the token endpoint's body (and the expired
    token is not sent). A refusal after an upstream 401 gives the upstream's 401 as before."""
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth_fake.url("/token"))
    write_auth(tmp_path, "codex-u@x.com.json", _file("codex", fakes, "old", PAST))
    oauth_fake.fail_next(401, "refresh_token_expired")
    oauth_fake.delay = 0.3  # the request shares the loop's refresh (after it, the account is suspended)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    started = time.monotonic()
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.responses.create(model="gpt-5.4", input="Say hello")
    assert time.monotonic() - started < 10
    assert "could not be refreshed" in str(caught.value)
    assert "refresh_token_expired" in str(caught.value)
    assert _keys(fakes.responses) == []
