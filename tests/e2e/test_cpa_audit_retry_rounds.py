"""Retry-round waits that CPA's credential-manager tests pin and no other test of ours
covered (sdk/cliproxy/auth/conductor_overrides_test.go and home_retry_contract_test.go,
whose two retry-interval cases run without Home), through a running proxy."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_cpa_retry_rounds import MSG, post, used_keys

pytestmark = pytest.mark.usefixtures("anthropic_api")


def two_keys(fakes, extra: str, b_extra: str = "") -> str:
    def entry(key: str, more: str = "") -> str:
        return (
            f'\n  - api-key: "{key}"\n    base-url: "{fakes.claude.base_url}"\n'
            f'    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]{more}'
        )

    return f'api-keys: ["{KEY}"]\n{extra}\nclaude-api-key:{entry("sk-a")}{entry("sk-b", b_extra)}\n'


async def cool_b(proxy, fakes, status: int, body: object = None) -> None:
    """Two requests, so that round-robin reaches sk-b once: its ``status`` cools it and
    sk-a serves both; then sk-b's fault is lifted (it stays cooling)."""
    fakes.claude.fail_key("sk-b", status, body=body)
    assert [await post(proxy, "/v1/messages", MSG) for _ in range(2)] == [200, 200]
    assert used_keys(fakes.claude, "/v1/messages").count("sk-b") == 1
    fakes.claude.clear_faults()


UNSUPPORTED = {"error": {"message": "The requested model is not supported.", "code": "model_not_supported"}}


@pytest.mark.parametrize(
    ("status", "limit", "body"),
    [(401, 3600, None), (402, 3600, None), (404, 50000, None), (400, 50000, UNSUPPORTED)],
    ids=["401", "402", "404", "400-model"],
)
async def test_a_round_does_not_wait_for_a_credential_cooling_for_a_non_retryable_status(
    start_proxy, fakes, status, limit, body
):
    """CPA: TestRetryRoundAvailabilityRejectsStaleQuotaForNonRetryableStatus (and the
    closestCooldownWait it feeds) and the cases of
    TestManager_ShouldRetryAfterError_IgnoresNonRoundCooldownOverrides with a real wait
    limit (our other port of it runs with max-retry-interval 0). sk-b cools for a 401 or a
    402 (30 minutes), a 404 or a 400 saying the model is not served (12 hours), all within
    a long max-retry-interval; sk-a's 429 cools it past that limit. A retry round would only
    find sk-b again, whose failure is not one a wait cures (CPA counts only 403, 408, 429
    and 5xx cooldowns as worth a round), so the client gets the 429 at once instead of
    being held until sk-b's cooldown ends (before: the request hung)."""
    proxy = await start_proxy(two_keys(fakes, f"request-retry: 1\nmax-retry-interval: {limit}"))
    await cool_b(proxy, fakes, status, body)
    fakes.claude.fail_next(429, key="sk-a", times=None, retry_after=limit * 2)
    before = len(fakes.claude.requests)
    assert await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 5) == 429
    assert [r.key for r in fakes.claude.requests[before:]] == ["sk-a"]


async def test_a_round_waits_for_a_credential_cooling_for_a_retryable_status(start_proxy, fakes):
    """The other side of the same CPA rule: sk-b cooling for a 429 of 1 s is worth a round.
    sk-a's 429 cools it for an hour; the next round waits about a second and sk-b serves."""
    proxy = await start_proxy(two_keys(fakes, "request-retry: 1\nmax-retry-interval: 30"))
    fakes.claude.fail_next(429, key="sk-b", retry_after=1)
    fakes.claude.fail_next(429, key="sk-a", retry_after=3600)
    loop = asyncio.get_running_loop()
    started = loop.time()
    statuses = await asyncio.wait_for(asyncio.gather(post(proxy, "/v1/messages", MSG)), 10)
    assert statuses == [200]
    assert loop.time() - started >= 0.5
    assert used_keys(fakes.claude, "/v1/messages")[-1] == "sk-b"


async def test_a_round_does_not_wait_when_another_credential_is_free(start_proxy, fakes):
    """CPA: TestManager_ShouldRetryAfterError_DoesNotWaitWhenAnotherCredentialIsAvailable.
    sk-a cools for 30 s (within max-retry-interval 60); sk-b (disable-cooling) fails once
    with a 429. The next round starts at once, on sk-b, rather than waiting for sk-a."""
    proxy = await start_proxy(
        two_keys(fakes, "request-retry: 1\nmax-retry-interval: 60", "\n    disable-cooling: true")
    )
    fakes.claude.fail_key("sk-a", 429, retry_after=30)
    assert [await post(proxy, "/v1/messages", MSG) for _ in range(2)] == [200, 200]
    fakes.claude.clear_faults()
    fakes.claude.fail_next(429, key="sk-b", retry_after=30)
    before = len(fakes.claude.requests)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 5) == 200
    assert loop.time() - started < 2
    assert [r.key for r in fakes.claude.requests[before:]] == ["sk-b", "sk-b"]


@pytest.mark.parametrize(("cooldowns", "served"), [((3, 60), True), ((60,), False)], ids=["short", "long"])
async def test_the_round_waits_only_for_a_cooldown_within_max_retry_interval(
    start_proxy, fakes, cooldowns, served
):
    """CPA: TestRetryIntervalFiltersCooldownCredentials. With max-retry-interval 30, a
    credential cooling for 3 s is waited for (the shortest one, not the 60 s one); when
    every one cools for 60 s, no round is waited for and the client gets the 429 at once."""
    keys = [f"sk-{i}" for i in range(len(cooldowns))]
    entries = "".join(
        f'\n  - api-key: "{k}"\n    base-url: "{fakes.claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]'
        for k in keys
    )
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nrequest-retry: 1\nmax-retry-interval: 30\nclaude-api-key:{entries}\n'
    )
    for key, seconds in zip(keys, cooldowns, strict=True):
        fakes.claude.fail_next(429, key=key, retry_after=seconds)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status = await asyncio.wait_for(post(proxy, "/v1/messages", MSG), 10)
    took = loop.time() - started
    if served:
        assert status == 200 and 2.5 <= took < 8
        assert used_keys(fakes.claude, "/v1/messages")[-1] == "sk-0"
    else:
        assert status == 429 and took < 2
