"""CPA's failure classification and request-scoped rules."""

from __future__ import annotations

import pytest

from cliproxy.credentials.cooldown import (
    CooldownInput,
    Failure,
    classify,
    is_request_fault,
    match_scoped_rule,
    next_quota_backoff,
    next_record,
    transient_seconds,
)
from cliproxy.credentials.record import ScopedErrorRule
from cliproxy.state.base import CooldownRecord


@pytest.mark.parametrize("status", [400, 409, 413, 422])
def test_request_fault_statuses(status):
    assert is_request_fault(status, "oops")
    assert classify(status, "oops").kind == "request_fault"


def test_request_fault_bodies():
    assert is_request_fault(500, '{"error":{"type":"invalid_request_error"}}')
    assert is_request_fault(503, '{"code":"context_length_exceeded"}')
    assert not is_request_fault(429, '{"error":{"type":"invalid_request_error"}}')
    assert not is_request_fault(402, "bad request")
    assert not is_request_fault(
        401, '{"error":{"type":"authentication_error","code":"invalid_request_error"}}'
    )
    body = "Item with id 'rs_1' not found. Items are not persisted when `store` is set to false."
    assert is_request_fault(404, body)
    assert not is_request_fault(500, "boom")


def test_special_kinds_win_over_request_fault():
    assert classify(400, '{"error":{"code":"model_not_supported","message":"no"}}').kind == "model_support"
    assert classify(400, '{"error":"invalid_grant"}').kind == "invalid_grant"
    assert classify(403, "<html>Cloudflare challenge-platform</html>").kind == "cloudflare"
    assert classify(429, "slow down").kind == "status"


def test_scoped_rules():
    rules = (
        ScopedErrorRule(400, ("quota",), (), "continue-and-cooldown"),
        ScopedErrorRule(403, (), (r"banned\s+\d+",), "stop"),
        ScopedErrorRule(403, ("x",), ("[",), "continue"),
    )
    assert match_scoped_rule(rules, 400, "monthly quota hit") == "continue-and-cooldown"
    assert match_scoped_rule(rules, 403, "you are banned 42") == "stop"
    assert match_scoped_rule(rules, 403, "x marks") == "continue"
    assert match_scoped_rule(rules, 500, "quota") is None
    failure = classify(400, "monthly quota hit", rules)
    assert failure.force_cooldown and not failure.stop and failure.cools
    failure = classify(403, "you are banned 42", rules)
    assert failure.kind == "scoped" and failure.stop and not failure.cools


def test_backoff_ladder_and_transient_setting():
    assert next_quota_backoff(0) == (1.0, 1)
    assert next_quota_backoff(3) == (8.0, 4)
    assert next_quota_backoff(10) == (1024.0, 11)
    assert next_quota_backoff(11) == (1800.0, 11)  # 2048 s is capped, the level stays
    assert (transient_seconds(0), transient_seconds(-1), transient_seconds(5)) == (60.0, 0.0, 5.0)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            '{"error":{"message":"The requested model is not supported.","type":"invalid_request_error",'
            '"code":"model_not_supported"}}',
        ),
        (400, '{"error":{"type":"unsupported_model","message":"nope"}}'),
        (422, '{"code":"model_not_supported","message":"nope"}'),
        (404, '{"error":{"code":"model_not_found","message":"The model `x` does not exist"}}'),
        (400, '{"type":"error","error":{"type":"invalid_request_error","code":"model_not_available"}}'),
    ],
)
def test_model_support_from_structured_fields(status, body):
    assert classify(status, body).kind == "model_support"


@pytest.mark.parametrize(
    "body",
    [
        # CPA matches these texts (12 h cooldown); we do not on purpose: free text is often the
        # upstream quoting the client's own input back, so any client could cool a shared credential
        "The requested model is not supported",
        "model_not_supported",
        '{"error":{"message":"You said: model not supported","type":"invalid_request_error"}}',
        '{"error":{"message":"unsupported model gpt-x is not available for your plan"}}',
        '{"detail":"The \'gpt-5.4\' model is not supported when using Codex with a ChatGPT account."}',
    ],
)
def test_model_support_text_is_a_request_fault(body):
    failure = classify(400, body)
    assert failure.kind == "request_fault" and failure.stop and not failure.cools


def test_model_support_code_needs_an_error_status():
    assert classify(500, '{"error":{"code":"model_not_supported"}}').kind == "status"


def _cooldown(failure: Failure, status: int, disable: bool) -> float:
    record = next_record(
        None,
        CooldownRecord("a", "m", "claude"),
        CooldownInput(status, failure, "x", None, disable, 60.0),
        now=1000.0,
    )
    return max(0.0, record.until() - 1000.0)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, '{"error":{"code":"model_not_supported"}}'),
        (403, "<html>Cloudflare challenge-platform</html>"),
        (401, '{"error":"invalid_grant"}'),
        (401, "no"),
        (403, "no"),
        (404, "no"),
        (429, "no"),
        (500, "no"),
        (503, "no"),
    ],
)
def test_disable_cooling_means_no_cooldown_of_any_kind(status, body):
    failure = classify(status, body)
    assert failure.cools
    assert _cooldown(failure, status, disable=False) > 0
    assert _cooldown(failure, status, disable=True) == 0


