"""A client that asks a Claude subscription account for the 1M context window the account's
plan does not include gets Anthropic's 429 "Extra usage is required for long context
requests." in its own format; the account stays in service for the other clients, whose
ordinary requests it still serves, and another account of the pool may take the request.

Anthropic answers that 429 (``rate_limit_error``) when a request carries the
``context-1m-2025-08-07`` beta (Claude Code's "(1M context)" models, a ``[1m]`` alias) on a
subscription without extra usage, however small the request. The refusal is the request's:
the account's windows are open. CPA cools the account's model as after any 429
(router-for-me/CLIProxyAPI#2464: Claude Code users saw "model cooling down" for the
account's ordinary Sonnet requests too). Here nothing cools: the next account is tried, and
the client gets the upstream's answer when none takes it."""

from __future__ import annotations

import os
from pathlib import Path

import anthropic
import orjson
import pytest

from cliproxy.credentials.cooldown import classify
from tests.e2e.clients import KEY

OTHER = "sk-proxy-other"
MODEL = "claude-sonnet-4-6"  # in the Claude OAuth catalog
HI = [{"role": "user", "content": "hi"}]
LONG = {"anthropic-beta": "context-1m-2025-08-07"}
REFUSAL = "Extra usage is required for long context requests."
CONFIG = f'api-keys: ["{KEY}", "{OTHER}"]\nrequest-retry: 2\nmax-retry-interval: 30\n'


def _account(tmp_path: Path, name: str, base_url: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "claude",
        "access_token": f"at-{name}",
        "refresh_token": f"rt-{name}",
        "expired": "2099-01-01T00:00:00Z",
        "email": f"{name}@example.com",
        "base_url": base_url,
    }
    staging = tmp_path / f"{name}.staging"
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / f"claude-{name}.json")


def _sent(fake) -> list[str | None]:
    return [r.key for r in fake.requests if r.path.startswith("/v1/messages")]


async def _ask(proxy, key: str, stream: bool = False, **kw) -> anthropic.types.Message:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=key, max_retries=0, timeout=15) as client:
        if stream:
            async with client.messages.stream(model=MODEL, max_tokens=16, messages=HI, **kw) as s:
                return await s.get_final_message()
        return await client.messages.create(model=MODEL, max_tokens=16, messages=HI, **kw)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_1m_request_leaves_the_sole_account_in_service(start_proxy, fake_claude, tmp_path, stream):
    """One account without extra usage: the 1M request gets the 429 with Anthropic's words,
    at once (one upstream call, no refresh, no retry round although request-retry is 2);
    the other client's ordinary request is served by the same account right after. Before,
    the 429 cooled the account's model and the other client got the proxy's 429
    "cooling down" without any upstream call."""
    _account(tmp_path, "solo", fake_claude.base_url)
    fake_claude.no_extra_usage.add("at-solo")
    proxy = await start_proxy(CONFIG)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await _ask(proxy, KEY, stream, extra_headers=LONG)
    assert caught.value.body["error"] == {"type": "rate_limit_error", "message": REFUSAL}
    served = await _ask(proxy, OTHER, stream)
    assert served.content
    assert _sent(fake_claude) == ["at-solo", "at-solo"]


async def test_another_account_takes_the_1m_request(start_proxy, fake_claude, tmp_path):
    """Two accounts, one without extra usage: whichever the rotation picks first, the 1M
    request is served (by the account with extra usage), and the refusing account keeps
    serving ordinary requests."""
    _account(tmp_path, "plain", fake_claude.base_url)
    _account(tmp_path, "extra", fake_claude.base_url)
    fake_claude.no_extra_usage.add("at-plain")
    proxy = await start_proxy(CONFIG)
    for _ in range(2):  # the rotation starts once on each account
        assert (await _ask(proxy, KEY, extra_headers=LONG)).content
    refused = _sent(fake_claude).count("at-plain")
    assert refused == 1, _sent(fake_claude)
    fake_claude.requests.clear()
    for _ in range(2):
        assert (await _ask(proxy, OTHER)).content
    assert sorted(_sent(fake_claude)) == ["at-extra", "at-plain"]


async def test_a_real_rate_limit_still_cools(start_proxy, fake_claude, tmp_path):
    """The control: an ordinary 429 (the account's own limit) still cools it, so the other
    client's request reaches no upstream and gets the proxy's cooldown answer."""
    _account(tmp_path, "solo", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}", "{OTHER}"]\n')
    fake_claude.fail_next(429, message="Number of request tokens has exceeded your per-minute rate limit")
    with pytest.raises(anthropic.RateLimitError):
        await _ask(proxy, KEY)
    with pytest.raises(anthropic.APIStatusError):
        await _ask(proxy, OTHER)
    assert _sent(fake_claude) == ["at-solo"]


@pytest.mark.parametrize(
    ("body", "cools"),
    [
        (f'{{"type":"error","error":{{"type":"rate_limit_error","message":"{REFUSAL}"}}}}', False),
        # only the upstream's own words at the start count, never text quoted after them
        (
            f'{{"type":"error","error":{{"type":"rate_limit_error","message":"Rate limited. {REFUSAL}"}}}}',
            True,
        ),
        (f'{{"type":"error","error":{{"type":"overloaded_error","message":"{REFUSAL}"}}}}', True),
        (REFUSAL, True),
    ],
)
def test_only_anthropics_own_refusal_cools_nothing(body: str, cools: bool) -> None:
    failure = classify(429, body)
    assert failure.cools is cools
    assert failure.stop is False  # cooled or not, another account may take the request
