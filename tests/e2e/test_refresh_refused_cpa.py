"""An account whose refresh token the token endpoint refuses, through a running proxy
(``credentials.suspend``): the refresh loop's first pass meets ``invalid_grant``.

Deliberate difference from CPA (its refreshAuthForRequest marks the account unavailable at
once, TestManager_RefreshAuthUnauthorizedFailureStopsAutoRefreshRetry): the account keeps
serving with its access token, which usually works for hours or days (a Codex CLI that
shares the sign-in spent the refresh token, nothing more), until that token must be renewed
before use; then, or when the upstream refuses the token with a 401, it leaves service as in
CPA. CPA's facts that still hold: the refused refresh token is never tried again, the
listing says why once it is out of service, and a new sign-in puts it back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from cliproxy.credentials.oauth_tokens import rfc3339
from cliproxy.credentials.presend import PRESEND_LEAD
from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import write_auth
from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401
from tests.management.conftest import mcall

DAY = 86400
FAR = "2099-01-01T00:00:00Z"


def _codex(fakes: Any, name: str, expired: str, priority: int = 0) -> dict[str, Any]:
    return {"type": "codex", "access_token": f"tok-{name}", "refresh_token": f"rt-{name}",
            "expired": expired, "email": f"{name}@x.com", "account_id": f"acct-{name}",
            "priority": priority, "base_url": fakes.responses.base_url + "/backend-api/codex"}  # fmt: skip


async def _entries(proxy: Any) -> dict[str, dict[str, Any]]:
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200, body
    return {f["email"]: f for f in body["files"]}


async def _refused(proxy: Any, email: str) -> dict[str, Any]:
    """``email``'s listing entry once the loop's refresh of it was refused."""
    deadline = time.monotonic() + 5
    while "refresh_refused" not in (entry := (await _entries(proxy))[email]):
        assert time.monotonic() < deadline, entry
        await asyncio.sleep(0.02)
    return entry


async def _ask(proxy: Any) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as c:
        assert (await c.responses.create(model="gpt-5.4", input="Say hello")).output_text


def _sent(fakes: Any) -> list[str | None]:
    return [r.key for r in fakes.responses.requests if (r.key or "").startswith("tok-")]


async def test_a_refused_loop_refresh_keeps_a_working_account_in_service(
    start_proxy: Any,
    fakes: Any,
    oauth_fake: OAuthFake,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The loop's refresh of the preferred account (its token valid for a day, inside
    Codex's 5-day lead) is refused with invalid_grant. It still serves with that token (CPA:
    out of service at once), listed active and available with a warning naming the refusal
    and when the token stops working; one WARNING says so, naming no token; the refresh
    token is not tried again, by the loop or by requests. When the upstream then refuses the
    token with a 401 it leaves service as in CPA (the other account answers, the listing says
    ``unauthorized``), and a new sign-in puts it back."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-test-secret")
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth_fake.url("/token"))
    expiry = math.ceil(time.time()) + DAY
    write_auth(tmp_path, "a.json", _codex(fakes, "a", rfc3339(expiry, utc=True), priority=10))
    write_auth(tmp_path, "b.json", _codex(fakes, "b", FAR))
    oauth_fake.fail_next(400, "invalid_grant")
    caplog.set_level(logging.INFO)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  strategy: fill-first\n')
    a = await _refused(proxy, "a@x.com")
    serves_until = a["refresh_refused"]["serves_until"]
    assert (a["status"], a["unavailable"], "next_retry_after" in a) == ("active", False, False)
    assert a["status_message"].startswith("refresh token refused")
    assert serves_until in a["status_message"]
    assert rfc3339(expiry - PRESEND_LEAD)[:19] == serves_until[:19]  # local time, as Go prints it
    assert "fake invalid_grant" in a["refresh_refused"]["message"]

    await _ask(proxy)
    await _ask(proxy)
    await proxy.service.refresher.tick()  # a loop pass: the refused token is not due
    assert _sent(fakes) == ["tok-a", "tok-a"]
    assert len(oauth_fake.requests) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    refusals = [w for w in warnings if "refused" in w]
    assert len(refusals) == 1 and "a@x.com" in refusals[0], warnings
    assert not [w for w in warnings if "rt-a" in w or "tok-a" in w]

    fakes.responses.fail_key("tok-a", 401, body={"detail": "Unauthorized"})  # the Codex backend's 401
    await _ask(proxy)
    assert _sent(fakes) == ["tok-a", "tok-a", "tok-a", "tok-b"]
    assert len(oauth_fake.requests) == 1  # the 401 does not spend the refused token again
    a = (await _entries(proxy))["a@x.com"]
    assert (a["status"], a["status_message"], a["unavailable"]) == ("error", "unauthorized", True)
    await _ask(proxy)
    assert _sent(fakes)[-1] == "tok-b"

    renewed = orjson.dumps(
        {**_codex(fakes, "a", FAR, priority=10), "access_token": "tok-a2", "refresh_token": "rt-a2"}
    )
    status, body = await mcall(proxy, "POST", "/auth-files?name=a.json", data=renewed)
    assert status == 200, body
    a = (await _entries(proxy))["a@x.com"]
    assert (a["status"], a["status_message"], "refresh_refused" in a) == ("active", "", False)
    await _ask(proxy)
    assert _sent(fakes)[-1] == "tok-a2"


async def test_a_refused_account_leaves_service_when_its_token_is_due(
    start_proxy: Any,
    fakes: Any,
    oauth_fake: OAuthFake,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only account's refresh is refused while its token has a second or two left before
    it must be renewed: a request meanwhile is served with it; once it is due the next one
    gets a clear 401 in the client's format (the token is not sent, the refresh token not
    tried again), and the listing shows the account out of service (``unauthorized``); the
    next request finds it cooling (429)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-test-secret")
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth_fake.url("/token"))
    expiry = math.ceil(time.time() + PRESEND_LEAD + 1)  # due 1 to 2 s from now
    write_auth(tmp_path, "a.json", _codex(fakes, "a", rfc3339(expiry, utc=True)))
    oauth_fake.fail_next(401, "refresh_token_reused")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    a = await _refused(proxy, "a@x.com")
    assert (a["status"], a["unavailable"]) == ("active", False)
    await _ask(proxy)
    assert _sent(fakes) == ["tok-a"]

    await asyncio.sleep(max(0.0, expiry - PRESEND_LEAD - time.time()) + 0.05)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.responses.create(model="gpt-5.4", input="Say hello")
    assert "could not be refreshed" in str(caught.value)
    assert "refresh_token_reused" in str(caught.value)
    assert _sent(fakes) == ["tok-a"]
    assert len(oauth_fake.requests) == 1
    a = (await _entries(proxy))["a@x.com"]
    assert (a["status"], a["status_message"], a["unavailable"]) == ("error", "unauthorized", True)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as c:
        with pytest.raises(openai.RateLimitError):  # out of service for now: cooling
            await c.responses.create(model="gpt-5.4", input="Say hello")
    assert len(oauth_fake.requests) == 1
