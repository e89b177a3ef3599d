"""The Realtime socket's upstream dial refreshes an expired Codex token first, as a request
does (``credentials.presend``): a Realtime client against the proxy, the fake Realtime
socket refusing the old token with a 401, a token endpoint counting its calls.

CPA dials with the stored token and refreshes after the upstream's 401 (HandleDirectWebsocket
with its home dispatch; internal/client/codex/live/websocket_test.go has no case with an
expired token): a deliberate difference, since a token past its expiry can only meet a 401.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import write_auth
from tests.e2e.test_realtime import TIMEOUT, realtime, refused, ws_url  # noqa: F401
from tests.fakes.codex_realtime import RealtimeFake
from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401

PAST = "2025-10-03T15:05:13+08:00"


async def _expired(start_proxy: Any, fake: Any, oauth: OAuthFake, tmp_path: Path, monkeypatch: Any) -> Any:
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", oauth.url("/token"))
    doc = {"type": "codex", "access_token": "old", "refresh_token": "rt-old", "expired": PAST,
           "email": "u@x.com", "account_id": "acct-1", "base_url": fake.base_url + "/backend-api/codex"}  # fmt: skip
    write_auth(tmp_path, "codex-u@x.com.json", doc)
    fake.fail_key("old", 401, message="token expired")
    oauth.delay = 0.3  # the refresh loop's first pass is still under way when the socket opens
    return await start_proxy(f'api-keys: ["{KEY}"]\n')


def _dials(fake: RealtimeFake) -> list[str | None]:
    return [r.key for r in fake.requests if r.path == "/v1/realtime"]


async def test_an_expired_token_is_refreshed_before_the_upstream_dial(
    start_proxy: Any,
    realtime: RealtimeFake,  # noqa: F811
    oauth_fake: OAuthFake,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only handshake upstream carries the new token (the old one is never sent), and
    one token call serves the refresh loop and the dial."""
    proxy = await _expired(start_proxy, realtime, oauth_fake, tmp_path, monkeypatch)
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.ws_connect(ws_url(proxy), headers={"Authorization": f"Bearer {KEY}"}) as ws,
    ):
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "session.created"
    assert _dials(realtime) == ["at-1"]
    assert len(oauth_fake.requests) == 1


async def test_a_refused_refresh_before_the_dial_is_a_clear_401(
    start_proxy: Any,
    realtime: RealtimeFake,  # noqa: F811
    oauth_fake: OAuthFake,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The expired token's refresh is refused: the upgrade is answered 401 in OpenAI's shape
    with CPA's code for an unauthorized upstream, saying the token could not be refreshed;
    nothing is dialled with the expired token."""
    oauth_fake.fail_next(400, "invalid_grant")
    proxy = await _expired(start_proxy, realtime, oauth_fake, tmp_path, monkeypatch)
    status, body, _ = await refused(proxy)
    assert status == 401
    assert body["error"]["code"] == "realtime_upstream_unauthorized"
    assert body["error"]["type"] == "authentication_error"
    assert "could not be refreshed" in body["error"]["message"]
    assert _dials(realtime) == []
