"""CPA's MarkResult cases (sdk/cliproxy/auth/conductor_overrides_test.go) on the pool:
what one failed attempt does to its credential. CPA's Manager records the failure on the
auth's model state; here ``Pool.mark_failure`` says what it decided (a request fault that
stops the request, or a cooldown of the model or the credential) and ``pick`` shows it."""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.errors import CooldownError
from cliproxy.state.memory import MemoryState

from .conftest import cred

NOT_PERSISTED = (
    "Item with id 'rs_0b5f3eb6f51f175c0169ca74e4a85881998539920821603a74' not found. Items are "
    "not persisted when `store` is set to false. Try again with `store` set to true, or remove "
    "this item from your input."
)


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (413, '{"error":{"message":"upstream websocket message too big","type":"invalid_request_error"}}'),
        (400, '{"error":{"type":"invalid_request_error","code":"invalid_value","message":"Invalid input."}}'),
        (400, '{"error":{"type":"bad_request_error","code":"invalid_value","message":"Bad input."}}'),
        (502, '{"error":{"type":"invalid_request","code":"cyber_policy","message":"flagged"}}'),
        (413, '{"error":{"code":"message_too_big","message":"upstream websocket message too big"}}'),
        (400, "bad request"),
        (409, '{"error":{"type":"conflict_error","code":"conflict","message":"request conflict"}}'),
        (502, '{"error":{"type":"server_error","code":"context_length_exceeded","message":"too long"}}'),
        (502, '{"body":{"error":{"type":"invalid_request","message":"invalid input"}}}'),
        (404, NOT_PERSISTED),
        (401, '{"error":{"message":"Invalid request parameter","type":"invalid_request_error"}}'),
    ],
    ids=[
        "ws-message-too-big",
        "invalid-request",
        "bad-request",
        "cyber-policy-502",
        "message-too-big",
        "plain-bad-request",
        "conflict",
        "context-length-502",
        "invalid-request-type-502",
        "item-not-persisted",
        "request-fault-body-401",
    ],
)
async def test_a_request_fault_stops_and_cools_nothing(clock, status: int, body: str) -> None:
    """TestManager_RequestScopedErrorStopsCredentialFallbackWithoutSuspendingAuth,
    TestManager_MarkResult_RequestScopedNotFoundDoesNotCooldownAuth,
    TestManager_RequestScopedNotFoundStopsRetryWithoutSuspendingAuth and
    TestManager_MarkResult_RequestFaultBodyDoesNotCooldownModelOrAuth: each of CPA's
    request-scoped errors stops the request (no other credential is tried) and cools neither
    the model nor the credential, so the same credential serves the next request. (CPA's
    408 "stream closed before response.completed" is a typed error of its Codex executor;
    here a Responses stream ending early is covered in test_stream_late_failure_cpa.py.)"""
    pool = make_pool(
        clock, [cred("aa-bad-auth", "codex"), cred("bb-good-auth", "codex")], strategy="fill-first"
    )
    decision = await pool.mark_failure(pool.get("aa-bad-auth"), "gpt-5.5", status, body=body)
    assert decision.request_fault and decision.stop and decision.cooldown_seconds == 0
    assert (await pool.pick("gpt-5.5")).id == "aa-bad-auth"
    assert await pool.cooldowns(pool.get("aa-bad-auth")) == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            402,
            '{"error":{"message":"Insufficient Balance","type":"unknown_error","code":"invalid_request_error"}}',
        ),
        (
            401,
            '{"error":{"code":"invalid_request_error","message":"Authentication Fails","type":"authentication_error"}}',
        ),
        (
            429,
            '{"error":{"code":"invalid_request_error","message":"Rate Limit Reached","type":"unknown_error"}}',
        ),
    ],
    ids=["insufficient-balance", "authentication", "rate-limit"],
)
async def test_deepseek_credential_failures_rotate(clock, status: int, body: str) -> None:
    """TestManager_DeepSeekInsufficientBalanceRotatesCredentialAndRebindsSession and
    TestManager_DeepSeekCredentialFailuresRotateCredential: DeepSeek labels its balance,
    key and rate-limit failures ``invalid_request_error``; they are still the credential's
    failures, not the request's: the credential cools, the next pick (and the session
    bound to it) moves to the other key."""
    creds = [cred("aa-empty", "openai-compatibility"), cred("bb-ok", "openai-compatibility")]
    pool = make_pool(clock, creds, session_affinity=True, affinity_ttl=3600)
    sk = "derived:deepseek-session"
    assert (await pool.pick("deepseek-v4-pro", session_key=sk)).id == "aa-empty"
    decision = await pool.mark_failure(
        pool.get("aa-empty"), "deepseek-v4-pro", status, body=body, session_key=sk
    )
    assert not decision.request_fault and not decision.stop and decision.cooldown_seconds > 0
    assert (await pool.pick("deepseek-v4-pro", session_key=sk)).id == "bb-ok"
    assert (await pool.pick("deepseek-v4-pro", session_key=sk)).id == "bb-ok"


