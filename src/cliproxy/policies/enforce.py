"""Enforcing a client key's policy on the request path (pipeline stage 1, after access).

``Enforcer.admit`` runs before anything goes upstream: the static checks (disabled,
expired, model allowlist) cost a few attribute reads; a key with counting limits takes
one ``StateBackend.key_admit`` call (one round trip on Redis). The admitted request holds
a ``Ticket``: the rate-limit headers go on the answer, the in-flight slot is given back
when the answer (or the stream) ends, and the request's real usage (the usage record's
own, stream-end usage included) is charged to the key's tpm bucket and budget.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from functools import lru_cache
from typing import Any

from cliproxy.calls import Reply, StreamReply, then
from cliproxy.errors import RequestError, clip
from cliproxy.formats import Format
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.rules import KeyRule, period_tag
from cliproxy.state.base import KeyAdmission, KeyLimits, StateBackend
from cliproxy.usage.tokens import body_usage

__all__ = ["Enforcer", "PolicyError", "Ticket", "rate_headers"]

# actions that only the static checks apply to (a token count is not a generation)
_UNCOUNTED = frozenset({"count"})


class PolicyError(RequestError):
    """A request the key's policy refuses; ``response_headers`` go on the error answer."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.response_headers = headers or {}


def _openai_reset(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1s``, ``6m0s`` (whole units: cheap to make)."""
    if seconds < 1:
        return f"{max(0, int(seconds * 1000))}ms"
    if seconds < 60:
        return f"{int(seconds + 0.5)}s"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{rest}s"


@lru_cache(maxsize=256)
def _rfc3339_at(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.UTC).isoformat().replace("+00:00", "Z")


def _rfc3339(ts: float) -> str:
    return _rfc3339_at(math.ceil(ts))


def rate_headers(fmt: Format, rule: KeyRule, adm: KeyAdmission, now: float) -> dict[str, str]:
    """The standard rate-limit headers for a key with rpm/tpm: OpenAI's ``x-ratelimit-*``,
    Anthropic's ``anthropic-ratelimit-*`` for Messages clients."""
    out: dict[str, str] = {}
    claude = fmt is Format.CLAUDE
    for kind, limit, remaining, reset in (
        ("requests", rule.rpm, adm.rpm_remaining, adm.rpm_reset),
        ("tokens", rule.tpm, adm.tpm_remaining, adm.tpm_reset),
    ):
        if not limit:
            continue
        if claude:
            out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{kind}-remaining"] = str(remaining)
            out[f"anthropic-ratelimit-{kind}-reset"] = _rfc3339(now + reset)
        else:
            out[f"x-ratelimit-limit-{kind}"] = str(limit)
            out[f"x-ratelimit-remaining-{kind}"] = str(remaining)
            out[f"x-ratelimit-reset-{kind}"] = _openai_reset(reset)
    return out


def _who(rule: KeyRule) -> str:
    return f"API key {rule.name!r}" if rule.name else f"API key {rule.masked}"


class Enforcer:
    """The policy check of one service; ``prices`` follows the config's ``model-prices``."""

    __slots__ = ("_limits", "_settle_now", "_tasks", "clock", "prices", "state")

    def __init__(
        self, state: StateBackend, prices: PriceTable | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.state = state
        self.prices = prices or PriceTable()
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._settle_now = getattr(state, "key_settle_now", None)  # the memory backend's
        # rule id -> (rule, valid from, valid until, its KeyLimits): the budget period's
        # tag is worked out once per period, not per request
        self._limits: dict[str, tuple[KeyRule, float, float, KeyLimits]] = {}

    def limits(self, rule: KeyRule, now: float) -> KeyLimits:
        found = self._limits.get(rule.id)
        if found is not None and found[0] is rule and found[1] <= now < found[2]:
            return found[3]
        until = math.inf
        if rule.budget_tokens or rule.budget_cost:
            until = period_tag(rule.period, now)[1] or math.inf
        limits = rule.limits(now)
        if len(self._limits) > 4096:
            self._limits.clear()
        self._limits[rule.id] = (rule, now, until, limits)
        return limits

    async def admit(self, rule: KeyRule, fmt: Format, model: str, action: str) -> Ticket | None:
        """A ticket for an admitted request (``None`` when nothing is counted), or ``PolicyError``."""
        now = self.clock()
        if rule.disabled:
            raise PolicyError(403, f"{_who(rule)} is disabled", "key_disabled")
        if rule.expires_at and now >= rule.expires_at:
            raise PolicyError(403, f"{_who(rule)} expired at {_rfc3339(rule.expires_at)}", "key_expired")
        if not rule.allows(model):
            raise PolicyError(
                403,
                f"{_who(rule)} may not use model {clip(model)!r}; allowed: {', '.join(rule.models)}",
                "model_not_allowed",
            )
        if not rule.counts or action in _UNCOUNTED:
            return None
        limits = self.limits(rule, now)
        adm = await self.state.key_admit(rule.id, limits, now)
        headers = rate_headers(fmt, rule, adm, now)
        if adm.ok:
            return Ticket(self, rule, limits, headers, model)
        raise self._refusal(rule, adm, headers, now)

    def _refusal(self, rule: KeyRule, adm: KeyAdmission, headers: dict[str, str], now: float) -> PolicyError:
        reason = adm.reason
        if reason == "budget_tokens" or reason == "budget_cost":
            spent = (
                f"{adm.tokens_used} of {rule.budget_tokens} tokens"
                if reason == "budget_tokens"
                else f"${adm.cost_used:.4f} of ${rule.budget_cost:g}"
            )
            ends = period_tag(rule.period, now)[1]
            when = f"; it renews at {_rfc3339(ends)}" if ends else " (a total budget: it does not renew)"
            return PolicyError(
                403,
                f"{_who(rule)} has spent its {rule.period} budget ({spent}){when}",
                "budget_exceeded",
                headers,
            )
        wait = max(1, math.ceil(adm.retry_after)) if reason != "concurrency" else 1
        headers["Retry-After"] = str(wait)
        if reason == "concurrency":
            text = f"{_who(rule)} already has {adm.in_flight} requests in flight (max-concurrency {rule.max_concurrency})"
        elif reason == "rpm":
            text = f"{_who(rule)} is over its limit of {rule.rpm} requests per minute; retry in {wait}s"
        else:
            text = f"{_who(rule)} is over its limit of {rule.tpm} tokens per minute; retry in {wait}s"
        return PolicyError(429, text, "rate_limit_exceeded", headers)

    def charge(self, rule: KeyRule, limits: KeyLimits, model: str, usage: Any, *, release: bool) -> None:
        """Charge ``usage`` (an ``ir.Usage`` or None) to the key; synchronous where the
        backend allows it (memory), else one background call."""
        tokens, cost = 0, 0.0
        if usage is not None:
            tokens = usage.total or (usage.input_tokens + usage.output_tokens)
            if rule.budget_cost:
                cost = self.prices.cost(model, usage)
        now = self.clock()
        settle_now = self._settle_now
        if settle_now is not None:
            settle_now(rule.id, limits, now, tokens=tokens, cost=cost, release=release)
            return
        task = asyncio.get_running_loop().create_task(
            self.state.key_settle(rule.id, limits, now, tokens=tokens, cost=cost, release=release)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def release(self, rule: KeyRule, limits: KeyLimits) -> None:
        settle_now = self._settle_now
        if settle_now is not None:  # the memory backend: no coroutine needed
            settle_now(rule.id, limits, self.clock(), tokens=0, cost=0.0, release=True)
        else:
            await self.state.key_settle(rule.id, limits, self.clock(), tokens=0, cost=0.0, release=True)


class Ticket:
    """One admitted request: gives its slot back once and charges its usage once."""

    __slots__ = ("_charged", "_released", "enforcer", "headers", "limits", "model", "rule")

    def __init__(
        self, enforcer: Enforcer, rule: KeyRule, limits: KeyLimits, headers: dict[str, str], model: str
    ) -> None:
        self.enforcer, self.rule, self.limits, self.headers, self.model = (
            enforcer,
            rule,
            limits,
            headers,
            model,
        )
        self._released = self._charged = False

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self.enforcer.release(self.rule, self.limits)

    def on_usage_and_release(self, usage: Any, model: str = "") -> None:
        """A whole answer's usage and the end of its request, charged in one call."""
        if not self._released:
            self._released = self._charged = True
            self.enforcer.charge(self.rule, self.limits, model or self.model, usage, release=True)

    def on_usage(self, usage: Any, model: str = "") -> None:
        """The request's usage, once (the usage record's hook, or our own reading)."""
        if not self._charged:
            self._charged = True
            if usage is not None:
                self.enforcer.charge(self.rule, self.limits, model or self.model, usage, release=False)

    async def attach(self, call: Any, result: Reply | StreamReply, sniffer: Any) -> Reply | StreamReply:
        """The answer with the rate-limit headers, its slot released when it ends and its
        usage charged (through the request's usage trace when there is one)."""
        if self.headers:
            result.headers.update(self.headers)
        trace = call.trace
        if trace is not None:
            trace.on_usage = self.on_usage
        if isinstance(result, Reply):
            if trace is not None:  # finished by the server as soon as we return: one settle
                trace.on_usage = self.on_usage_and_release
                return result
            if result.status < 400:
                self.on_usage(body_usage(call.format, result.body))
            await self.release()
            return result
        read = result.read_usage if trace is None else None  # (a trace charges what it read)
        own = sniffer if trace is None and read is None else None
        return StreamReply(
            result.headers,
            result.first,
            _Guarded(self, result.rest, own, result.first, read),
            result.credential,
            result.read_usage,
        )


class _Guarded:
    """A stream whose end (or abandonment) releases the ticket's slot, its usage charged:
    what ``read_usage`` gives at the end, else what ``sniffer`` read of its chunks."""

    __slots__ = ("_read", "_rest", "_sniffer", "_ticket")

    def __init__(
        self,
        ticket: Ticket,
        rest: AsyncIterator[bytes],
        sniffer: Any,
        first: bytes,
        read_usage: Callable[[], Any] | None = None,
    ) -> None:
        self._ticket, self._rest, self._sniffer, self._read = ticket, rest, sniffer, read_usage
        if sniffer is not None and first:
            sniffer.feed(first)

    def __aiter__(self) -> _Guarded:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._rest.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise
        if self._sniffer is not None:
            self._sniffer.feed(chunk)
        return chunk

    @property
    def failure(self) -> Any:
        """The error the stream ended with (the request's usage record reads it)."""
        return getattr(self._rest, "failure", None)

    async def aclose(self) -> None:
        try:
            await self._rest.aclose()  # type: ignore[attr-defined]
        finally:
            if self._read is not None:
                self._ticket.on_usage(self._read())
            elif self._sniffer is not None:
                self._ticket.on_usage(self._sniffer.usage)
            await self._ticket.release()

    def relay(
        self, emit: Callable[[bytes], int], drain: Callable[[], Awaitable[None]]
    ) -> Coroutine[Any, Any, None] | None:
        """Push mode (``cliproxy.replies``): each chunk sniffed for its usage, then to
        ``emit``; the ticket settled at the end. ``None`` when the source cannot push."""
        relay = getattr(self._rest, "relay", None)
        if relay is None:
            return None
        sniffer = self._sniffer
        push = emit
        if sniffer is not None:
            feed = sniffer.feed

            def push(chunk: bytes) -> int:
                feed(chunk)
                return emit(chunk)

        inner = relay(push, drain)
        return None if inner is None else then(inner, self.aclose)
