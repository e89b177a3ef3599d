"""What an Antigravity 429 means, and the short waits on the same account it earns.

Cloud Code answers every limit with ``429 RESOURCE_EXHAUSTED``; the ``google.rpc.ErrorInfo``
reason and the retry delay (``RetryInfo.retryDelay``, else ``ErrorInfo.metadata.
quotaResetDelay``, else "after 1h2m3s" in the message: :func:`~cliproxy.providers.retry.
google_retry_delay`) tell the kinds apart, as CPA's ``decideAntigravity429`` does
(:func:`decide`):

| the 429 says                                   | kind                 | what happens            |
|------------------------------------------------|----------------------|-------------------------|
| ``RATE_LIMIT_EXCEEDED``, delay under 3 s        | ``instant_retry``    | wait delay + 0.8 s, ask |
|                                                |                      | the same account again  |
| ``RATE_LIMIT_EXCEEDED``, delay 3 s to 5 min     | ``short_cooldown``   | cool for the delay, try |
|                                                |                      | the next account        |
| ``QUOTA_EXHAUSTED``, a rate limit of 5 min or   | ``quota_exhausted``  | cool until the reset,   |
| more, "quota exhausted" in the body            |                      | next account, credits   |
| anything else (no reason, a bare "Resource has | ``soft_retry``       | a short back-off on the |
| been exhausted", no delay, not JSON)           |                      | same account            |

The waits happen in :class:`SameAccountWaits`, the Antigravity transport's outer layer
(around the daily / production hosts of :mod:`~cliproxy.providers.antigravity_hosts`, so a
retry starts at the daily host again, as CPA's attempt loop does), before anything reaches
the client: at most :data:`SAME_ACCOUNT_RETRIES` more requests, each wait below 4 s, and a
client that goes away ends the wait (:func:`cliproxy.presence.pause`). The 429 that is left
goes to the pipeline as any other: ``credentials/cooldown.py`` cools the model for its
retry delay (the exponential 429 back-off when it has none), the next account is tried,
and ``quota-exceeded.antigravity-credits`` may follow.

Deliberate difference: CPA's executor has these same-account retries but, since its
conductor took over retry rounds, makes them only ``attempts := 1`` times, that is never
(and its transient-429 back-off was unreachable before that: ``classifyAntigravity429``
never says "unknown"). Here they run, a fixed small number of times that does not use up
``request-retry`` (the double counting CPA removed them for), because a rate limit that
lifts in a second is better waited out on the account that holds the conversation than
turned into a failover or, with one account, a 429 for the client. A bare "Resource has
been exhausted" without an ``ErrorInfo`` gets CPA's transient back-off (0.1 s, 0.2 s), other
soft limits its soft one (0.5 s, 1 s). A 429 whose ``ErrorInfo`` gives a reason of another kind
(``INSUFFICIENT_G1_CREDITS_BALANCE`` for a credits attempt) is a soft one to CPA's table but
gets no wait here: no wait makes it pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.presence import pause
from cliproxy.providers.retry import google_retry_delay
from cliproxy.providers.transport import ReadAnswer, UpstreamClient, UpstreamResponse, read_body

__all__ = [
    "EXHAUSTED",
    "INSTANT",
    "SAME_ACCOUNT_RETRIES",
    "SHORT",
    "SOFT",
    "Decision",
    "SameAccountWaits",
    "category",
    "decide",
    "same_account_wait",
    "soft_delay",
    "transient",
    "transient_delay",
]

log = logging.getLogger(__name__)

SOFT = "soft_retry"
INSTANT = "instant_retry"
SHORT = "short_cooldown"
EXHAUSTED = "quota_exhausted"

INSTANT_BELOW = 3.0  # CPA antigravityInstantRetryThreshold
SHORT_BELOW = 300.0  # CPA antigravityShortQuotaCooldownThreshold
INSTANT_PAD = 0.8  # CPA antigravityInstantRetryDelay: the delay plus this
SAME_ACCOUNT_RETRIES = 2  # more requests to one account for one attempt, at most

_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_KEYWORDS = (b"quota_exhausted", b"quota exhausted")
_TRANSIENT = b"resource has been exhausted"
_GENERATION = (b"/v1internal:generateContent", b"/v1internal:streamGenerateContent")


@dataclass(frozen=True, slots=True)
class Decision:
    """One of :data:`SOFT`, :data:`INSTANT`, :data:`SHORT`, :data:`EXHAUSTED`; the retry
    delay in seconds when the answer gave one; the last ``ErrorInfo`` reason seen."""

    kind: str
    retry_after: float | None = None
    reason: str = ""


def _error(body: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, dict) else None


def decide(body: bytes) -> Decision:
    """CPA's ``decideAntigravity429`` for a 429's body (see the module's table)."""
    error = _error(body) if body else None
    if error is None:
        return Decision(SOFT)
    delay = google_retry_delay({"error": error})
    status = error.get("status")
    if not isinstance(status, str) or status.strip().upper() != "RESOURCE_EXHAUSTED":
        return Decision(SOFT, delay)
    reason = ""
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or detail.get("@type") != _ERROR_INFO:
            continue
        value = detail.get("reason")
        reason = value.strip() if isinstance(value, str) else ""
        if reason.upper() == "QUOTA_EXHAUSTED":
            return Decision(EXHAUSTED, delay, reason)
        if reason.upper() == "RATE_LIMIT_EXCEEDED":
            if delay is None:
                return Decision(SOFT, None, reason)
            kind = INSTANT if delay < INSTANT_BELOW else SHORT if delay < SHORT_BELOW else EXHAUSTED
            return Decision(kind, delay, reason)
    lower = body.lower()
    if any(lower.find(word) >= 0 for word in _KEYWORDS):
        return Decision(EXHAUSTED, delay, "quota_exhausted")
    return Decision(SOFT, delay, reason)


def category(body: bytes) -> str:
    """CPA's ``classifyAntigravity429``: ``rate_limited`` (an instant retry or a short
    cooldown), ``quota_exhausted`` or ``soft_rate_limit``."""
    kind = decide(body).kind
    if kind in (INSTANT, SHORT):
        return "rate_limited"
    return "quota_exhausted" if kind == EXHAUSTED else "soft_rate_limit"


def transient(status: int, body: bytes) -> bool:
    """A bare ``RESOURCE_EXHAUSTED`` 429, "Resource has been exhausted" and no ``ErrorInfo``
    reason (what CPA's ``antigravityShouldRetryTransientResourceExhausted429`` was written
    for): Cloud Code's own back-pressure, gone a moment later."""
    if status != 429 or body.lower().find(_TRANSIENT) < 0:
        return False
    decision = decide(body)
    return decision.kind == SOFT and not decision.reason and _resource_exhausted(body)


def _resource_exhausted(body: bytes) -> bool:
    error = _error(body)
    status = error.get("status") if error is not None else None
    return isinstance(status, str) and status.strip().upper() == "RESOURCE_EXHAUSTED"


def soft_delay(retry: int) -> float:
    """CPA ``antigravitySoftRateLimitDelay``: 0.5 s more each time, at most 3 s."""
    return min(0.5 * (max(0, retry) + 1), 3.0)


def transient_delay(retry: int) -> float:
    """CPA ``antigravityTransient429RetryDelay``: 0.1 s more each time, at most 0.5 s."""
    return min(0.1 * (max(0, retry) + 1), 0.5)


def same_account_wait(status: int, body: bytes, retry: int) -> float | None:
    """Seconds to wait before asking the same account again after answer ``status`` /
    ``body`` (``retry`` earlier retries of this attempt), or None: the answer stands."""
    if status != 429 or retry >= SAME_ACCOUNT_RETRIES:
        return None
    decision = decide(body)
    if decision.kind == INSTANT:
        delay = decision.retry_after or 0.0
        return delay + INSTANT_PAD if delay > 0 else 0.0
    if decision.kind != SOFT or decision.reason.upper() not in ("", "RATE_LIMIT_EXCEEDED"):
        return None  # a reason of its own (no credits left...): no wait makes it pass
    return transient_delay(retry) if transient(status, body) else soft_delay(retry)


class SameAccountWaits:
    """The Antigravity transport's outer layer: a generation request that got a 429 worth
    waiting out (:func:`same_account_wait`) is sent again, as it was, after the wait; any
    other request and answer pass through ``inner``."""

    def __init__(self, inner: UpstreamClient) -> None:
        self.inner = inner

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]:
        raw = url.encode()
        if not any(raw.find(path) >= 0 for path in _GENERATION):
            return self.inner.request(method, url, headers=headers, body=body, proxy=proxy)
        return self._with_waits(method, url, headers, body, proxy)

    async def _with_waits(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, proxy: str
    ) -> UpstreamResponse:
        retry = 0
        while True:
            resp = await self.inner.request(method, url, headers=headers, body=body, proxy=proxy)
            if resp.status != 429:
                return resp
            data = await read_body(resp)
            wait = same_account_wait(429, data, retry)
            if wait is None:
                return ReadAnswer(429, resp.headers, data)
            log.info("antigravity: 429 (%s); asking the same account again in %.1fs", decide(data).kind, wait)
            if not await pause(wait):
                raise ConnectionResetError("the client went away during a rate-limit wait")
            retry += 1
