"""Fast mode (``"speed": "fast"``, beta ``fast-mode-2026-02-01``) on Claude: its errors
belong to the request, and a caller-owned request declares the beta its body needs.

CPA's cases: claude_executor_beta_policy_test.go
(TestClassifyClaudeUpstreamError_FastModeCreditsIsRequestScoped,
TestClassifyClaudeUpstreamError_RealRateLimitStaysCredentialScoped,
TestClassifyClaudeUpstreamError_OtherStatusesUnaffected,
TestApplyClaudeHeaders_FastModeBetaMatchesAcrossStreamModes,
TestApplyClaudeHeaders_FastModePrecedesOAuthTrailer),
claude_executor_ratelimit_test.go (FastEntitlementWithRetryAfterRemainsRequestScoped,
FastModeAuthoritativeRejectionHeadersOverrideBody) and claude_executor_fast_error_test.go
(FastHTTPErrorPassesThroughWithoutRetry, NonFastErrorKeepsCredentialScopedBehavior).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.impersonate import OriginRouter
from tests.e2e.clients import KEY
from tests.providers.test_impersonate import cert, tls_claude  # noqa: F401

FAST = ident.FAST_MODE_BETA
CREDITS = b'{"type":"error","error":{"type":"rate_limit_error","message":"Usage credits are required for fast mode."}}'
REJECTED = b'{"type":"error","error":{"type":"upstream_error","message":"Fast request rejected"}}'


def fresh(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a context of its own: what an earlier build in this thread noted
    about its request must not reach this one (a request runs in its own task)."""
    return contextvars.Context().run(fn, *args)


def cred(key: str, base_url: str = "") -> Credential:
    return Credential(id=f"c-{key}", provider="claude", api_key=key, base_url=base_url)


def build(
    provider: ClaudeProvider,
    credential: Credential,
    body: dict[str, Any],
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    action: str = "generate",
) -> tuple[dict[str, str], dict[str, Any]]:
    req = provider.build(
        credential,
        body,
        model=body["model"],
        stream=stream,
        client_headers=headers or {},
        action=action,
    )
    return req.headers, orjson.loads(req.body)


def message(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "reply OK"}],
        **extra,
    }


def betas(headers: dict[str, str]) -> list[str]:
    value = next((v for k, v in headers.items() if k.lower() == "anthropic-beta"), "")
    return [b for b in value.split(",") if b]


# ---- which errors belong to the request (any request) ---------------------------------


@pytest.mark.parametrize(
    "body",
    [
        CREDITS,
        b'{"type":"error","error":{"type":"rate_limit_error","message":"Fast mode requires usage credits"}}',
    ],
)
def test_fast_mode_credits_refusal_is_request_scoped(body: bytes) -> None:
    """Both wordings of the refusal; the status and the exact body go back to the client."""
    err = fresh(ClaudeProvider().classify, 429, {}, body, "c1")
    assert err.request_scoped and not err.credential_scoped
    assert err.status == 429
    assert err.body == body


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit."}}',
        b'{"type":"error","error":{"type":"rate_limit_error","message":"This organization has exceeded its usage limit."}}',
    ],
)
def test_a_genuine_rate_limit_still_cools_and_rotates(body: bytes) -> None:
    err = fresh(ClaudeProvider().classify, 429, {}, body, "c1")
    assert not err.request_scoped


def test_only_a_429_carries_the_credits_refusal() -> None:
    """A 500 that mentions fast-mode credits is still a failure worth rotating away from."""
    body = b'{"error":{"message":"Usage credits are required for fast mode."}}'
    err = fresh(ClaudeProvider().classify, 500, {}, body, "c1")
    assert not err.request_scoped


def test_credits_refusal_with_retry_after_stays_request_scoped() -> None:
    """A Retry-After on the refusal does not make it the credential's: nothing cools.
    CPA: TestClaudeExecutor_RateLimit_FastEntitlementWithRetryAfterRemainsRequestScoped."""
    err = fresh(ClaudeProvider().classify, 429, {"Retry-After": "120"}, CREDITS, "c1")
    assert err.request_scoped and not err.credential_scoped
    assert err.retry_after == 120


# ---- any error to a fast request to Anthropic goes back as it is ------------------------

FAST_CASES = [
    # (status, stream, oauth, beta only)
    (400, False, True, False),
    (401, True, True, False),
    (403, False, False, False),
    (429, True, True, False),
    (500, False, True, False),
    (503, True, True, True),
]


