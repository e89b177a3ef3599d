"""CPA's claude_executor_ratelimit_test.go cases that need the whole proxy: a rejected
shared window cools every model of the credential (aliases, thinking suffixes, streams,
count_tokens included), a streamed answer's window decides the wait as a whole one's does,
and a model pool does not probe its other upstream names on a credential that is cooling
as a whole. Through a running proxy into the fake Anthropic upstream; the unit cases of
the same file are in tests/providers/test_claude_rate_limit_scope.py."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY

DAY = 86400
WEEK_REJECTED = {"status": "rejected", "7d-status": "rejected"}


def one_key(base_url: str) -> str:
    return f"""api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{base_url}"
    models:
      - {{name: "claude-sonnet-4-6", alias: "model-a"}}
      - {{name: "claude-opus-4-8", alias: "model-b"}}
"""


def client(proxy: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


async def ask(proxy: Any, model: str, *, stream: bool = False) -> str:
    """The reply text, or the error status as text."""
    msgs: list[Any] = [{"role": "user", "content": "hi"}]
    async with client(proxy) as c:
        try:
            if stream:
                async with c.messages.stream(model=model, max_tokens=16, messages=msgs) as s:
                    return await s.get_final_text()
            reply = await c.messages.create(model=model, max_tokens=16, messages=msgs)
        except anthropic.APIStatusError as exc:
            return str(exc.status_code)
    block = reply.content[0]
    return block.text if block.type == "text" else block.type


async def wide_until(proxy: Any, key: str) -> float:
    """When the credential-wide cooldown of ``key`` ends (0: none)."""
    pool = proxy.service.pool
    cred = next(c for c in pool.credentials() if c.api_key == key)
    return max((r.until() for r in await pool.cooldowns(cred) if r.model == ""), default=0.0)


async def test_a_rejected_week_keeps_every_model_alias_and_stream_local(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_AuthManager_CredentialScopeBlocksAllModelsAndAliases. One
    credential rejects its shared 7d window on model A: model B, model B with a thinking
    suffix and a streamed model B are refused by the proxy without another upstream call."""
    proxy = await start_proxy(one_key(fake_claude.base_url))
    week = int(time.time() + 7 * DAY)
    fake_claude.fail_key(
        "sk-a",
        429,
        message="7d limit rejected.",
        retry_after=7 * DAY,
        unified={**WEEK_REJECTED, "7d-reset": week},
    )
    assert await ask(proxy, "model-a") == "429"
    assert len(fake_claude.requests) == 1
    assert await ask(proxy, "model-b") == "429"
    assert await ask(proxy, "model-b(16384)") == "429"
    assert await ask(proxy, "model-b", stream=True) == "429"
    assert len(fake_claude.requests) == 1
    assert await wide_until(proxy, "sk-a") >= week - 5


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_a_count_rejecting_the_week_cools_the_credential(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_RateLimit_CountTokensHonorsRateLimitReset. A count_tokens
    429 that rejects the 7d window cools the whole credential until the window's reset:
    the next generation is refused locally."""
    proxy = await start_proxy(one_key(fake_claude.base_url))
    week = int(time.time() + 7 * DAY)
    fake_claude.fail_key(
        "sk-a",
        429,
        path="count_tokens",
        message="7-day rate limit exceeded.",
        retry_after=7 * DAY,
        unified={**WEEK_REJECTED, "7d-reset": week},
    )
    async with client(proxy) as c:
        with pytest.raises(anthropic.RateLimitError):
            await c.messages.count_tokens(model="model-a", messages=[{"role": "user", "content": "hi"}])
    assert week - 5 <= await wide_until(proxy, "sk-a") <= week + 3
    assert await ask(proxy, "model-b") == "429"
    assert [r.path for r in fake_claude.requests] == ["/v1/messages/count_tokens"]


async def test_a_streamed_rejection_waits_for_the_rejected_window(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_HonorsAnthropicRateLimitHeaders_ExecuteStream. A stream's
    429 rejecting the 5h window (the 7d one allowed, resetting in a week) cools the
    credential for the five hours, not the week."""
    proxy = await start_proxy(one_key(fake_claude.base_url))
    now = time.time()
    five = int(now + 5 * 3600)
    fake_claude.fail_next(
        429,
        message="5-hour limit exceeded.",
        unified={
            "status": "rejected",
            "5h-status": "rejected",
            "5h-reset": five,
            "7d-status": "allowed",
            "7d-reset": int(now + 7 * DAY),
        },
    )
    assert await ask(proxy, "model-a", stream=True) == "429"
    assert five - 5 <= await wide_until(proxy, "sk-a") <= five + 3


def pool_config(base_url: str) -> str:
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{base_url}"
    models:
      - {{name: "claude-sonnet-4-6", alias: "claude-pool-alias"}}
      - {{name: "claude-opus-4-8", alias: "claude-pool-alias"}}
    priority: {priority}"""
        for key, priority in (("sk-a", 2), ("sk-b", 1))
    )
    return f'api-keys: ["{KEY}"]\nclaude-api-key:{entries}\n'


async def test_a_pool_stream_does_not_probe_a_cooled_credentials_other_model(
    start_proxy, fake_claude
) -> None:
    """CPA: TestClaudeExecutor_AuthManager_MultiModelPoolStreamStopsProbingOn429. An alias
    named for two upstream models on each of two credentials: the first credential rejects
    its shared week, its other model is not asked and the stream goes on at the second
    credential. As in CPA, only an openai-compatibility entry makes a pool of such names; a
    Claude key's alias resolves to its first name, so one attempt per credential is what
    both do by construction."""
    proxy = await start_proxy(pool_config(fake_claude.base_url))
    fake_claude.fail_key(
        "sk-a",
        429,
        message="rate limited",
        retry_after=7 * DAY,
        unified={**WEEK_REJECTED, "7d-reset": int(time.time() + 7 * DAY)},
    )
    assert (await ask(proxy, "claude-pool-alias", stream=True)).startswith("Hello from")
    assert [r.key for r in fake_claude.requests] == ["sk-a", "sk-b"]
