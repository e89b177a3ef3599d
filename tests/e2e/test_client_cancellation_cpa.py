"""CPA's Claude cancellation conductor cases (sdk/cliproxy/auth/conductor_claude_cancellation_test.go)
through a running proxy: a client that goes away while its request is being prepared,
while the credential's token is refreshed after a 401, or in the middle of a stream
leaves the credential as it was: nothing cools, nothing counts as a failure.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_oauth_files import bearer_keys, claude_file, write_auth
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.fakes.server import Behavior

MODEL = "claude-sonnet-4-6"
PAST = "2000-01-01T00:00:00Z"


async def _leave_early(url: str, stream: bool, after: float) -> None:
    """Send a Claude request and drop the connection ``after`` seconds in (a stream:
    once its first bytes came)."""
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(after):
                async with session.post(url + "/v1/messages", json=body, headers=headers) as resp:
                    assert resp.status == 200
                    await resp.content.readany()
                    await asyncio.sleep(after * 2)  # then leave, the rest unread
        except TimeoutError:
            pass


async def _neutral(proxy: Any) -> None:
    pool = proxy.service.pool
    for cred in pool.credentials():
        assert await pool.cooldowns(cred) == []


@pytest.fixture
async def oauth_proxy(start_proxy, fake_claude, oauth_fake, tmp_path, monkeypatch) -> Any:  # noqa: F811
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", oauth_fake.url("/v1/oauth/token"))

    async def start(**extra: Any) -> Any:
        write_auth(tmp_path, "claude-user.json", claude_file(fake_claude.base_url, "at-old", **extra))
        return await start_proxy(f'api-keys: ["{KEY}"]\n')

    return start


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_leaving_during_the_refresh_after_a_401_cools_nothing(
    oauth_proxy,
    fake_claude,
    oauth_fake,  # noqa: F811
    stream: bool,
) -> None:
    """CPA's TestManagerClaudeRefreshCancellationStopsWithoutCooldown: the upstream
    refuses the token, the proxy refreshes it, and the client leaves meanwhile. The
    credential keeps no cooldown and serves the next request."""
    proxy = await oauth_proxy()
    fake_claude.fail_key("at-old", 401, message="OAuth token has expired")
    oauth_fake.delay = 0.6
    await _leave_early(proxy.url, stream, 0.2)
    await asyncio.sleep(0.8)  # the refresh ends after the client left
    assert len(oauth_fake.requests) == 1
    await _neutral(proxy)
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "again", stream=False)
    assert "Hello from fake" in answer.text


async def test_leaving_while_an_expired_token_is_refreshed_cools_nothing(
    oauth_proxy,
    fake_claude,
    oauth_fake,  # noqa: F811
) -> None:
    """CPA's TestManagerClaudePrepareCancellationStopsWithoutCooldown: the request waits
    while its credential is prepared (here: its expired token refreshed before sending,
    ``credentials.presend``), the client leaves meanwhile, and the request stops before any
    upstream call. The credential is not cooled and the next request goes out with the
    new token."""
    proxy = await oauth_proxy(expired=PAST)
    oauth_fake.delay = 0.6
    await _leave_early(proxy.url, False, 0.2)
    await asyncio.sleep(0.8)
    await _neutral(proxy)
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "again", stream=False)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-1"]
    assert len(oauth_fake.requests) == 1


async def test_leaving_a_stream_midway_cools_nothing(oauth_proxy, fake_claude) -> None:
    """CPA's TestManagerClaudeStreamTailCancellationIsAvailabilityNeutral: the client reads
    the first events of a stream and leaves; the credential is not cooled and the next
    request goes to it."""
    proxy = await oauth_proxy()
    fake_claude.script(Behavior(stream_delay=0.2))
    await _leave_early(proxy.url, True, 0.3)
    await asyncio.sleep(0.5)
    await _neutral(proxy)
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "again", stream=False)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-old", "at-old"]


async def test_an_upstream_failure_still_cools_the_credential(oauth_proxy, fake_claude) -> None:
    """CPA's TestManagerClaudeUpstreamFailureStillCoolsCredential: what the cases above
    leave neutral is only the client leaving; a 500 from Anthropic reaches the client and
    cools the credential for the model."""
    proxy = await oauth_proxy()
    fake_claude.script(Behavior(status=500, message="upstream failure"))
    body = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + "/v1/messages", json=body, headers=headers) as resp:
            assert resp.status == 500
    pool = proxy.service.pool
    (cred,) = pool.credentials()
    cooling = await pool.cooldowns(cred)
    assert [c.model for c in cooling] == [MODEL] and cooling[0].next_retry_after > 0
