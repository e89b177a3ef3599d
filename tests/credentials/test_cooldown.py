"""CPA's failure classification and request-scoped rules."""

from __future__ import annotations

import pytest

from cliproxy.credentials.cooldown import (
    classify,
    is_request_fault,
    match_scoped_rule,
    next_quota_backoff,
    transient_seconds,
)
from cliproxy.credentials.record import ScopedErrorRule


@pytest.mark.parametrize("status", [400, 409, 413, 422])
def test_request_fault_statuses(status):
    assert is_request_fault(status, "oops")
    assert classify(status, "oops").kind == "request_fault"


def test_request_fault_bodies():
    assert is_request_fault(500, '{"error":{"type":"invalid_request_error"}}')
    assert is_request_fault(503, '{"code":"context_length_exceeded"}')
    assert not is_request_fault(429, '{"error":{"type":"invalid_request_error"}}')
    assert not is_request_fault(402, "bad request")
    assert not is_request_fault(401, '{"error":{"type":"authentication_error","code":"invalid_request_error"}}')
    body = "Item with id 'rs_1' not found. Items are not persisted when `store` is set to false."
    assert is_request_fault(404, body)
    assert not is_request_fault(500, "boom")


def test_special_kinds_win_over_request_fault():
    assert classify(400, "The requested model is not supported").kind == "model_support"
    assert classify(400, '{"error":"invalid_grant"}').kind == "invalid_grant"
    assert classify(403, "<html>Cloudflare challenge-platform</html>").kind == "cloudflare"
    assert classify(429, "slow down").kind == "status"


def test_scoped_rules():
    rules = (ScopedErrorRule(400, ("quota",), (), "continue-and-cooldown"),
             ScopedErrorRule(403, (), (r"banned\s+\d+",), "stop"),
             ScopedErrorRule(403, ("x",), ("[",), "continue"))
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
