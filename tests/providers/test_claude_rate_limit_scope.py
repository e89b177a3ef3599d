"""Anthropic's unified rate-limit headers decide a Claude 429's scope and its wait.

A rejected shared window (``5h``, ``7d``, or an aggregate rejection that does not say the
shared windows are open) exhausts the account: every model of the credential cools. A
rejection of only the per-model weekly window (``7d_oi``, Fable) cools that model for as
long as Retry-After says. CPA's cases: claude_executor_ratelimit_test.go and
claude_executor_fable_ratelimit_test.go. CPA adds 1-30 s of random grace to every wait;
cliproxy does not (predictable cooldowns), so the waits below are exact.
"""

from __future__ import annotations

import contextvars
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.errors import UpstreamError
from cliproxy.providers import claude_limits
from cliproxy.providers.claude import ClaudeProvider
from tests.e2e.clients import KEY

DAY = 86400.0
BODY = b'{"type":"error","error":{"type":"rate_limit_error","message":"Shared usage window rejected."}}'
FABLE = b'{"type":"error","error":{"type":"rate_limit_error","message":"Fable usage window rejected."}}'


def classify(status: int, headers: dict[str, str], body: bytes = BODY) -> UpstreamError:
    """The provider's reading of an answer, in a context no earlier request touched."""
    err: UpstreamError = contextvars.Context().run(ClaudeProvider().classify, status, headers, body, "c1")
    return err


def fable_only(**more: str) -> dict[str, str]:
    return {
        "Anthropic-Ratelimit-Unified-Status": "rejected",
        "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
        "Anthropic-Ratelimit-Unified-7d-Status": "allowed",
        "Anthropic-Ratelimit-Unified-7d_oi-Status": "rejected",
        **more,
    }


# ---- scope --------------------------------------------------------------------------------


def test_fable_only_rejection_is_model_scoped() -> None:
    """CPA: TestClassifyClaudeUpstreamError_FableOnlyRejectionIsModelScoped."""
    err = classify(429, fable_only(**{"Retry-After": "120"}), FABLE)
    assert not err.credential_scoped and not err.request_scoped


@pytest.mark.parametrize(
    "headers",
    [
        {
            "Anthropic-Ratelimit-Unified-5h-Status": "rejected",
            "Anthropic-Ratelimit-Unified-7d-Status": "allowed",
        },
        {
            "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
            "Anthropic-Ratelimit-Unified-7d-Status": "rejected",
        },
        {"Anthropic-Ratelimit-Unified-Status": "rejected"},
        {
            "Anthropic-Ratelimit-Unified-Status": "rejected",
            "Anthropic-Ratelimit-Unified-5h-Status": "unknown",
            "Anthropic-Ratelimit-Unified-7d-Status": "invalid",
        },
        {"anthropic-ratelimit-unified-7d-status": "REJECTED"},  # any case, names and values
    ],
    ids=["5h", "7d", "aggregate, shared missing", "aggregate, shared malformed", "lower-case names"],
)
def test_shared_or_ambiguous_rejection_is_credential_scoped(headers: dict[str, str]) -> None:
    """CPA: TestClassifyClaudeUpstreamError_SharedOrAmbiguousRejectionRemainsCredentialScoped."""
    err = classify(429, headers)
    assert err.credential_scoped and not err.request_scoped


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {}),  # an ordinary model-level 429
        (
            429,
            {
                "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
                "Anthropic-Ratelimit-Unified-7d-Status": "allowed",
            },
        ),
        (429, {"Anthropic-Ratelimit-Unified-Status": "allowed_warning"}),
        (529, {"Anthropic-Ratelimit-Unified-7d-Status": "rejected"}),  # only a 429 is a limit
    ],
)
def test_other_answers_are_not_credential_scoped(status: int, headers: dict[str, str]) -> None:
    assert not classify(status, headers).credential_scoped


# ---- how long -----------------------------------------------------------------------------


def test_fable_rejection_waits_retry_after_not_the_week() -> None:
    """CPA: TestClassifyClaudeUpstreamError_FableRetryDuration."""
    week = str(int(time.time() + 7 * DAY))
    assert (
        classify(
            429, fable_only(**{"Retry-After": "120", "Anthropic-Ratelimit-Unified-7d_oi-Reset": week})
        ).retry_after
        == 120
    )
    # no Retry-After: no deadline at all (the cooldown table's back-off), never the week
    assert classify(429, fable_only(**{"Anthropic-Ratelimit-Unified-7d_oi-Reset": week})).retry_after is None


