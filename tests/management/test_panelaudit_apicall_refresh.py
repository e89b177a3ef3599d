"""The panel's quota views (``POST /api-call`` with ``Authorization: Bearer $TOKEN$`` and an
account's ``auth_index``) get a live token for an account whose access token has expired.

CPA's APICall refreshes an Antigravity token that expires within 30 seconds before it
substitutes ``$TOKEN$`` (``resolveTokenForAuth``, internal/api/handlers/management/api_tools.go)
and answers 400 ``auth token refresh failed`` when that refresh fails. Here the same check a
request makes before it goes out (``credentials.presend``) runs for every OAuth type with a
token endpoint, so the panel's Codex, Claude, Kimi and xAI quota calls do not meet a 401
either: a deliberate difference, since an expired token can only meet a 401 upstream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401
from tests.management.conftest import mcall
from tests.management.test_ops_api import HEAD, Echo, echo  # noqa: F401

PAST = "2025-10-03T15:05:13+08:00"


def _write(tmp_path: Path, name: str, doc: dict[str, Any]) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / name).write_bytes(orjson.dumps(doc))


async def _expired(mproxy: Any, tmp_path: Path, oauth: OAuthFake, provider: str, monkeypatch: Any) -> Any:
    monkeypatch.setenv(f"CLIPROXY_TOKEN_URL_{provider.upper()}", oauth.url("/token"))
    doc = {
        "type": provider,
        "access_token": "old",
        "refresh_token": "rt-old",
        "expired": PAST,
        "email": "u@x.com",
    }
    _write(tmp_path, f"{provider}-u.json", doc)
    oauth.delay = 0.3  # the refresh loop's first pass is still under way when the panel calls
    return await mproxy(HEAD)


async def _quota_call(proxy: Any, target: Echo, index: str) -> tuple[int, Any]:
    body = {
        "authIndex": index,
        "method": "POST",
        "url": target.url + "/v1internal:loadCodeAssist",
        "header": {"Authorization": "Bearer $TOKEN$", "Content-Type": "application/json"},
        "data": '{"metadata":{"ideType":"ANTIGRAVITY"}}',
    }
    return await mcall(proxy, "POST", "/api-call", body)


@pytest.mark.parametrize("provider", ["antigravity", "codex"])
async def test_an_expired_token_is_refreshed_before_the_call(
    mproxy: Any,
    tmp_path: Path,
    oauth_fake: OAuthFake,  # noqa: F811
    echo: Echo,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
) -> None:
    """The call carries the new token (the expired one never goes out); one token call serves
    the refresh loop and the panel, and the account keeps the new token."""
    proxy = await _expired(mproxy, tmp_path, oauth_fake, provider, monkeypatch)
    cred = proxy.service.pool.get(f"{provider}-u.json")
    status, answer = await _quota_call(proxy, echo, cred.index)
    assert status == 200, answer
    assert answer["status_code"] == 201
    assert [seen[2]["Authorization"] for seen in echo.seen] == ["Bearer at-1"]
    assert len(oauth_fake.requests) == 1
    assert proxy.service.pool.get(f"{provider}-u.json").access_token == "at-1"


async def test_a_failed_refresh_is_cpas_400_and_nothing_is_sent(
    mproxy: Any,
    tmp_path: Path,
    oauth_fake: OAuthFake,  # noqa: F811
    echo: Echo,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token endpoint refuses the refresh: CPA's 400 ``auth token refresh failed``, which
    the panel shows on the account's quota card; the expired token is not sent."""
    oauth_fake.fail_next(400, "invalid_grant", times=3)
    proxy = await _expired(mproxy, tmp_path, oauth_fake, "antigravity", monkeypatch)
    cred = proxy.service.pool.get("antigravity-u.json")
    assert await _quota_call(proxy, echo, cred.index) == (400, {"error": "auth token refresh failed"})
    assert echo.seen == []


async def test_a_valid_token_is_sent_as_it_is(
    mproxy: Any,
    tmp_path: Path,
    oauth_fake: OAuthFake,  # noqa: F811
    echo: Echo,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token far from its expiry costs no token call."""
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_ANTIGRAVITY", oauth_fake.url("/token"))
    doc = {
        "type": "antigravity",
        "access_token": "live",
        "refresh_token": "rt",
        "expired": "2099-01-01T00:00:00Z",
    }
    _write(tmp_path, "antigravity-v.json", doc)
    proxy = await mproxy(HEAD)
    cred = proxy.service.pool.get("antigravity-v.json")
    status, answer = await _quota_call(proxy, echo, cred.index)
    assert status == 200 and answer["status_code"] == 201
    assert [seen[2]["Authorization"] for seen in echo.seen] == ["Bearer live"]
    assert oauth_fake.requests == []
