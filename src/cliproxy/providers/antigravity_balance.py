"""What an Antigravity account holds in Google One AI credits, read from Cloud Code's
``loadCodeAssist`` (CPA ``maybeRefreshAntigravityCreditsHint`` and
``updateAntigravityCreditsBalance``, ``internal/runtime/executor/antigravity_executor_credits.go``).

With ``quota-exceeded.antigravity-credits`` on, a request served by an Antigravity
credential whose credits are unknown (:class:`~cliproxy.providers.antigravity_credits.Hints`)
starts a lookup in the background: the request goes on at once, and the answer becomes
the credential's hint, which orders the credits fallback (those with credits first, those
without left out). A credential is looked up at most once every :data:`INTERVAL` seconds,
one lookup at a time; each is bounded by :data:`TIMEOUT` seconds. A failed lookup
(unreachable, slow, refused, unreadable) leaves the credential unknown, which the
fallback still tries: it never fails a request, and its log line names the credential
and what went wrong, never the token.

The answer's ``paidTier.availableCredits`` entry of type ``GOOGLE_ONE_AI`` is read:
credits when ``creditAmount`` reaches ``minimumCreditAmountForUsage``. An answer without a
list of credits (a free account) means none; a list without a readable Google One entry
tells nothing.

Deliberate differences: CPA also looks the balance up after each token refresh, option on
or off; here only requests look, and only when the option is on (nothing else reads the
hints). A hint lasts :data:`~cliproxy.providers.antigravity_credits.HINT_TTL` (CPA keeps a
local one until a lookup or a credits attempt replaces it), so a known balance is looked
up again once it is older than that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.core import request_json
from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity_credits import CREDIT_TYPES, Hints
from cliproxy.providers.transport import UpstreamClient

__all__ = ["INTERVAL", "TIMEOUT", "Balance", "BalanceCheck", "read_balance", "short_user_agent"]

log = logging.getLogger(__name__)

INTERVAL = 10 * 60.0  # CPA antigravityCreditsHintRefreshInterval
TIMEOUT = 5.0  # CPA antigravityCreditsHintRefreshTimeout
PATH = "/v1internal:loadCodeAssist"
_BODY = orjson.dumps({"metadata": {"ideType": "ANTIGRAVITY"}})
_NODE_CLIENT = " google-api-nodejs-client/"


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's Google One AI credits: ``available`` when ``amount`` reaches
    ``minimum`` (both None for an account without a list of credits); ``tier``: the
    paid tier's id ("" for none)."""

    available: bool
    amount: float | None = None
    minimum: float | None = None
    tier: str = ""


def read_balance(answer: Mapping[str, Any]) -> Balance | None:
    """The balance a ``loadCodeAssist`` answer states, or None when it states none."""
    paid = answer.get("paidTier")
    paid = paid if isinstance(paid, dict) else {}
    tier = paid.get("id")
    tier = tier.strip() if isinstance(tier, str) else ""
    credits = paid.get("availableCredits")
    if not isinstance(credits, list):
        return Balance(False, tier=tier)
    for credit in credits:
        if not isinstance(credit, dict) or str(credit.get("creditType", "")).upper() not in CREDIT_TYPES:
            continue
        amount, minimum = (
            _number(credit.get("creditAmount")),
            _number(credit.get("minimumCreditAmountForUsage")),
        )
        if amount is not None and minimum is not None:
            return Balance(amount >= minimum, amount, minimum, tier)
    return None


def _number(value: Any) -> float | None:
    """An int64 field as Google writes it (a string) or as a plain number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def short_user_agent(user_agent: str) -> str:
    """An Antigravity user agent (``antigravity/...``, any case) without its Node client
    suffix, as every request of the account but ``onboardUser`` sends it (CPA
    ``AntigravityRequestUserAgent``, ``AntigravityLoadCodeAssistUserAgent``); any other
    user agent unchanged."""
    lower = user_agent.lower()
    if lower.startswith("antigravity/"):
        cut = lower.find(_NODE_CLIENT)
        if cut > 0:
            return user_agent[:cut].strip()
    return user_agent


class BalanceCheck:
    """Background balance lookups, their answers written to ``hints``. ``enabled``
    follows ``quota-exceeded.antigravity-credits``."""

    def __init__(self, hints: Hints, clock: Callable[[], float] = time.monotonic) -> None:
        self.hints = hints
        self.clock = clock
        self.enabled = False
        self.timeout = TIMEOUT
        self._asked: dict[str, float] = {}  # credential id -> when its last lookup began
        self._tasks: set[asyncio.Task[None]] = set()

    def due(self, cred: Credential) -> bool:
        """Whether ``cred`` is to be looked up now (a cheap check, on every request)."""
        if not self.enabled or not cred.access_token or self.hints.get(cred.id) is not None:
            return False
        asked = self._asked.get(cred.id)
        return asked is None or self.clock() - asked >= INTERVAL

    def start(
        self, cred: Credential, http: UpstreamClient, *, base_url: str, user_agent: str, proxy: str
    ) -> None:
        """Look ``cred`` up in the background (the caller checked :meth:`due`)."""
        self._asked[cred.id] = self.clock()
        task = asyncio.get_running_loop().create_task(
            self._background(cred, http, base_url=base_url, user_agent=user_agent, proxy=proxy)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _background(
        self, cred: Credential, http: UpstreamClient, *, base_url: str, user_agent: str, proxy: str
    ) -> None:
        # the task's own boundary: nothing a lookup meets may end up unretrieved on the loop
        try:
            await self.check(cred, http, base_url=base_url, user_agent=user_agent, proxy=proxy)
        except Exception as exc:  # a lookup never fails a request (CPA)
            log.debug(
                "antigravity credential %s: credits lookup failed (%s)",
                cred.label or cred.id,
                type(exc).__name__,
            )

    async def check(
        self, cred: Credential, http: UpstreamClient, *, base_url: str, user_agent: str, proxy: str
    ) -> Balance | None:
        """One lookup: the balance found (and written to the hints), or None."""
        who = cred.label or cred.id
        headers = {
            "Authorization": f"Bearer {cred.access_token or ''}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": short_user_agent(user_agent),
        }
        try:
            status, answer = await request_json(
                http,
                "POST",
                base_url.rstrip("/") + PATH,
                provider="antigravity",
                what="loadCodeAssist",
                headers=headers,
                body=_BODY,
                proxy=proxy,
                timeout=self.timeout,
            )
        except LoginError as exc:
            log.debug("antigravity credential %s: credits balance unknown (%s)", who, exc.message)
            return None
        if not 200 <= status < 300:
            log.debug(
                "antigravity credential %s: credits balance unknown (loadCodeAssist answered %d)", who, status
            )
            return None
        balance = read_balance(answer)
        if balance is None:
            log.debug("antigravity credential %s: loadCodeAssist states no Google One AI credits", who)
            return None
        self.hints.mark(cred.id, balance.available)
        log.debug(
            "antigravity credential %s: Google One AI credits %s (%s of at least %s)",
            who,
            "available" if balance.available else "unavailable",
            _shown(balance.amount),
            _shown(balance.minimum),
        )
        return balance

    async def close(self) -> None:
        """Stop the lookups in flight."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"
