"""``quota-exceeded.antigravity-credits``: CPA's last-resort Google One AI credits for
Antigravity's Claude models (``sdk/cliproxy/auth/conductor_home.go`` and
``internal/runtime/executor/antigravity_executor_credits.go``).

When a request for a model whose name holds ``claude`` and that Antigravity serves has
failed on every credential (the last error a 429 or 503, or every credential cooling
down), each Antigravity credential is tried once more, cooling or not, with
``"enabledCreditTypes": ["GOOGLE_ONE_AI"]`` in the envelope: the account then pays with
its credits instead of its exhausted free quota. Credentials known to have credits go
first, then the unknown ones (each group by id); those known to have none are skipped.
A credits attempt refused with ``INSUFFICIENT_G1_CREDITS_BALANCE`` marks its credential
as having none; one that succeeds marks it as having some. A mark is kept
:data:`HINT_TTL` seconds (CPA keeps its hints 30 minutes in its shared store). A credential
whose credits are unknown is also looked up in the background through ``loadCodeAssist``
(:mod:`cliproxy.providers.antigravity_balance`), which marks it the same way.

The pipeline runs the fallback (:meth:`cliproxy.pipeline.Pipeline.execute`) inside
:func:`using_credits`, which the Antigravity provider reads when it builds the envelope.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from cliproxy.credentials.record import Credential

__all__ = [
    "CREDIT_TYPES",
    "HINT_TTL",
    "Hints",
    "applies",
    "candidates",
    "credits_exhausted",
    "inject",
    "requested",
    "shared_hints",
    "using_credits",
]

CREDIT_TYPES = ("GOOGLE_ONE_AI",)
HINT_TTL = 30 * 60.0
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_USE: contextvars.ContextVar[bool] = contextvars.ContextVar("antigravity_credits", default=False)


@contextlib.contextmanager
def using_credits() -> Iterator[None]:
    """Antigravity envelopes built inside ask for credits (CPA's ``WithAntigravityCredits``)."""
    token = _USE.set(True)
    try:
        yield
    finally:
        _USE.reset(token)


def requested() -> bool:
    """Whether the request being built is a credits attempt."""
    return _USE.get()


def inject(envelope: dict[str, Any]) -> None:
    """CPA's ``injectEnabledCreditTypes``: the credit types at the envelope's top level."""
    envelope["enabledCreditTypes"] = list(CREDIT_TYPES)


def credits_exhausted(body: bytes | None) -> bool:
    """CPA's ``antigravityHasExplicitCreditsBalanceExhaustedReason``: an ``ErrorInfo``
    detail whose reason is ``INSUFFICIENT_G1_CREDITS_BALANCE``."""
    if not body or body.upper().find(b"INSUFFICIENT_G1_CREDITS_BALANCE") < 0:
        return False
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    error = doc.get("error") if isinstance(doc, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict) or detail.get("@type") != _ERROR_INFO:
            continue
        reason = detail.get("reason")
        if isinstance(reason, str) and reason.strip().upper() == "INSUFFICIENT_G1_CREDITS_BALANCE":
            return True
    return False


class Hints:
    """What is known of each credential's credits: ``True`` (has some), ``False`` (has
    none), unknown when never learnt or older than ``ttl`` seconds."""

    def __init__(self, ttl: float = HINT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[bool, float]] = {}

    def get(self, cred_id: str) -> bool | None:
        known = self._known.get(cred_id)
        if known is None:
            return None
        if self.clock() - known[1] > self.ttl:
            del self._known[cred_id]
            return None
        return known[0]

    def mark(self, cred_id: str, available: bool) -> None:
        self._known[cred_id] = (available, self.clock())


def shared_hints(providers: Any) -> Hints:
    """The Antigravity provider's hints (its balance lookups write them), for the
    pipeline's fallback to read; new ones when there is no such provider."""
    provider = providers.get("antigravity")
    hints = getattr(provider, "credit_hints", None)
    return hints if isinstance(hints, Hints) else Hints()


def applies(model: str, providers: Iterable[str]) -> bool:
    """CPA: only models whose name holds ``claude``, only when Antigravity serves them."""
    return "claude" in model.lower() and any(p.strip().lower() == "antigravity" for p in providers)


def candidates(creds: Iterable[Credential], hints: Hints) -> list[Credential]:
    """CPA's ``findAllAntigravityCreditsCandidateAuths``: enabled Antigravity credentials,
    those known to have credits first, then the unknown ones (each by id); known-empty
    ones left out."""
    known: list[Credential] = []
    unknown: list[Credential] = []
    for cred in creds:
        if cred.disabled or cred.provider != "antigravity":
            continue
        hint = hints.get(cred.id)
        if hint is False:
            continue
        (known if hint else unknown).append(cred)
    return sorted(known, key=lambda c: c.id) + sorted(unknown, key=lambda c: c.id)