def _fast_attempt(status: int, stream: bool, oauth: bool, beta_only: bool) -> UpstreamError:
    provider = ClaudeProvider()
    credential = cred("sk-ant-oat-fast-error" if oauth else "sk-ant-api03-fast-error")
    body = message() if beta_only else message(speed="fast")
    client_headers = {"anthropic-beta": FAST} if beta_only else {}
    headers, sent = build(provider, credential, body, stream=stream, headers=client_headers)
    assert FAST in betas(headers)
    assert ("speed" in sent) is not beta_only
    return provider.classify(status, {"content-type": "application/json"}, REJECTED, credential.id)


@pytest.mark.parametrize(("status", "stream", "oauth", "beta_only"), FAST_CASES)
def test_fast_request_error_goes_back_as_it_is(
    status: int, stream: bool, oauth: bool, beta_only: bool
) -> None:
    """OAuth and API keys, streamed or not, by ``speed`` or by the beta alone: the error
    is the request's (no retry elsewhere, no cooldown), with its status and exact body.
    CPA: TestClaudeExecutorFastHTTPErrorPassesThroughWithoutRetry (its gzip error body:
    tests/e2e/test_claude_cpa_compressed.py)."""
    err = fresh(_fast_attempt, status, stream, oauth, beta_only)
    assert err.request_scoped and not err.credential_scoped
    assert err.status == status
    assert err.body == REJECTED


def _non_fast_attempt() -> UpstreamError:
    provider = ClaudeProvider()
    credential = cred("sk-ant-oat-standard-rate-limit")
    build(provider, credential, message())
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"rate limit exceeded"}}'
    return provider.classify(429, {}, body, credential.id)


def test_non_fast_error_keeps_cooling() -> None:
    """CPA: TestClaudeExecutorNonFastErrorKeepsCredentialScopedBehavior."""
    err = fresh(_non_fast_attempt)
    assert err.status == 429 and not err.request_scoped


def _fast_to(base_url: str, action: str = "generate") -> UpstreamError:
    provider = ClaudeProvider()
    credential = cred("sk-ant-api03-gateway", base_url)
    build(provider, credential, message(speed="fast"), action=action)
    return provider.classify(500, {}, b'{"error":{"message":"boom"}}', credential.id)


def test_fast_request_to_another_base_is_an_ordinary_request() -> None:
    """CPA keys the pass-through on Anthropic's own host: a gateway may answer for other
    accounts behind it, so its errors keep cooling and rotating."""
    assert not fresh(_fast_to, "https://gateway.example.com").request_scoped
    assert fresh(_fast_to, "https://api.anthropic.com").request_scoped


def test_count_tokens_is_not_a_fast_request() -> None:
    """CPA's count path classifies as usual (no pass-through)."""
    assert not fresh(_fast_to, "https://api.anthropic.com", "count").request_scoped


def _fast_rejected_account() -> UpstreamError:
    provider = ClaudeProvider()
    credential = cred("sk-ant-api03-k1")
    build(provider, credential, message(speed="fast"))
    headers = {
        "Anthropic-Ratelimit-Unified-Status": "rejected",
        "Anthropic-Ratelimit-Unified-7d-Status": "rejected",
        "Anthropic-Ratelimit-Unified-7d-Reset": str(int(time.time() + 7 * 86400)),
        "Retry-After": "604800",
    }
    return provider.classify(429, headers, REJECTED, credential.id)


def test_rejection_headers_override_a_fast_body() -> None:
    """A shared window rejected is the account's, fast request or not: the credential
    cools and the next one is tried.
    CPA: TestClaudeExecutor_RateLimit_FastModeAuthoritativeRejectionHeadersOverrideBody."""
    err = fresh(_fast_rejected_account)
    assert err.credential_scoped and not err.request_scoped


# ---- the beta a fast body needs ----------------------------------------------------------


def test_caller_owned_request_declares_fast_mode_in_both_stream_modes() -> None:
    """A plain API key keeps the caller's request shape, but ``speed`` without its beta is
    a 400 at Anthropic: the beta comes with the body, streamed or not."""
    provider = ClaudeProvider()
    seen = []
    for stream in (False, True):
        headers, _ = build(
            provider, cred("key-fast-parity"), {"model": "claude-opus-5", "speed": "fast"}, stream=stream
        )
        assert FAST in betas(headers)
        seen.append(headers["anthropic-beta"])
    assert seen[0] == seen[1]


def test_caller_owned_fast_beta_follows_the_callers_and_precedes_the_bodys() -> None:
    """CPA: TestApplyClaudeHeaders_DefaultPreservesCallerBetas."""
    provider = ClaudeProvider()
    body = message(speed="fast", betas=["files-api-2025-04-14", FAST])
    headers, sent = build(provider, cred("key-fast-order"), body, headers={"anthropic-beta": "a-1,b-2"})
    assert betas(headers) == ["a-1", "b-2", FAST, "files-api-2025-04-14"]
    assert "betas" not in sent


