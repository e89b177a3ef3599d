"""Quota steering's parts: the rate-limit header parser (one test per header family, with
headers as the real APIs send them), the headroom store of both state backends (Redis
shared by two instances), and the steering rule over one tier."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from cliproxy.credentials.explain import NOTES, Explain
from cliproxy.credentials.headroom import DEFAULT_TTL, QuotaSteering, parse
from cliproxy.credentials.record import Credential
from cliproxy.state.base import Headroom
from cliproxy.state.memory import MemoryState

NOW = 1_750_000_000.0


# ---------------------------------------------------------------- the parser


def test_anthropic_unified_takes_the_fullest_window_and_its_reset():
    headers = CIMultiDict(
        {
            "Anthropic-Ratelimit-Unified-Status": "allowed",
            "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
            "Anthropic-Ratelimit-Unified-5h-Reset": str(int(NOW + 7200)),
            "Anthropic-Ratelimit-Unified-5h-Utilization": "0.42",
            "Anthropic-Ratelimit-Unified-7d-Status": "allowed_warning",
            "Anthropic-Ratelimit-Unified-7d-Reset": str(int(NOW + 86400)),
            "Anthropic-Ratelimit-Unified-7d-Utilization": "0.91",
            "Anthropic-Ratelimit-Unified-Representative-Claim": "seven_day",
            "Anthropic-Ratelimit-Unified-Fallback-Percentage": "0.5",
            "Anthropic-Ratelimit-Unified-Reset": str(int(NOW + 86400)),
            "Anthropic-Ratelimit-Unified-Overage-Status": "rejected",  # extra usage: not the plan
            "Anthropic-Ratelimit-Unified-Overage-Disabled-Reason": "org_level_disabled",
            "request-id": "req_011CUZ",
        }
    )
    mark = parse(200, headers, now=NOW)
    assert mark == Headroom(pytest.approx(91.0), NOW + 86400, "7d", "anthropic-unified")


def test_anthropic_unified_rejected_is_full_until_its_reset():
    headers = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(int(NOW + 600)),
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": str(int(NOW + 600)),
        "anthropic-ratelimit-unified-5h-utilization": "0.99",
    }
    mark = parse(429, headers, now=NOW)
    assert mark is not None and mark.used_percent == 100.0 and mark.resets_at == NOW + 600


def test_anthropic_api_key_limits():
    headers = {  # a Messages answer for an API key (Tier 1)
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2025-06-15T15:07:00Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "3000",
        "anthropic-ratelimit-input-tokens-reset": "2025-06-15T15:07:30Z",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-remaining": "8000",
        "anthropic-ratelimit-output-tokens-reset": "2025-06-15T15:06:58Z",
        "anthropic-ratelimit-tokens-limit": "38000",
        "anthropic-ratelimit-tokens-remaining": "11000",
        "anthropic-ratelimit-tokens-reset": "2025-06-15T15:06:58Z",
    }
    now = 1749999990.0  # 2025-06-15T15:06:30Z
    mark = parse(200, headers, now=now)
    assert mark is not None
    assert (round(mark.used_percent), mark.window, mark.source) == (90, "input-tokens", "anthropic")
    assert mark.resets_at == 1750000050.0


def test_codex_primary_and_secondary_windows():
    headers = {  # the headers chatgpt.com/backend-api/codex/responses sends
        "x-codex-primary-used-percent": "23.0",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": "9134",
        "x-codex-secondary-used-percent": "61.0",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": "421337",
        "x-codex-primary-over-secondary-limit-percent": "0",
        "x-codex-credits-has-credits": "False",
        "x-codex-credits-unlimited": "False",
    }
    mark = parse(200, headers, now=NOW)
    assert mark == Headroom(61.0, NOW + 421337, "7d", "codex")
    headers["x-codex-primary-used-percent"] = "98.5"
    mark = parse(200, headers, now=NOW)
    assert mark == Headroom(98.5, NOW + 9134, "5h", "codex")


def test_codex_reset_at_wins_over_reset_after():
    headers = {"x-codex-primary-used-percent": "50", "x-codex-primary-reset-at": str(int(NOW + 30))}
    assert parse(200, headers, now=NOW) == Headroom(50.0, NOW + 30, "primary", "codex")


@pytest.mark.parametrize(
    ("reset", "seconds"), [("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("7.66", 7.66)]
)
def test_openai_remaining_over_limit_with_duration_resets(reset, seconds):
    headers = {
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "10000",
        "x-ratelimit-reset-tokens": reset,
    }
    mark = parse(200, headers, now=NOW)
    assert mark is not None and (mark.window, mark.source) == ("tokens", "openai")
    assert mark.used_percent == pytest.approx(95.0)
    assert mark.resets_at == pytest.approx(NOW + seconds)


def test_gemini_429_with_retry_info_is_full_until_the_delay():
    body = orjson.dumps(
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota. Please retry in 37.5s.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                                "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                                "quotaValue": "10",
                            }
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
                ],
            }
        }
    )
    assert parse(429, {"content-type": "application/json"}, body, now=NOW) == Headroom(
        100.0, NOW + 37, "minute", "gemini"
    )


def test_gemini_429_quota_failure_without_delay_and_codex_usage_limit():
    body = orjson.dumps(
        {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                    }
                ],
            }
        }
    )
    assert parse(429, {}, body, now=NOW) == Headroom(100.0, NOW + DEFAULT_TTL, "day", "gemini")
    codex = orjson.dumps({"error": {"type": "usage_limit_reached", "resets_in_seconds": 1200}})
    assert parse(429, {}, codex, now=NOW) == Headroom(100.0, NOW + 1200, "usage-limit", "codex")


def test_anthropic_unified_status_alone_is_no_window():
    headers = {"anthropic-ratelimit-unified-status": "allowed", "anthropic-ratelimit-unified-reset": "1"}
    assert parse(200, headers, now=NOW) is None


def test_no_hint_is_none():
    assert parse(200, {"content-type": "application/json", "x-request-id": "abc"}, now=NOW) is None
    assert parse(500, {}, b'{"error": {"message": "boom"}}', now=NOW) is None
    assert parse(429, {}, b"not json", now=NOW) is None
    assert parse(200, {"x-ratelimit-limit-requests": "0", "x-ratelimit-remaining-requests": "0"}) is None
    assert parse(200, {"x-codex-primary-used-percent": "lots"}) is None


# ---------------------------------------------------------------- the store, both backends


@pytest.fixture
def redis_pair(redis_states: Callable[..., Any]) -> Callable[..., Any]:
    return functools.partial(redis_states, "hr-test:")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


async def _store_contract(state: Any, clock: Clock) -> None:
    assert await state.get_headroom() == {}
    await state.set_headroom("a", Headroom(95.0, NOW + 60, "5h", "codex"))
    await state.set_headroom("b", Headroom(10.0, NOW + 5, "requests", "openai"))
    assert await state.get_headroom(["a", "c"]) == {"a": Headroom(95.0, NOW + 60, "5h", "codex")}
    assert set(await state.get_headroom()) == {"a", "b"}
    clock.now += 10  # b's window has started over: its estimate is gone
    assert set(await state.get_headroom()) == {"a"}
    await state.set_headroom("a", Headroom(20.0, NOW + 70))
    assert (await state.get_headroom(["a"]))["a"].used_percent == 20.0


async def test_memory_store_keeps_estimates_until_their_reset():
    clock = Clock()
    await _store_contract(MemoryState(clock=clock), clock)


async def test_redis_store_keeps_estimates_until_their_reset(redis_pair):
    clock = Clock()
    await _store_contract(await redis_pair(clock=clock, cache_ttl=0.0), clock)


async def test_redis_shares_estimates_between_processes_and_caches_reads(redis_pair, redis_server):
    clock = Clock()
    one = await redis_pair(clock=clock)
    two = await redis_pair(clock=clock, cache_ttl=0.2)
    assert await two.get_headroom(["a"]) == {}  # two has read (and cached) the empty hash
    await one.set_headroom("a", Headroom(97.0, NOW + 300, "7d", "anthropic-unified"))
    assert await one.get_headroom(["a"])  # its own write, at once
    assert await two.get_headroom(["a"]) == {}  # still the cached copy
    await asyncio.sleep(0.25)
    assert (await two.get_headroom(["a"]))["a"] == Headroom(97.0, NOW + 300, "7d", "anthropic-unified")
    ttl = await one.client.pttl("hr-test:hr")
    assert 300_000 < ttl <= 361_000  # the hash goes away by itself after the last reset


async def test_redis_away_keeps_headroom_locally(redis_pair, redis_server):
    state = await redis_pair(cache_ttl=0.0)
    redis_server.kill()
    await state.set_headroom("a", Headroom(99.0, 9e9))
    assert not state.available
    assert (await state.get_headroom(["a"]))["a"].used_percent == 99.0


# ---------------------------------------------------------------- steering over one tier


def _creds(*ids: str) -> list[Credential]:
    return [Credential(id=i, provider="claude", api_key=f"k-{i}") for i in ids]


async def test_steer_prefers_under_threshold_then_least_used_and_notes_skips():
    clock = Clock()
    state = MemoryState(clock=clock)
    steering = QuotaSteering(state, clock)
    steering.threshold = 90.0
    tier = _creds("a", "b", "c")
    assert await steering.steer(tier) is tier  # nothing known: the tier itself
    await state.set_headroom("a", Headroom(95.0, NOW + 60))
    await state.set_headroom("b", Headroom(50.0, NOW + 60))
    notes = Explain()
    token = NOTES.set(notes)
    try:
        assert [c.id for c in await steering.steer(tier)] == ["b", "c"]
        await state.set_headroom("b", Headroom(92.0, NOW + 60))
        await state.set_headroom("c", Headroom(99.0, NOW + 60))
        assert [c.id for c in await steering.steer(tier)] == ["b"]  # all over: the least used
    finally:
        NOTES.reset(token)
    assert {(s.credential, s.reason, s.detail) for s in notes.skips} == {
        ("a", "quota-steering", "95%"),
        ("c", "quota-steering", "99%"),
    }
    clock.now += 61
    assert await steering.steer(tier) is tier  # every estimate expired


async def _writes(state: Any) -> int:
    """Headroom writes Redis has run (the write script: EVALSHA, or EVAL the first time)."""
    stats = await state.client.info("commandstats")
    return sum(v["calls"] for name, v in stats.items() if name in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_observe_writes_only_what_steering_could_see(redis_pair):
    clock = Clock()
    state = await redis_pair(clock=clock)
    steering = QuotaSteering(state, clock)
    steering.threshold = 90.0
    busy = {"x-codex-primary-used-percent": "95", "x-codex-primary-reset-after-seconds": "600"}
    assert (await steering.observe("a", 200, busy)).used_percent == 95.0
    await state.client.config_resetstat()
    await steering.observe("a", 200, busy)  # the same estimate: not written again
    assert await _writes(state) == 0
    await steering.observe("a", 200, {**busy, "x-codex-primary-used-percent": "97"})
    assert await _writes(state) == 1
    short = {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "99",
        "x-ratelimit-reset-requests": "20ms",
    }
    await steering.observe("b", 200, short)  # nearly empty, gone in 20 ms: nothing to store
    assert await _writes(state) == 1
    await steering.observe("a", 200, short)  # but it must replace a's 97 %
    assert await _writes(state) == 2
    assert (await state.get_headroom(["a"]))["a"].used_percent == pytest.approx(1.0)