def test_rejected_7d_window_waits_for_its_reset() -> None:
    """CPA: TestClaudeExecutor_HonorsAnthropicRateLimitHeaders_Execute (no 1-30 s grace,
    so no fuzz to keep stable: the wait is exact)."""
    now = 1_000_000.0
    headers = {
        "Anthropic-Ratelimit-Unified-Status": "rejected",
        "Anthropic-Ratelimit-Unified-5h-Status": "allowed",
        "Anthropic-Ratelimit-Unified-5h-Reset": str(int(now + 5 * 3600)),
        "Anthropic-Ratelimit-Unified-7d-Status": "rejected",
        "Anthropic-Ratelimit-Unified-7d-Reset": str(int(now + 7 * DAY)),
        "Anthropic-Ratelimit-Unified-Representative-Claim": "seven_day",
        "Anthropic-Ratelimit-Unified-Reset": str(int(now + 7 * DAY)),
        "Retry-After": str(int(7 * DAY)),
    }
    assert claude_limits.reset_after(headers, now) == 7 * DAY


def test_rejected_5h_window_waits_for_its_reset_and_ignores_an_allowed_7d() -> None:
    """CPA: TestClaudeExecutor_HonorsAnthropicRateLimitHeaders_ExecuteStream (the
    headers' reading; the stream through the proxy: test_claude_cpa_limits_cooling.py)."""
    now = 1_000_000.0
    headers = {
        "Anthropic-Ratelimit-Unified-Status": "rejected",
        "Anthropic-Ratelimit-Unified-5h-Status": "rejected",
        "Anthropic-Ratelimit-Unified-5h-Reset": str(int(now + 5 * 3600)),
        "Anthropic-Ratelimit-Unified-7d-Status": "allowed",
        "Anthropic-Ratelimit-Unified-7d-Reset": str(int(now + 7 * DAY)),
    }
    assert claude_limits.reset_after(headers, now) == 5 * 3600


def test_both_windows_rejected_waits_for_the_later() -> None:
    """CPA: TestClaudeExecutor_RateLimit_BothRejectedUsesLongest."""
    now = 1_000_000.0
    headers = {
        "Anthropic-Ratelimit-Unified-5h-Status": "rejected",
        "Anthropic-Ratelimit-Unified-5h-Reset": str(int(now + 5 * 3600)),
        "Anthropic-Ratelimit-Unified-7d-Status": "rejected",
        "Anthropic-Ratelimit-Unified-7d-Reset": str(int(now + 7 * DAY)),
    }
    assert claude_limits.reset_after(headers, now) == 7 * DAY


def test_lower_case_header_names_are_read() -> None:
    """CPA: TestClaudeExecutor_RateLimit_CaseInsensitiveRawHeaderMap."""
    now = 1_000_000.0
    headers = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-7d-status": "rejected",
        "anthropic-ratelimit-unified-7d-reset": str(int(now + 2 * 3600)),
        "retry-after": "7200",
    }
    assert claude_limits.reset_after(headers, now) == 2 * 3600


def test_reset_times_in_rfc3339_and_http_dates() -> None:
    now = 1_000_000.0
    at = datetime.fromtimestamp(now + 600, UTC)
    for reset in (at.isoformat(), format_datetime(at, usegmt=True)):
        headers = {
            "anthropic-ratelimit-unified-5h-status": "rejected",
            "anthropic-ratelimit-unified-5h-reset": reset,
        }
        assert claude_limits.reset_after(headers, now) == 600


def test_the_aggregate_reset_counts_unless_the_shared_windows_are_open() -> None:
    now = 1_000_000.0
    reset = {"anthropic-ratelimit-unified-reset": str(int(now + 900))}
    assert claude_limits.reset_after(reset, now) == 900  # nothing says they are open
    allowed = {
        **reset,
        "anthropic-ratelimit-unified-5h-status": "allowed",
        "anthropic-ratelimit-unified-7d-status": "allowed",
    }
    assert claude_limits.reset_after(allowed, now) is None


def test_only_a_wait_ahead_counts() -> None:
    """A zero Retry-After or a reset in the past gives no deadline (CPA: back-off), where
    the old reading cooled for 0 s, that is not at all."""
    now = 1_000_000.0
    assert claude_limits.reset_after({"Retry-After": "0"}, now) is None
    past = {
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": str(int(now - 5)),
    }
    assert claude_limits.reset_after(past, now) is None