async def test_an_unknown_upstream_error_penalizes_the_model_only(clock) -> None:
    """TestManager_UnknownUpstreamErrorRotatesAndPenalizesModelOnly: Gemini's 500 UNKNOWN
    cools that model of that credential (the next pick moves on), while its sibling model
    and the credential itself stay available."""
    pool = make_pool(clock, [cred("aa-bad", "gemini"), cred("bb-good", "gemini")], strategy="fill-first")
    body = '{"error":{"code":500,"message":"Internal error encountered.","status":"UNKNOWN"}}'
    decision = await pool.mark_failure(pool.get("aa-bad"), "gemini-3.6-pro", 500, body=body)
    assert decision.scope == "model" and decision.cooldown_seconds == 60.0
    assert (await pool.pick("gemini-3.6-pro")).id == "bb-good"
    assert (await pool.pick("gemini-3.6-flash")).id == "aa-bad"


async def test_a_generic_route_not_found_suspends_the_model(clock) -> None:
    """TestManager_Execute_GenericRouteNotFoundStillSuspendsModel: a bare "404 page not
    found" is not the request's fault (unlike an item that was not persisted): the model is
    suspended on that credential for CPA's 12 hours."""
    pool = make_pool(clock, [cred("a")])
    decision = await pool.mark_failure(pool.get("a"), "m", 404, body="404 page not found")
    assert not decision.request_fault and decision.cooldown_seconds == 12 * 3600
    with pytest.raises(CooldownError):
        await pool.pick("m")


async def test_transient_cooldown_default_and_disabled(clock) -> None:
    """TestManager_MarkResult_TransientErrorCooldownDefault,
    TestManager_MarkResult_TransientErrorCooldownDisabled and
    TestManager_MarkResult_TransientErrorCooldownDoesNotDisableAuthErrors:
    a 502 cools the model 60 s by default; with transient-error-cooldown-seconds -1 neither a
    model's 502 nor a credential-level 503 cools, while a 403 still cools 30 minutes."""
    pool = make_pool(clock, [cred("a")])
    assert (await pool.mark_failure(pool.get("a"), "m", 502, body="bad gateway")).cooldown_seconds == 60.0
    pool = make_pool(clock, [cred("a")], transient_cooldown=-1)
    a = pool.get("a")
    assert (await pool.mark_failure(a, "m", 502, body="bad gateway")).cooldown_seconds == 0
    assert (await pool.mark_failure(a, "", 503, body="unavailable")).cooldown_seconds == 0
    assert (await pool.pick("m")).id == "a"
    assert (await pool.mark_failure(a, "m2", 403, body="forbidden")).cooldown_seconds == 1800.0


@pytest.mark.parametrize("status", [500, 403, 429])
async def test_a_credentials_disable_cooling_keeps_it_in_service(clock, status: int) -> None:
    """TestManager_MarkResult_RespectsAuthDisableCoolingOverride,
    TestManager_MarkResult_RespectsAuthDisableCoolingOverride_On403,
    TestManager_Execute_DisableCooling_DoesNotBlackoutAfter403 and
    TestManager_Execute_DisableCooling_DoesNotBlackoutAfter429RetryAfter:
    a credential with disable-cooling true is not cooled by a 500, a 403 or a 429 with a
    Retry-After, so the next request is sent to it again (and gets the upstream's status)."""
    pool = make_pool(clock, [cred("a", disable_cooling=True)])
    decision = await pool.mark_failure(pool.get("a"), "m", status, retry_after=120, body="boom")
    assert decision.cooldown_seconds == 0
    assert (await pool.pick("m")).id == "a"


async def test_a_plain_text_cloudflare_mention_is_a_403(clock) -> None:
    """TestManager_MarkResult_CloudflareChallenge_On403, a deliberate difference: CPA takes
    any 403 text mentioning "cf-mitigated: challenge" for a Cloudflare challenge (a short
    back-off). We take only an HTML challenge page for one (cooldown.py explains why: an
    upstream often echoes the client's own text), so this plain-text 403 cools 30 minutes
    like any 403; an HTML challenge page gets the short back-off."""
    pool = make_pool(clock, [cred("a")])
    plain = await pool.mark_failure(pool.get("a"), "m", 403, body="cf-mitigated: challenge")
    assert plain.cooldown_seconds == 1800.0
    page = '<!DOCTYPE html><html><body><script src="/cdn-cgi/challenge-platform/h/b"></script></body></html>'
    html = await pool.mark_failure(pool.get("a"), "n", 403, body=page)
    assert 5 <= html.cooldown_seconds <= 25 and html.reason == "cloudflare challenge"