def test_and_cooldown_rules_still_cool_with_cooling_disabled():
    rules = (
        ScopedErrorRule(400, ("model",), (), "continue-and-cooldown"),
        ScopedErrorRule(500, ("boom",), (), "stop-and-cooldown"),
    )
    assert (
        _cooldown(classify(400, '{"error":{"code":"model_not_supported"}}', rules), 400, disable=True)
        == 43200
    )
    assert _cooldown(classify(500, "boom", rules), 500, disable=True) == 60


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # the upstream quoting a client's message must not decide the credential's fate
        (400, '{"error":{"message":"echo: invalid_grant","type":"invalid_request_error"}}', "request_fault"),
        (400, '{"error":{"message":"echo: <html> cloudflare challenge-platform"}}', "request_fault"),
        (500, '{"error":{"message":"echo: <html> cloudflare challenge-platform"}}', "status"),
        (400, "Bad request: challenge-platform <html>", "request_fault"),
        # what the real things look like
        (
            400,
            '{"error":"invalid_grant","error_description":"Token has been expired or revoked."}',
            "invalid_grant",
        ),
        (400, '{"error":{"code":"invalid_grant","message":"x"}}', "invalid_grant"),
        (
            403,
            "<!DOCTYPE html><html><head><title>Just a moment...</title>"
            "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate'></script>",
            "cloudflare",
        ),
    ],
)
def test_echoed_text_does_not_pick_a_special_kind(status, body, kind):
    assert classify(status, body).kind == kind


_DEEPSEEK_AUTH = (
    '{"error":{"code":"invalid_request_error","message":"Authentication Fails, Your api key: '
    '****heck is invalid","param":null,"type":"authentication_error"}}'
)
_STORE_FALSE = (
    "Item with id 'rs_0b5f3eb6f51f175c0169ca74e4a85881998539920821603a74' not found. Items are "
    "not persisted when `store` is set to false. Try again with `store` set to true, or remove "
    "this item from your input."
)


@pytest.mark.parametrize(
    ("status", "body", "want"),
    [
        (400, "bad request", True),
        (409, "conflict", True),
        (413, "too large", True),
        (422, "unprocessable", True),
        (502, '{"error":{"type":"invalid_request","code":"cyber_policy","message":"blocked"}}', True),
        (500, '{"response":{"error":{"type":"server_error","code":"context_length_exceeded"}}}', True),
        (502, '{"body":{"error":{"type":"invalid_request","message":"invalid"}}}', True),
        (404, _STORE_FALSE, True),
        (500, '{"error":{"code":500,"message":"Internal error encountered.","status":"UNKNOWN"}}', False),
        (404, "model not found", False),
        (401, "invalid token", False),
        (401, _DEEPSEEK_AUTH, False),
        # OpenAI's revoked-key 401 reads as a request fault in CPA too (only the type
        # authentication_error is exempt); the ChatGPT backend's token_expired does not
        (401, '{"error":{"type":"invalid_request_error","code":"invalid_api_key"}}', True),
        (401, '{"error":{"message":"Token expired.","type":null,"code":"token_expired"}}', False),
        (
            402,
            '{"error":{"message":"Insufficient Balance","type":"unknown_error","code":"invalid_request_error"}}',
            False,
        ),
        (
            429,
            '{"error":{"message":"Rate Limit Reached","type":"unknown_error","code":"invalid_request_error"}}',
            False,
        ),
        (429, "quota", False),
        (502, "unexpected EOF", False),
        (502, '{"error":', False),
        (0, "", False),
    ],
)
def test_request_fault_table(status: int, body: str, want: bool) -> None:
    """CPA: TestIsRequestFault (clienterror): statuses 400/409/413/422, structured codes and
    types nested under ``error``, ``response.error`` or ``body.error``, and the verbatim
    ``store=false`` text are the request's fault; 401/402/429, a generic 500, transport
    text and broken JSON are not. (CPA's status-from-error-object case has no counterpart:
    cliproxy passes the status itself.)"""
    assert is_request_fault(status, body) is want


@pytest.mark.parametrize(
    "body",
    [
        *(
            f'{{"error":{{"code":"{code}"}}}}'
            for code in (
                "cyber_policy",
                "context_length_exceeded",
                "message_too_big",
                "string_above_max_length",
                "invalid_prompt",
                "invalid_value",
                "unsupported_value",
                "invalid_request_error",
                "previous_response_not_found",
            )
        ),
        *(
            f'{{"error":{{"type":"{kind}"}}}}'
            for kind in ("invalid_request", "invalid_request_error", "bad_request_error", "invalid_prompt")
        ),
    ],
)
def test_request_fault_structured_identifiers(body: str) -> None:
    """CPA: TestIsRequestFaultStructuredIdentifiers: each code and type, behind a 502."""
    assert is_request_fault(502, body)
