"""Which OAuth credentials need a fresh access token before a request goes out.

The refresh loop (``credentials.refresh``) renews tokens ahead of their expiry, but it can
be behind: at start, an auth file whose ``expired`` has passed is refreshed by the loop's
first pass while the first requests already arrive; a file added or restored later, or a
machine waking from sleep, is the same. A request sent with such a token costs a 401,
then a refresh, then the request again. CPA's Antigravity executor avoids that by
refreshing a token that is about to expire before it sends (``ensureAccessToken``); here
every OAuth type with a token endpoint does: a token that expires within
:data:`PRESEND_LEAD` (or no access token at all) is refreshed first, by the refresher's
``refresh_ahead``, so concurrent requests and the loop share one token call.

Deliberate difference from CPA: CPA's Antigravity skew is 50 minutes (``refreshSkew``) and
its executor does not keep the new token, so it refreshes again on the next requests until
the loop catches up; here the refresher swaps the new token into the pool and the file, so
the lead can be short (the loop's own 5 minutes). A token that is still valid is sent as it is
while a failed refresh waits out its back-off; an expired one never is. A token whose refresh
token was refused is sent until :func:`renew_by` (``credentials.suspend``: CPA takes such an
account out of service at once), then ``refresh_ahead`` fails at once, which takes the account
out of service, and the attempt fails over.

The check costs a dict lookup per attempt; a credential object's deadline is computed once.
Every path that sends a token asks the same two steps: :meth:`PreSend.stale`, then
:meth:`PreSend.renew` (the pipeline's attempts, the Realtime socket's upstream dial).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cliproxy.errors import CliproxyError, UpstreamError

from .oauth_tokens import TOKEN_ENDPOINTS
from .record import Credential

__all__ = ["PRESEND_LEAD", "PreSend", "renew_by"]

PRESEND_LEAD = 300.0  # seconds before expiry a token is refreshed before sending
_MEMO_LIMIT = 4096


class _Schedule(Protocol):
    clock: Callable[[], float]

    def due_at(self, cred: Credential) -> float | None: ...

    async def refresh_ahead(self, cred: Credential) -> Credential: ...


class PreSend:
    """``stale(cred)``: should ``cred``'s token be refreshed before this request?"""

    __slots__ = ("_memo", "_schedule")

    def __init__(self, schedule: _Schedule) -> None:
        self._schedule = schedule
        # by id: the credential object and the time its token needs renewing (None: never)
        self._memo: dict[str, tuple[Credential, float | None]] = {}

    def stale(self, cred: Credential) -> bool:
        memo = self._memo.get(cred.id)
        if memo is None or memo[0] is not cred:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()  # ids of removed credentials do not pile up
            memo = self._memo[cred.id] = (cred, renew_by(cred))
        deadline = memo[1]
        if deadline is None:
            return False
        now = self._schedule.clock()
        if deadline > now:
            return False
        if deadline + PRESEND_LEAD <= now:  # expired: a refused refresh token fails at once
            return True
        # still valid: not while a failed refresh backs off; a refused refresh token (never due
        # again) has served its time: it fails at once and the account leaves service
        due = self._schedule.due_at(cred)
        return due is None or due <= now

    async def renew(self, cred: Credential) -> Credential:
        """``cred`` with a fresh token (one token call shared with the loop and concurrent
        senders). A failed refresh is an error of the proxy's own naming the credential
        (the token endpoint's body is no answer to a client, nor a request fault): 401 when
        the refresh token was refused, 429 while the token endpoint rate-limits it, else 502."""
        try:
            return await self._schedule.refresh_ahead(cred)
        except CliproxyError as exc:
            status = exc.status if exc.status in (401, 429) else 502
            message = f"{cred.provider} account token could not be refreshed: {exc.message}"
            raise UpstreamError(message, status=status, credential_id=cred.id) from exc


def renew_by(cred: Credential) -> float | None:
    """When ``cred``'s access token must be renewed before use; None for never (an API key,
    a type without token endpoint, no refresh token, an unknown expiry)."""
    if cred.provider not in TOKEN_ENDPOINTS or not cred.metadata or not cred.refresh_token:
        return None
    if not cred.access_token:
        return 0.0
    expires = cred.expires_at()
    return None if expires is None else expires.timestamp() - PRESEND_LEAD
