"""Antigravity's 429s told apart (CPA's decideAntigravity429 / classifyAntigravity429, cases
of antigravity_executor_credits_test.go) and the same-account waits they earn."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from cliproxy import presence
from cliproxy.providers import antigravity_limits as limits
from cliproxy.providers.antigravity_hosts import NO_CAPACITY
from cliproxy.providers.retry import google_retry_delay
from cliproxy.providers.transport import ReadAnswer
from tests.fakes.gemini import cloud_code_429

UI_RATE_LIMIT = b"""{
  "error": {
    "code": 429,
    "message": "You have exhausted your capacity on this model. Your quota will reset after 0s.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "cloudcode-pa.googleapis.com",
        "metadata": {
          "model": "claude-opus-4-6-thinking",
          "quotaResetDelay": "479.417207ms",
          "quotaResetTimeStamp": "2026-04-20T09:19:49Z",
          "uiMessage": "true"
        }
      },
      {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.479417207s"}
    ]
  }
}"""
STRUCTURED_RATE_LIMIT = b"""{"error": {"status": "RESOURCE_EXHAUSTED", "details": [
  {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s"}]}}"""
STRUCTURED_QUOTA = b"""{"error": {"status": "RESOURCE_EXHAUSTED", "details": [
  {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA_EXHAUSTED"}]}}"""
BARE = orjson.dumps(cloud_code_429(None))


NO_DELAY = b"""{"error": {"status": "RESOURCE_EXHAUSTED", "message": "Rate limited.", "details": [
  {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]}}"""


def rate_limit(delay: str | None) -> bytes:
    """Cloud Code's rate-limit body; without a delay its message still says "after 0s"."""
    return orjson.dumps(cloud_code_429("RATE_LIMIT_EXCEEDED", retry_delay=delay))


# ---- CPA's TestClassifyAntigravity429 -------------------------------------------------------


def test_quota_exhausted_in_the_message() -> None:
    body = b'{"error":{"status":"RESOURCE_EXHAUSTED","message":"QUOTA_EXHAUSTED"}}'
    assert limits.category(body) == "quota_exhausted"


def test_a_rate_limit_with_the_ui_message_stays_rate_limited() -> None:
    assert limits.category(UI_RATE_LIMIT) == "rate_limited"
    decision = limits.decide(UI_RATE_LIMIT)
    assert decision.kind == limits.INSTANT and decision.reason == "RATE_LIMIT_EXCEEDED"
    assert decision.retry_after == pytest.approx(0.479417207)  # RetryInfo before quotaResetDelay


def test_structured_rate_limit_and_quota() -> None:
    assert limits.category(STRUCTURED_RATE_LIMIT) == "rate_limited"
    assert limits.category(STRUCTURED_QUOTA) == "quota_exhausted"


def test_an_unstructured_429_is_a_soft_rate_limit() -> None:
    assert limits.category(b'{"error":{"message":"too many requests"}}') == "soft_rate_limit"


# ---- the rest of decideAntigravity429's table ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "after"),
    [
        (rate_limit("2.9s"), limits.INSTANT, 2.9),
        (rate_limit("3s"), limits.SHORT, 3.0),  # CPA's threshold: under 3 s is instant
        (rate_limit("299s"), limits.SHORT, 299.0),
        (rate_limit("300s"), limits.EXHAUSTED, 300.0),  # 5 min and more: the quota is gone
        (rate_limit(None), limits.INSTANT, 0.0),  # "reset after 0s" in the message
        (NO_DELAY, limits.SOFT, None),  # a rate limit without any delay
        (
            orjson.dumps(cloud_code_429("QUOTA_EXHAUSTED", retry_delay="256527.79s")),
            limits.EXHAUSTED,
            256527.79,
        ),
        (BARE, limits.SOFT, None),
        (
            b'{"error":{"status":"RESOURCE_EXHAUSTED","message":"Quota exhausted for today"}}',
            limits.EXHAUSTED,
            None,
        ),
        # the status comes first: a keyword under another status is no exhaustion
        (b'{"error":{"status":"UNAVAILABLE","message":"QUOTA_EXHAUSTED"}}', limits.SOFT, None),
        (b"", limits.SOFT, None),
        (b"<html>busy</html>", limits.SOFT, None),
    ],
    ids=[
        "instant",
        "short-at-3s",
        "short",
        "exhausted-at-5min",
        "rate-limit-after-0s",
        "rate-limit-no-delay",
        "quota",
        "bare",
        "keyword",
        "other-status",
        "empty",
        "not-json",
    ],
)
def test_decide(body: bytes, kind: str, after: float | None) -> None:
    decision = limits.decide(body)
    assert decision.kind == kind
    assert decision.retry_after == (pytest.approx(after) if after is not None else None)


def test_a_reason_of_another_kind_is_remembered() -> None:
    body = orjson.dumps(cloud_code_429("INSUFFICIENT_G1_CREDITS_BALANCE"))
    assert limits.decide(body) == limits.Decision(limits.SOFT, None, "INSUFFICIENT_G1_CREDITS_BALANCE")


def test_retry_delay_from_a_human_readable_message() -> None:
    """CPA's TestParseRetryDelay_HumanReadableDuration."""
    body = {
        "error": {
            "message": "You have exhausted your capacity on this model. Your quota will reset after 1h43m56s."
        }
    }
    assert google_retry_delay(body) == 3600 + 43 * 60 + 56


def test_no_capacity_is_recognised() -> None:
    """CPA's TestAntigravityShouldRetryNoCapacity_Standard503 (the hosts module's test)."""
    body = b"""{"error": {"code": 503, "status": "UNAVAILABLE",
      "message": "No capacity available for model gemini-3.1-flash-image on the server",
      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED"}]}}"""
    assert body.lower().find(NO_CAPACITY) >= 0


# ---- transient and the waits -----------------------------------------------------------------


def test_transient_is_the_bare_resource_exhausted() -> None:
    assert limits.transient(429, BARE)
    assert not limits.transient(503, BARE)
    assert not limits.transient(429, b'{"error":{"message":"Resource has been exhausted"}}')  # no status
    quota = b'{"error":{"status":"RESOURCE_EXHAUSTED","message":"Resource has been exhausted","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED"}]}}'
    assert not limits.transient(429, quota)


def test_delays_are_cpas() -> None:
    assert [limits.soft_delay(n) for n in (-1, 0, 1, 5, 6, 9)] == [0.5, 0.5, 1.0, 3.0, 3.0, 3.0]
    assert [limits.transient_delay(n) for n in (-1, 0, 1, 4, 9)] == pytest.approx([0.1, 0.1, 0.2, 0.5, 0.5])


@pytest.mark.parametrize(
    ("body", "waits"),
    [
        (rate_limit("0.5s"), [1.3, 1.3, None]),  # the delay plus 0.8 s, twice at most
        (rate_limit("0s"), [0.0, 0.0, None]),
        (BARE, [0.1, 0.2, None]),  # transient
        (NO_DELAY, [0.5, 1.0, None]),  # soft
        (b"", [0.5, 1.0, None]),
        (rate_limit("30s"), [None]),  # short cooldown: the next account
        (STRUCTURED_QUOTA, [None]),
        (orjson.dumps(cloud_code_429("INSUFFICIENT_G1_CREDITS_BALANCE")), [None]),
    ],
    ids=["instant", "instant-0s", "transient", "soft", "empty", "short", "quota", "no-credits"],
)
def test_same_account_wait(body: bytes, waits: list[float | None]) -> None:
    got = [limits.same_account_wait(429, body, n) for n in range(len(waits))]
    assert got == [pytest.approx(w) if w is not None else None for w in waits]
    assert limits.same_account_wait(503, body, 0) is None


class Scripted:
    """A transport answering from a list of (status, body)."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.urls: list[str] = []

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: Any, proxy: str = ""
    ) -> Any:
        self.urls.append(url)
        status, data = self.answers.pop(0)
        return ReadAnswer(status, {}, data)


URL = "http://cc.test/v1internal:streamGenerateContent?alt=sse"


async def test_the_waits_ask_the_same_account_again_then_hand_the_answer_on() -> None:
    inner = Scripted((429, BARE), (429, BARE), (429, BARE))
    resp = await limits.SameAccountWaits(inner).request("POST", URL, headers={}, body=b"{}")
    assert resp.status == 429 and await resp.read() == BARE and len(inner.urls) == 3
    inner = Scripted((429, BARE), (200, b"ok"))
    resp = await limits.SameAccountWaits(inner).request("POST", URL, headers={}, body=b"{}")
    assert resp.status == 200 and len(inner.urls) == 2


async def test_other_urls_pass_through() -> None:
    inner = Scripted((429, BARE))
    count = "http://cc.test/v1internal:countTokens"
    resp = await limits.SameAccountWaits(inner).request("POST", count, headers={}, body=b"{}")
    assert resp.status == 429 and inner.urls == [count]


async def test_a_client_gone_ends_the_wait() -> None:
    class Closed:
        def is_closing(self) -> bool:
            return True

    inner = Scripted((429, rate_limit("2s")), (200, b"ok"))
    token = presence.CLIENT.set(Closed())  # type: ignore[arg-type]
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ConnectionResetError):
            await limits.SameAccountWaits(inner).request("POST", URL, headers={}, body=b"{}")
        assert loop.time() - start < 0.5 and len(inner.urls) == 1
    finally:
        presence.CLIENT.reset(token)


async def test_pause() -> None:
    assert await presence.pause(0.05) and not presence.client_gone()  # outside a request: never gone
