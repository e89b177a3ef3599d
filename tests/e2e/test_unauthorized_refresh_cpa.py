"""CPA's 401-refresh conductor cases with a second credential
(sdk/cliproxy/auth/conductor_unauthorized_refresh_test.go) through a running proxy: two
Claude OAuth files, the first (priority 10) holding a token the upstream refuses with a 401,
the second a good one. Which bearer tokens the fake saw, and how often the token endpoint
was asked, tell what the proxy did.

The single-credential cases (refresh then the same credential answers, whole and streamed;
a refused refresh returns the upstream's 401) are in tests/e2e/test_oauth_files.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY, ask
from tests.e2e.test_oauth_files import bearer_keys, claude_file, write_auth
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

MODEL = "claude-sonnet-4-6"


@pytest.fixture
async def two(start_proxy, fake_claude, oauth_fake, tmp_path, monkeypatch) -> Any:  # noqa: F811
    """Start the proxy over a primary file (``at-old``, refused) and a backup (``at-backup``)."""
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", oauth_fake.url("/v1/oauth/token"))

    async def start(primary_refresh: str = "rt-old") -> Any:
        primary = claude_file(fake_claude.base_url, "at-old", primary_refresh, priority=10)
        if not primary_refresh:
            del primary["refresh_token"]
        path = write_auth(tmp_path, "a-primary.json", primary)
        write_auth(tmp_path, "b-backup.json", claude_file(fake_claude.base_url, "at-backup", "rt-backup"))
        fake_claude.fail_key("at-old", 401, message="OAuth token has expired")
        proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
        proxy.path = path
        return proxy

    return start


async def _primary_cooldowns(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    [primary] = [c for c in pool.credentials() if c.priority == 10]
    return await pool.cooldowns(primary)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_refreshed_token_answers_before_any_fallback(
    two,
    fake_claude,
    oauth_fake,  # noqa: F811
    stream,
) -> None:
    """CPA's TestManager_Execute_UnauthorizedRefreshesCurrentAuthBeforeFallback and
    TestManager_ExecuteStream_UnauthorizedRefreshesCurrentAuthBeforeFallback: the primary's
    401 refreshes its token once, the primary answers with the fresh token, the backup is
    never asked, the primary does not cool and its file holds the new token."""
    proxy = await two()
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=stream)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-old", "at-1"]
    assert len(oauth_fake.requests) == 1
    assert await _primary_cooldowns(proxy) == []
    assert orjson.loads(proxy.path.read_bytes())["access_token"] == "at-1"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_refused_refresh_falls_back_to_the_next_credential(
    two,
    fake_claude,
    oauth_fake,  # noqa: F811
    stream,
) -> None:
    """CPA's TestManager_Execute_UnauthorizedRefreshFailureFallsBackToNextAuth: the refresh
    is tried once, it fails, the backup answers, and the primary is suspended as
    unauthorized: for the model (30 minutes, the 401) and as a whole (the refused refresh
    token, ``credentials.suspend``; CPA marks the auth unavailable too)."""
    proxy = await two()
    oauth_fake.fail_next(400, "invalid_grant")
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=stream)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-old", "at-backup"]
    assert len(oauth_fake.requests) == 1
    records = await _primary_cooldowns(proxy)
    assert sorted((r.model == "", r.reason) for r in records) == [
        (False, "unauthorized"),
        (True, "unauthorized"),
    ]
    assert orjson.loads(proxy.path.read_bytes())["access_token"] == "at-old"


async def test_a_credential_without_refresh_token_is_not_refreshed(two, fake_claude, oauth_fake) -> None:  # noqa: F811
    """CPA's TestManager_Execute_UnauthorizedWithoutRefreshTokenDoesNotCallRefresh: no
    refresh token, no token request; the backup answers at once."""
    proxy = await two(primary_refresh="")
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=False)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-old", "at-backup"]
    assert oauth_fake.requests == []
    assert [r.reason for r in await _primary_cooldowns(proxy)] == ["unauthorized"]


async def test_a_refreshed_token_still_refused_falls_back_once(two, fake_claude, oauth_fake) -> None:  # noqa: F811
    """CPA's TestManager_Execute_UnauthorizedRefreshThenRetryStillFailsFallsBackOnce: the
    refresh succeeds but the new token is refused too. One refresh (no loop), the primary
    asked twice, then the backup answers."""
    proxy = await two()
    fake_claude.fail_key("at-1", 401, message="OAuth token has expired")
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=False)
    assert "Hello from fake" in answer.text
    assert bearer_keys(fake_claude) == ["at-old", "at-1", "at-backup"]
    assert len(oauth_fake.requests) == 1
    assert [r.reason for r in await _primary_cooldowns(proxy)] == ["unauthorized"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_fast_mode_401_is_not_refreshed(
    start_proxy,
    oauth_fake,  # noqa: F811
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
    tmp_path,
    monkeypatch,
    stream,
) -> None:
    """CPA's TestManagerFastDirectErrorDoesNotRefreshRetryOrCoolCredential: a fast-mode
    request to Anthropic belongs to the request, a 401 too: the client gets that 401, the
    token is not refreshed, the backup is not asked and nothing cools; the next request is
    served. Before, the proxy refreshed the token and sent the request again."""
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", oauth_fake.url("/v1/oauth/token"))
    fake, _front, redirect = tls_claude
    anthropic_api = "https://api.anthropic.com"
    for name, token, priority in (("a-primary.json", "at-old", 10), ("b-backup.json", "at-backup", 0)):
        data = claude_file(anthropic_api, token, "rt-" + token, priority=priority, proxy_url=redirect.url)
        write_auth(tmp_path, name, data)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    fake.fail_next(401, message="Fast denied")
    with pytest.raises(anthropic.AuthenticationError):
        # bounded: a refresh attempted here would wait on the token endpoint behind the
        # redirect (that is how this test took 30 s a run while it looked green)
        await asyncio.wait_for(_fast(proxy.url, stream), 10)
    assert bearer_keys(fake) == ["at-old"]
    assert oauth_fake.requests == []
    assert await _primary_cooldowns(proxy) == []
    assert await _fast(proxy.url, stream)
    assert bearer_keys(fake) == ["at-old", "at-old"]


async def _fast(url: str, stream: bool) -> str:
    """A fast-mode request's text, through the Anthropic SDK."""
    msgs: list[Any] = [{"role": "user", "content": "Say hello"}]
    fast = {"speed": "fast"}
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(
                model=MODEL, max_tokens=16, messages=msgs, extra_body=fast
            ) as s:
                return await s.get_final_text()
        message = await client.messages.create(model=MODEL, max_tokens=16, messages=msgs, extra_body=fast)
        return "".join(b.text for b in message.content if b.type == "text")
