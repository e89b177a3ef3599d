"""Antigravity's two Cloud Code hosts: the daily one first, production when daily is busy.

An Antigravity credential without a ``base_url`` of its own sends its generation and count
requests to ``daily-cloudcode-pa.googleapis.com`` (the endpoint table's ``api-daily``), as the
Antigravity IDE and CPA do (``antigravityBaseURLFallbackOrder``), and sends the same request
again to ``cloudcode-pa.googleapis.com`` (``api``) when daily

* could not be reached (a refused or broken connection),
* answered 429 (each host keeps its own rate limit), or
* answered 503 with "no capacity available";

the client then gets production's answer, whatever it is. ``loadCodeAssist`` (sign-in,
project lookup) stays on production, ``onboardUser`` goes to daily, and the list of models
that run web searches is asked of daily, then of production when daily fails or lists none
(:mod:`~cliproxy.providers.antigravity_search`; CPA alike). A credential with a
``base_url`` of its own has one host: no second try.

Deliberate difference: CPA also moves on when daily sends no headers in time; here a
header timeout is final (a stalled model would make the client wait twice the limit, and
the pipeline tries the next credential anyway).

:func:`install` makes a :class:`HostFallback` the Antigravity provider's transport, in front
of each account's own connections (:mod:`~cliproxy.providers.account_pools`, made from the
shared client) and behind the rate-limit waits of
:mod:`~cliproxy.providers.antigravity_limits`; every other URL goes straight through (no
coroutine layer added). It also hands the answer of a web search request (``requestType:
"web_search"``) over with its sources' redirect links resolved (:mod:`cliproxy.providers.antigravity_grounding`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from cliproxy.providers.account_pools import AccountPools
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.antigravity_grounding import GroundedResponse
from cliproxy.providers.antigravity_limits import SameAccountWaits
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import (
    ReadAnswer,
    UpstreamClient,
    UpstreamNetworkError,
    UpstreamResponse,
    read_body,
)

if TYPE_CHECKING:
    from cliproxy.providers.registry import Providers

__all__ = ["HostFallback", "install"]

log = logging.getLogger(__name__)

NO_CAPACITY = b"no capacity available"
SEARCH = b'"requestType":"web_search"'  # (as antigravity_search writes it, compact)


class HostFallback:
    """``first``'s URLs tried again on ``then`` (both origins, no trailing slash) when
    ``first`` is busy or unreachable; others through ``inner`` as they are."""

    def __init__(self, first: str, then: str, inner: UpstreamClient) -> None:
        self.first = first.rstrip("/")
        self.then = then.rstrip("/")
        self.inner = inner
        self._prefix = self.first + "/"

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]:
        if body is not None and body.find(SEARCH) >= 0:
            return self._search(method, url, headers, body, proxy)
        if not url.startswith(self._prefix) or self.first == self.then:
            return self.inner.request(method, url, headers=headers, body=body, proxy=proxy)
        return self._twice(method, url, headers, body, proxy)

    async def _search(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, proxy: str
    ) -> UpstreamResponse:
        if url.startswith(self._prefix) and self.first != self.then:
            resp = await self._twice(method, url, headers, body, proxy)
        else:
            resp = await self.inner.request(method, url, headers=headers, body=body, proxy=proxy)
        return GroundedResponse(resp, self.inner, proxy)

    async def _twice(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, proxy: str
    ) -> UpstreamResponse:
        other = self.then + url[len(self.first) :]
        try:
            resp = await self.inner.request(method, url, headers=headers, body=body, proxy=proxy)
        except UpstreamNetworkError as exc:
            if exc.status == 504:  # no headers in time: final (see the module's docstring)
                raise
            log.info("antigravity: %s unreachable (%s); trying %s", self.first, exc.detail, self.then)
            return await self.inner.request(method, other, headers=headers, body=body, proxy=proxy)
        if resp.status == 429:
            resp.release()
            log.info("antigravity: %s answered 429; trying %s", self.first, self.then)
            return await self.inner.request(method, other, headers=headers, body=body, proxy=proxy)
        if resp.status == 503:
            data = await read_body(resp)
            if data.lower().find(NO_CAPACITY) < 0:
                return ReadAnswer(resp.status, resp.headers, data)
            log.info("antigravity: %s has no capacity; trying %s", self.first, self.then)
            return await self.inner.request(method, other, headers=headers, body=body, proxy=proxy)
        return resp


def install(providers: Providers, http: UpstreamClient) -> HostFallback | None:
    """Put a :class:`HostFallback` in front of ``http`` for the Antigravity provider, from its
    daily base to its production one (no second host when both are one: an environment
    override points both at one server), and the short same-account waits of a rate limit
    in front of both (:class:`~cliproxy.providers.antigravity_limits.SameAccountWaits`);
    none when it has a transport already (a test's, a plugin's). Behind the fallback, when
    ``http`` is the shared client, each account gets connections of its own
    (:class:`~cliproxy.providers.account_pools.AccountPools`, also the provider's ``pools``).
    Returns the fallback."""
    provider = providers.get("antigravity")
    if provider is None or provider.transport is not None:
        return None
    then = provider.default_base_url.rstrip("/")
    first = getattr(provider, "generation_base_url", "") or then
    if isinstance(http, HttpClient) and isinstance(provider, AntigravityProvider):
        http = provider.pools = AccountPools(http)
    fallback = HostFallback(first, then, http)
    provider.transport = SameAccountWaits(fallback)
    return fallback
