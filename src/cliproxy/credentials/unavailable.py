"""The operator's line when a request finds every credential of its model cooling.

The client gets a 429 ``model_cooldown``; the log gets one WARNING naming each cooling
credential (its label and ``auth_index``, never its key), why it cools and how long is left, as CPA's
"auth unavailable" line does, so a quota that is gone everywhere is visible without
turning on routing explain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .dryrun import standing
from .explain import mask
from .pool import Pool, Supports

__all__ = ["warn_all_cooling"]

log = logging.getLogger(__name__)


async def warn_all_cooling(
    pool: Pool, model: str, providers: Sequence[str] | None, supports: Supports | None
) -> None:
    """Log one WARNING listing the credentials of ``model`` that cool now."""
    found, wide, own, now = await standing(pool, model, providers, supports)
    parts = []
    for cand in found:
        if cand.state != "cooling" or cand.until is None:
            continue
        record = own.get(cand.cred.id) or wide.get(cand.cred.id)
        why = (record.quota_reason or record.reason or record.status_message) if record is not None else ""
        who = f"{cand.cred.label} {mask(cand.cred)}" if cand.cred.label else mask(cand.cred)
        parts.append(f"{who} {why or 'cooling'} remaining={max(1, int(cand.until - now + 0.999))}s")
    if parts:
        names = ",".join(providers or ()) or "any"
        log.warning("auth unavailable for %s (providers=%s): %s", model, names, "; ".join(parts))
