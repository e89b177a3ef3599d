"""An account whose refresh token the token endpoint refuses is taken out of service, as
CPA's refreshAuthForRequest marks it (``credentials.suspend``), through a running proxy: the
refresh loop's first pass meets ``invalid_grant``, a request goes to the other account, and
the management listing says why.

Deliberate differences (see ``credentials.suspend``): the suspension lasts until the access
token expires (CPA: until a new sign-in; after the expiry the token is never sent anyway), and
the listing names that moment in ``next_retry_after`` (CPA sets none).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

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


async def _ask(proxy: Any) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10) as c:
        assert (await c.responses.create(model="gpt-5.4", input="Say hello")).output_text


def _sent(fakes: Any) -> list[str | None]:
    return [r.key for r in fakes.responses.requests if (r.key or "").startswith("tok-")]


async def test_a_refused_loop_refresh_takes_the_account_out_of_service(
    start_proxy: Any,
    fakes: Any,
    oauth_fake: OAuthFake,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TestManager_RefreshAuthUnauthorizedFailureStopsAutoRefreshRetry: the loop's refresh of
    the preferred account (its token still valid for a day, inside Codex's 5-day lead) is
    refused with invalid_grant: the listing shows it ``error`` / ``unauthorized`` /
    unavailable, requests go to the other account although the refused one's token still
    works, and no refresh is tried again. A new sign-in (the file uploaded again with new
    tokens) puts it back in service."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-test-secret")
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth_fake.url("/token"))
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + DAY))
    write_auth(tmp_path, "a.json", _codex(fakes, "a", soon, priority=10))
    write_auth(tmp_path, "b.json", _codex(fakes, "b", FAR))
    oauth_fake.fail_next(400, "invalid_grant")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  strategy: fill-first\n')
    deadline = time.monotonic() + 5
    while (a := (await _entries(proxy))["a@x.com"])["status"] != "error":
        assert time.monotonic() < deadline, a
        await asyncio.sleep(0.02)
    assert (a["status_message"], a["unavailable"]) == ("unauthorized", True)
    assert (await _entries(proxy))["b@x.com"]["status"] == "active"
    await _ask(proxy)
    assert _sent(fakes) == ["tok-b"]
    assert len(oauth_fake.requests) == 1  # the refused refresh token is not tried again

    renewed = orjson.dumps(
        {**_codex(fakes, "a", FAR, priority=10), "access_token": "tok-a2", "refresh_token": "rt-a2"}
    )
    status, body = await mcall(proxy, "POST", "/auth-files?name=a.json", data=renewed)
    assert status == 200, body
    assert (await _entries(proxy))["a@x.com"]["status"] == "active"
    await _ask(proxy)
    assert _sent(fakes) == ["tok-b", "tok-a2"]
