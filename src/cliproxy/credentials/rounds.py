"""Which cooling credentials a retry round may wait for (CPA's retry-round eligibility).

Before another retry round the pool waits, within ``max-retry-interval``, for the nearest
cooldown of the request's candidates to end. CPA counts only a credential whose cooldown
came from a status a wait can cure (403, 408, 429, 500, 502, 503, 504): one cooling for a
401, a 402 or a 404 (30 minutes, 12 hours) is still refused when it comes back, so the
round would only hold the client for that long (sdk/cliproxy/auth/conductor_selection.go,
``retryRoundAvailabilityForAuth``, ``isCredentialRetryRoundStatus``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .record import Credential

__all__ = ["ROUND_STATUSES", "next_round_in", "round_blocked_until"]

ROUND_STATUSES = frozenset({403, 408, 429, 500, 502, 503, 504})


def round_blocked_until(cid: str, model_cd: Any, cred_cd: Any, now: float) -> float | None:
    """When credential ``cid`` is free again (0: now), or None when a record that cools it
    came from a status no wait cures. A record without a status (a network failure, a
    suspension) counts as curable, as it did before."""
    until = 0.0
    for table in (cred_cd, model_cd):
        record = table.get(cid) if table else None
        if record is None or (value := record.until()) <= now:
            continue
        error = record.last_error
        status = error.get("http_status") if isinstance(error, dict) else None
        if isinstance(status, int) and status > 0 and status not in ROUND_STATUSES:
            return None
        until = max(until, value)
    return until


def next_round_in(creds: Iterable[Credential], model_cd: Any, cred_cd: Any, now: float) -> float | None:
    """Seconds until one of ``creds`` worth a round is free (0: one is free now), or None
    when none is (none exists, or each cools for a status no wait cures)."""
    earliest: float | None = None
    for cred in creds:
        until = round_blocked_until(cred.id, model_cd, cred_cd, now)
        if until is None:
            continue
        if not until:
            return 0.0
        earliest = until if earliest is None or until < earliest else earliest
    return None if earliest is None else max(0.0, earliest - now)
