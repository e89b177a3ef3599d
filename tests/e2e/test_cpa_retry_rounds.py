"""CPA's retry-round cases (sdk/cliproxy/auth/conductor_retry_round_test.go), through a
running proxy: a credential's own ``request-retry`` decides how many retry rounds it
takes part in, for whole answers, streams and token counts alike."""

from __future__ import annotations

from collections import Counter

import aiohttp
import pytest

from tests.e2e.clients import KEY

MSG = {"model": "claude-model", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def claude_keys(fakes, retries: dict[str, int], extra: str = "") -> str:
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{fakes.claude.base_url}"
    request-retry: {limit}
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]"""
        for key, limit in retries.items()
    )
    return f"""
api-keys: ["{KEY}"]
disable-cooling: true
{extra}
claude-api-key:{entries}
"""


def used_keys(fake, path: str) -> list[str]:
    return [r.key for r in fake.requests if r.path == path]


async def post(proxy, path: str, body: dict) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=body, headers={"x-api-key": KEY}) as r,
    ):
        await r.read()
        return r.status


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", MSG),
        ("/v1/messages", {**MSG, "stream": True}),
        ("/v1/messages/count_tokens", {k: v for k, v in MSG.items() if k != "max_tokens"}),
    ],
    ids=["whole", "stream", "count"],
)
async def test_retry_round_credential_windows(start_proxy, fakes, path, body):
    """TestExecuteRetryRoundCredentialWindows: request-retry 3 globally, the credentials'
    own 3, 2 and 2; every attempt fails with 500 (cooling off, so no round waits). Each
    credential is tried once per round it takes part in: 4, 3 and 3 times."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 3, "sk-b": 2, "sk-c": 2}, "request-retry: 3"))
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, path, body) == 500
    assert Counter(used_keys(fakes.claude, path)) == {"sk-a": 4, "sk-b": 3, "sk-c": 3}


async def test_own_request_retry_outlasts_a_lower_global_one(start_proxy, fakes):
    """The same windows when the global request-retry is 0: a credential's own number
    still gives it its rounds (CPA takes the largest window of the candidates)."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 2, "sk-b": 0}))
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, "/v1/messages", MSG) == 500
    assert Counter(used_keys(fakes.claude, "/v1/messages")) == {"sk-a": 3, "sk-b": 1}


async def test_retry_round_max_credentials_ages_skipped_auths(start_proxy, fakes):
    """TestExecuteRetryRoundMaxCredentialsAgesSkippedAuths: request-retry 2 and
    max-retry-credentials 3 over four credentials whose own request-retry is 1, 1, 1 and 2.
    Rounds 0 and 1 try three each, the last round only the one with a window left: seven
    attempts, none more than its rounds allow, and the last one is that credential."""
    retries = {"sk-a": 1, "sk-b": 1, "sk-c": 1, "sk-d": 2}
    yaml = claude_keys(fakes, retries, "request-retry: 2\nmax-retry-credentials: 3")
    proxy = await start_proxy(yaml)
    fakes.claude.fail_next(500, times=None)
    assert await post(proxy, "/v1/messages", MSG) == 500
    calls = used_keys(fakes.claude, "/v1/messages")
    assert len(calls) == 7
    counts = Counter(calls)
    assert all(counts[k] <= 2 for k in ("sk-a", "sk-b", "sk-c")) and counts["sk-d"] <= 3
    assert calls[-1] == "sk-d"


async def test_a_credential_free_now_is_retried_without_max_retry_interval(start_proxy, fakes):
    """CPA's closestCooldownWait: when a credential is free at once (no cooldown), another
    round starts even with max-retry-interval 0; the limit only bounds real waits. The
    second round succeeds here."""
    proxy = await start_proxy(claude_keys(fakes, {"sk-a": 1}))
    fakes.claude.fail_next(500, times=1)
    assert await post(proxy, "/v1/messages", MSG) == 200
    assert used_keys(fakes.claude, "/v1/messages") == ["sk-a", "sk-a"]
