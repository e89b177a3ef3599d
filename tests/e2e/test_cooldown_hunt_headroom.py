"""Quota steering reads the reset an upstream's rate-limit headers name; one that no clock
can add (``1e400``, ``nan``) or absurdly far (``1e20``, past Go's longest Duration, the bound
errors.UpstreamError already applies to a 429's wait) is no reset, through a running proxy
and the fake Anthropic upstream.

Before: on Redis a good answer carrying such a header became a 500 'internal error in
cliproxy' for the client (the estimate's expiry could not be written), and on any backend
the estimate never ended, so an account at 95 % was steered away from for good (no answer
of its own ever came to renew it)."""

from __future__ import annotations

import time

import anthropic
import pytest

from cliproxy.credentials.headroom import DEFAULT_TTL
from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _post, two_claude_keys
from tests.e2e.test_quota_steering import unified

STEER = "routing:\n  quota-steering: 90\n"


def absurd(reset: str) -> dict[str, str]:
    """sk-a's headers: 95 % of its 5-hour window, whose reset (and the aggregate's) is ``reset``."""
    headers = unified(0.95)
    headers["anthropic-ratelimit-unified-5h-reset"] = reset
    headers["anthropic-ratelimit-unified-reset"] = reset
    return headers


@pytest.mark.parametrize("reset", ["1e400", "1e20", "nan"])
async def test_an_absurd_reset_on_redis_still_answers(start_proxy, fakes, redis_server, reset):
    shared = f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'hunt-hr:'\n"
    proxy = await start_proxy(two_claude_keys(fakes, STEER + shared))
    fakes.claude.answer_headers["sk-a"] = absurd(reset)
    fakes.claude.answer_headers["sk-b"] = unified(0.10)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for _ in range(2):  # round-robin: one of them is sk-a's answer
            reply = await client.messages.create(
                model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.content[0].type == "text"
        async with client.messages.stream(
            model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            assert (await stream.get_final_message()).content


@pytest.mark.parametrize("reset", ["1e400", "1e20"])
async def test_an_absurd_reset_ends_like_no_reset(start_proxy, fakes, reset):
    """The 95 % estimate lasts as one with no reset does (DEFAULT_TTL, renewed by the next
    answer), not until the year 3e12."""
    proxy = await start_proxy(two_claude_keys(fakes, STEER))
    fakes.claude.answer_headers["sk-a"] = absurd(reset)
    fakes.claude.answer_headers["sk-b"] = unified(0.10)
    for _ in range(2):
        assert (await _post(proxy, MSG))[0] == 200
    marks = await proxy.service.state.get_headroom()
    high = [m for m in marks.values() if m.used_percent == 95.0]
    assert len(high) == 1
    assert high[0].resets_at <= time.time() + DEFAULT_TTL + 1