def test_every_error_status_reads_the_headers() -> None:
    """CPA reads the reset headers on any 4xx/5xx, not only on a 429."""
    reset = str(int(time.time() + 3600))
    err = classify(
        529,
        {"anthropic-ratelimit-unified-5h-status": "rejected", "anthropic-ratelimit-unified-5h-reset": reset},
    )
    assert err.retry_after is not None and 3590 < err.retry_after <= 3600


# ---- through the proxy --------------------------------------------------------------------


def two_keys_two_models(base_url: str) -> str:
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{base_url}"
    models:
      - {{name: "claude-sonnet-4-6", alias: "model-a"}}
      - {{name: "claude-opus-4-8", alias: "model-b"}}"""
        for key in ("sk-a", "sk-b")
    )
    return f'api-keys: ["{KEY}"]\nclaude-api-key:{entries}\n'


async def ask(proxy: Any, model: str) -> int:
    body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        orjson.loads(await r.read())
        return r.status


def sent(fake: Any) -> list[tuple[str, str]]:
    """(key, upstream model) of every messages request the fake got."""
    return [(r.key, r.model) for r in fake.requests if r.path.startswith("/v1/messages")]


async def test_credential_scoped_429_keeps_every_model_off_the_credential(start_proxy, fake_claude) -> None:
    """sk-a rejects the shared 7d window on model A: the request moves to sk-b, and model
    B is no longer sent to sk-a either (the whole credential cools).
    CPA: TestClaudeExecutor_AuthManager_AlternativeCredentialCanBeSelected."""
    proxy = await start_proxy(two_keys_two_models(fake_claude.base_url))
    week = int(time.time() + 7 * DAY)
    fake_claude.fail_key(
        "sk-a",
        429,
        message="7d limit rejected.",
        unified={"status": "rejected", "7d-status": "rejected", "7d-reset": week},
    )
    for _ in range(2):  # round robin: one of the two starts at sk-a
        assert await ask(proxy, "model-a") == 200
    assert sent(fake_claude).count(("sk-a", "claude-sonnet-4-6")) == 1
    fake_claude.clear()
    for _ in range(4):
        assert await ask(proxy, "model-b") == 200
    assert sent(fake_claude) == [("sk-b", "claude-opus-4-8")] * 4
    cred = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-a")
    records = await proxy.service.pool.cooldowns(cred)
    wide = [r for r in records if r.model == ""]
    assert wide and wide[0].until() >= week - 5


FABLE_ONLY = {
    "status": "rejected",
    "5h-status": "allowed",
    "7d-status": "allowed",
    "7d_oi-status": "rejected",
}


@pytest.mark.parametrize("unified", [None, FABLE_ONLY], ids=["ordinary", "fable-only"])
async def test_model_scoped_429_leaves_the_other_models_on_the_credential(
    start_proxy, fake_claude, unified: dict[str, Any] | None
) -> None:
    """An ordinary 429, and a Fable-only (7d_oi) rejection whose window resets in a week,
    cool model A on sk-a for Retry-After; model B still goes to sk-a.
    CPA: TestClaudeExecutor_AuthManager_OrdinaryModel429DoesNotBlockSiblingModels,
    TestClaudeExecutor_AuthManager_FableOnlyRejectionDoesNotBlockOpus."""
    proxy = await start_proxy(two_keys_two_models(fake_claude.base_url))
    if unified is not None:
        unified = {**unified, "7d_oi-reset": int(time.time() + 7 * DAY)}
    fake_claude.fail_key(
        "sk-a", 429, model="claude-sonnet-4-6", message="Rate limited.", retry_after=120, unified=unified
    )
    for _ in range(2):
        assert await ask(proxy, "model-a") == 200
    assert sent(fake_claude).count(("sk-a", "claude-sonnet-4-6")) == 1
    cred = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-a")
    (record,) = await proxy.service.pool.cooldowns(cred)
    assert record.model != "" and record.until() <= time.time() + 121  # ~Retry-After, not a week
    fake_claude.clear()
    for _ in range(2):
        assert await ask(proxy, "model-b") == 200
    assert sorted(k for k, _ in sent(fake_claude)) == ["sk-a", "sk-b"]