def test_caller_owned_request_without_fast_gets_no_fast_beta() -> None:
    provider = ClaudeProvider()
    for body in (message(), message(speed="standard"), message(speed=1)):
        headers, _ = build(provider, cred("key-standard"), body)
        assert FAST not in betas(headers)


def test_oauth_fast_mode_precedes_the_cache_trailer() -> None:
    provider = ClaudeProvider()
    headers, _ = build(
        provider, cred("sk-ant-oat-beta-policy"), {"model": "claude-opus-5", "speed": "fast"}, stream=True
    )
    listed = betas(headers)  # (a cloaked OAuth request to Anthropic carries diagnostics: its beta last)
    assert listed[-3:] == [FAST, ident.EXTENDED_TTL_BETA, ident.CACHE_DIAGNOSIS_BETA]
    bare = ident.cli_betas({"model": "claude-opus-5", "speed": "fast"}, set(), True).split(",")
    assert bare[-2:] == [FAST, ident.EXTENDED_TTL_BETA]  # no diagnostics body: no diagnosis beta


# ---- through the proxy -------------------------------------------------------------------


def two_keys(base_url: str, extra: str = "") -> str:
    entries = "".join(
        f"""
  - api-key: "{key}"
    base-url: "{base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]{extra}"""
        for key in ("sk-a", "sk-b")
    )
    return f'api-keys: ["{KEY}"]\nclaude-api-key:{entries}\n'


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        return r.status, orjson.loads(await r.read()), dict(r.headers)


def sent_keys(fake: Any) -> list[str]:
    return [
        r.headers.get("x-api-key") or r.headers.get("Authorization", "").removeprefix("Bearer ")
        for r in fake.requests
        if r.path.startswith("/v1/messages")
    ]


async def cooled(proxy: Any) -> list[Any]:
    """Every cooldown record the proxy's pool holds."""
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


FAST_MSG = {
    "model": "claude-model",
    "max_tokens": 16,
    "speed": "fast",
    "messages": [{"role": "user", "content": "hi"}],
}


async def test_credits_refusal_reaches_the_client_without_rotation_or_cooldown(
    start_proxy, fake_claude
) -> None:
    """Two credentials, the first refuses fast mode: the client gets that 429 as it came,
    the second credential is not asked and the first does not cool (it serves at once).
    CPA: TestClaudeExecutor_RateLimit_FastEntitlementWithRetryAfterRemainsRequestScoped."""
    proxy = await start_proxy(two_keys(fake_claude.base_url))
    fake_claude.fail_next(429, message="Usage credits are required for fast mode.", retry_after=120)
    status, body, headers = await post(proxy.url, FAST_MSG)
    assert status == 429
    assert body["error"] == {
        "type": "rate_limit_error",
        "message": "Usage credits are required for fast mode.",
    }
    assert headers["Retry-After"] == "120"
    assert len(sent_keys(fake_claude)) == 1
    assert await cooled(proxy) == []
    for _ in range(2):  # both still serve ordinary traffic
        status, _, _ = await post(proxy.url, {**FAST_MSG, "speed": "standard"})
        assert status == 200
    assert sorted(sent_keys(fake_claude)[1:]) == ["sk-a", "sk-b"]


@pytest.mark.parametrize("stream", [False, True])
async def test_fast_request_to_anthropic_fails_without_rotation_or_cooldown(
    start_proxy,
    tls_claude,  # noqa: F811
    cert,  # noqa: F811
    stream: bool,
) -> None:
    """Through ``api.anthropic.com`` (the fake behind a TLS redirect): a 500 to a fast
    request goes back to the client; the other credential is not tried and nothing cools.
    The same 500 to an ordinary request fails over, as before.
    CPA: TestClaudeExecutorFastHTTPErrorPassesThroughWithoutRetry."""
    fake, _front, redirect = tls_claude
    proxy = await start_proxy(two_keys("https://api.anthropic.com", f'\n    proxy-url: "{redirect.url}"'))
    router = proxy.service.providers.get("claude").transport
    assert isinstance(router, OriginRouter)
    router.impersonating.verify = str(cert.cert)
    fake.fail_next(500, message="fast tier unavailable")
    status, body, _ = await post(proxy.url, {**FAST_MSG, "stream": stream})
    assert status == 500
    assert body["error"]["message"] == "fast tier unavailable"
    assert len(sent_keys(fake)) == 1
    assert FAST in fake.requests[-1].headers["anthropic-beta"].split(",")
    assert await cooled(proxy) == []
    fake.fail_next(500)  # control: an ordinary request moves on to the other credential
    status, _, _ = await post(proxy.url, {**FAST_MSG, "speed": "standard"})
    assert status == 200
    assert len(set(sent_keys(fake)[1:])) == 2
