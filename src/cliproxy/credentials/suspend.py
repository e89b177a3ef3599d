"""A refused refresh token: the account serves on with its access token, then leaves service.

When the token endpoint refuses a refresh as unauthorized (``invalid_grant``, a 401/403:
``RefreshError.revoked``), CPA's ``refreshAuthForRequest`` marks the account unavailable
(status ``error``, message ``unauthorized``) at once, although its access token usually
still works for hours or days (Codex is refreshed up to 5 days before expiry). The common
cause is a shared sign-in: the Codex CLI or Claude Code whose credentials were copied into
the auth-dir keeps refreshing them, which spends the refresh token the proxy holds.

Deliberate difference: a refusal met ahead of need (the refresh loop, a refresh before
sending) leaves the account in service with its current access token until that token must
be renewed before use (its expiry less the pre-send lead: ``credentials.presend.renew_by``).
:func:`note_refused` records that: the refresher stops refreshing it (``Refresher``'s status
in this process; in every process sharing the state backend, a record of its own under the
:data:`REFUSED` slot, which no model has and which never blocks, holding a digest of the
refused token that a process reads before it would call the token endpoint), one WARNING
says so, and the management listing (:func:`refusal`) shows the account ``active`` and
available, with a ``status_message`` naming the refusal and the moment its token stops
working (CPA's panel shows such a message as a warning, not as broken).

It leaves service as in CPA (:func:`suspend_refused`) when the upstream refuses its access
token with a 401 (its refresh is then refused at once, without a call), or when that token
is due before a request (``credentials.presend``: the refresh fails at once). The credential
then gets a credential-wide ``unauthorized`` record, which the selection, the listing
(``status``, ``status_message``, ``unavailable``) and the ``.cds`` files read, lasting until
its access token expires and at least :data:`~cliproxy.credentials.refresh.REVOKED_COOLDOWN`
(CPA: no end; an expired token is never sent anyway, and the client of a sole account gets a
clear 401 instead of a cooldown of unknown length). It covers every model (CPA's auth-wide
flag is overridden by a model the account already served, an accident of
``isAuthBlockedForModel``). With ``disable-cooling`` for the credential no cooldown is
recorded. A new token (a new sign-in, the file replaced, a refresh that succeeds) clears
both records: ``Pool.forget_refusals`` drops records of a 401.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cliproxy.state.base import CooldownRecord
from cliproxy.times import format_utc

from .pool import Pool
from .presend import renew_by
from .record import Credential

__all__ = ["REFUSED", "Refusal", "note_refused", "refusal", "suspend_refused", "token_digest"]

log = logging.getLogger(__name__)

REFUSED = "~refresh-refused"  # the record slot of a refused refresh token (no model's name)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A credential whose refresh token was refused: why, and until when its access token
    serves (None: its expiry is unknown, so until the upstream refuses it)."""

    message: str
    until: float | None


def token_digest(cred: Credential) -> str:
    """A digest of ``cred``'s refresh token (keys and records hold this, never the token)."""
    return hashlib.sha256(f"{cred.provider}\0{cred.refresh_token}".encode()).hexdigest()[:32]


async def note_refused(pool: Pool, creds: Sequence[Credential], message: str) -> None:
    """``creds`` (holders of one refresh token, the one refreshed first) had it refused:
    record it for every process, and say once until when the first one serves."""
    now = pool.clock()
    for cred in creds:
        if pool.get(cred.id) is None:
            continue  # removed meanwhile
        until = renew_by(cred)
        error = {"code": "refresh_refused", "message": message, "retryable": False, "http_status": 401}
        record = CooldownRecord(
            cred.id,
            REFUSED,
            cred.provider,
            reason="refresh_refused",
            status_message="refresh token refused",
            last_error=error,  # a 401's: a new token drops it (Pool.forget_refusals)
            updated_at=now,
            extras={"token": token_digest(cred), "until": until},
        )
        await pool.state.set_cooldown(record)
    first = creds[0]
    until = renew_by(first)
    if until is not None and until <= now:
        serves = "its access token is due, so it leaves service"
    else:
        when = format_utc(until, "seconds") if until is not None else "the upstream refuses it"
        serves = f"it serves with its access token until {when} (unless the upstream refuses that first)"
    others = f" (and {len(creds) - 1} more holding the same token)" if len(creds) > 1 else ""
    log.warning(
        "token refresh of %s%s refused (%s): it is not tried again; %s; sign it in again",
        first.label or first.id,
        others,
        message,
        serves,
    )


async def refusal(pool: Pool, cred: Credential) -> Refusal | None:
    """The refusal of ``cred``'s current refresh token recorded by any process, or None."""
    record = await pool.state.get_cooldown(cred.id, REFUSED)
    if record is None or not cred.refresh_token or record.extras.get("token") != token_digest(cred):
        return None
    until = record.extras.get("until")
    message = str((record.last_error or {}).get("message") or record.status_message)
    return Refusal(message, float(until) if isinstance(until, int | float) else None)


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
        log.info("%s is out of service until it signs in again: %s", cred.label or cred.id, message)
