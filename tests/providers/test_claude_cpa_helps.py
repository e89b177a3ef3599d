"""CPA's ``helps/claude_ratelimit_test.go`` and ``helps/claude_upstream_test.go`` on
:func:`claude_limits.reset_after` and :func:`claude_plan.anthropic_origin`."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from cliproxy.providers import claude_limits
from cliproxy.providers.claude_plan import anthropic_origin

NOW = 1_800_000_000.0
HOUR, DAY = 3600.0, 86400.0
P = "Anthropic-Ratelimit-Unified-"


def _at(seconds: float) -> str:
    return str(int(NOW + seconds))


CASES = [
    ("no headers", {}, None),
    ("retry-after seconds", {"Retry-After": "60"}, 60.0),
    ("retry-after date", {"Retry-After": formatdate(NOW + 90, usegmt=True)}, 90.0),
    (
        "5h rejected, 7d allowed, aggregate reset",
        {P + "5h-Status": "rejected", P + "5h-Reset": _at(5 * HOUR), P + "7d-Status": "allowed",
         P + "7d-Reset": _at(7 * DAY), P + "Reset": _at(5 * HOUR)},
        5 * HOUR,
    ),
    (
        "7d rejected, 5h allowed",
        {P + "Status": "rejected", P + "5h-Status": "allowed", P + "5h-Reset": _at(5 * HOUR),
         P + "7d-Status": "rejected", P + "7d-Reset": _at(7 * DAY)},
        7 * DAY,
    ),
    (
        "both rejected: the longest",
        {P + "5h-Status": "rejected", P + "5h-Reset": _at(5 * HOUR), P + "7d-Status": "rejected",
         P + "7d-Reset": _at(7 * DAY)},
        7 * DAY,
    ),
    (
        "all allowed",
        {P + "Status": "allowed", P + "5h-Status": "allowed", P + "5h-Reset": _at(5 * HOUR),
         P + "7d-Status": "allowed", P + "7d-Reset": _at(7 * DAY)},
        None,
    ),
    (
        "fable only, with retry-after: retry-after only",
        {P + "Status": "rejected", P + "5h-Status": "allowed", P + "7d-Status": "allowed",
         P + "7d_oi-Status": "rejected", P + "7d_oi-Reset": _at(7 * DAY), P + "Reset": _at(7 * DAY),
         "Retry-After": "60"},
        60.0,
    ),
    (
        "fable only, no retry-after: the back-off",
        {P + "Status": "rejected", P + "5h-Status": "allowed", P + "7d-Status": "allowed",
         P + "7d_oi-Status": "rejected", P + "7d_oi-Reset": _at(7 * DAY), P + "Reset": _at(7 * DAY)},
        None,
    ),
    (
        "5h and the model's week rejected: the longer",
        {P + "Status": "rejected", P + "5h-Status": "rejected", P + "5h-Reset": _at(5 * HOUR),
         P + "7d-Status": "allowed", P + "7d_oi-Status": "rejected", P + "7d_oi-Reset": _at(7 * DAY)},
        7 * DAY,
    ),
    ("a reset in the past", {P + "5h-Status": "rejected", P + "5h-Reset": _at(-5 * HOUR)}, None),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_wait_a_rate_limit_answer_asks_for(headers: dict[str, str], want: float | None) -> None:
    """CPA: TestParseClaudeRateLimitReset_AllCases. Difference: CPA adds 1-30 s of random
    grace (its "fuzz is bounded" case); cliproxy keeps the upstream's figure, so a cooldown
    ends when Anthropic said."""
    got = claude_limits.reset_after(headers, NOW)
    assert got == (pytest.approx(want, abs=1.0) if want is not None else None)


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://api.anthropic.com/v1/messages", True),
        ("https://api.anthropic.com:443/v1/messages", True),
        ("https://API.ANTHROPIC.COM/v1/messages", True),
        ("http://api.anthropic.com/v1/messages", False),
        ("https://api.anthropic.com:8443/v1/messages", False),
        ("https://caller@api.anthropic.com/v1/messages", False),
        ("https://api.anthropic.com.example/v1/messages", False),
        ("", False),
    ],
)
def test_only_the_first_party_origin_is_anthropic(url: str, want: bool) -> None:
    """CPA: TestIsAnthropicUpstreamURL"""
    assert anthropic_origin(url) is want
