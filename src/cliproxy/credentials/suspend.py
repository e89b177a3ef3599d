"""An account whose refresh token was refused is taken out of service (CPA).

When the token endpoint refuses a refresh as unauthorized (``invalid_grant``, a 401/403:
``RefreshError.revoked``), by the refresh loop or by a request's refresh, CPA's
``refreshAuthForRequest`` marks the account unavailable with status ``error`` and status
message ``unauthorized``, and selection skips it, although its access token may still be
valid, until it signs in again. Here the credential (and every other holding the same
refresh token) gets a credential-wide cooldown record saying so, which the selection, the
management ``GET /auth-files`` listing (``status``, ``status_message``, ``unavailable``) and
the ``.cds`` files already read. A new token (a new sign-in, the file replaced, a refresh
that succeeds) clears it: ``Pool.forget_refusals`` drops records of a 401.

Deliberate differences: the record lasts until the access token expires, at least
:data:`~cliproxy.credentials.refresh.REVOKED_COOLDOWN` (CPA: no end). After that the expired
token is never sent anyway (``credentials.presend``: its refresh fails at once and the
attempt fails over), so the account stays out of service as in CPA, while the client of a
sole account gets a clear 401 instead of a cooldown of unknown length. It covers every model
(CPA's auth-wide flag is overridden by a model the account already served, an accident of
``isAuthBlockedForModel``). With ``disable-cooling`` for the credential nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable

from cliproxy.state.base import CooldownRecord

from .pool import Pool
from .record import Credential

__all__ = ["suspend_refused"]


async def suspend_refused(pool: Pool, creds: Iterable[Credential], message: str, hold: float) -> None:
    """Take ``creds`` (holders of one refused refresh token) out of service: a
    credential-wide ``unauthorized`` record until their access token expires, at least
    ``hold`` seconds from now."""
    now = pool.clock()
    for cred in creds:
        if pool.get(cred.id) is None:
            continue  # removed meanwhile
        if pool.disable_cooling if cred.disable_cooling is None else cred.disable_cooling:
            continue
        expires = cred.expires_at()
        until = max(now + hold, expires.timestamp() if expires is not None else 0.0)
        error = {"code": "unauthorized", "message": message, "retryable": False, "http_status": 401}
        record = CooldownRecord(
            cred.id,
            "",
            cred.provider,
            next_retry_after=until,
            reason="unauthorized",
            status_message="unauthorized",
            last_error=error,
            updated_at=now,
        )
        await pool.state.set_cooldown(record)
        if pool.store is not None:
            pool.store.save(cred, await pool.cooldowns(cred))
