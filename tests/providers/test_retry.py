"""Retry hints from upstream error answers."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from cliproxy.providers.retry import (
    codex_reset,
    google_retry_delay,
    parse_duration,
    retry_after_header,
)


@pytest.mark.parametrize(
    "text,secs",
    [("3s", 3), ("1.5s", 1.5), ("1h2m3s", 3723), ("250ms", 0.25), ("2m", 120), ("", None), ("soon", None)],
)
def test_parse_duration(text, secs):
    assert parse_duration(text) == secs


def test_retry_after_seconds_and_http_date():
    assert retry_after_header({"Retry-After": "7"}) == 7
    assert retry_after_header({"retry-after": "0"}) == 0
    now = 1_800_000_000.0
    date = formatdate(now + 30, usegmt=True)
    assert retry_after_header({"Retry-After": date}, now=now) == pytest.approx(30)
    assert retry_after_header({"Retry-After": "garbage"}) is None
    assert retry_after_header({}) is None


def test_google_retry_info_then_quota_reset_then_message():
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "metadata": {"quotaResetDelay": "1m30s"},
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"},
            ],
        }
    }
    assert google_retry_delay(body) == 12
    del body["error"]["details"][1]
    assert google_retry_delay(body) == 90
    assert google_retry_delay({"error": {"message": "Resource exhausted, please retry after 45s."}}) == 45
    assert (
        google_retry_delay(
            [
                {
                    "error": {
                        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}]
                    }
                }
            ]
        )
        is None
    )
    assert google_retry_delay({"error": {"message": "nothing"}}) is None


def test_codex_reset():
    """TestParseCodexRetryAfter: resets_in_seconds; resets_at preferred while ahead, else
    the seconds; only a usage_limit_reached error names a reset."""
    limit = "usage_limit_reached"
    assert codex_reset({"error": {"type": limit, "resets_in_seconds": 3600}}) == 3600
    assert codex_reset({"error": {"type": limit, "resets_at": 1_000_100}}, now=1_000_000) == 100
    assert (
        codex_reset({"error": {"type": limit, "resets_at": 1_000_300, "resets_in_seconds": 1}}, now=1_000_000)
        == 300
    )
    assert (
        codex_reset({"error": {"type": limit, "resets_at": 999_940, "resets_in_seconds": 77}}, now=1_000_000)
        == 77
    )
    assert codex_reset({"error": {"type": "server_error", "resets_in_seconds": 30}}) is None
    assert codex_reset({"error": {}}) is None
    assert codex_reset("x") is None
