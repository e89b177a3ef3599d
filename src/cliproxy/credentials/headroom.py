"""Quota steering: route away from a credential before its rate limits answer 429.

Upstreams say in every answer how much of their limits an account has used. :func:`parse`
reads that into one :class:`~cliproxy.state.base.Headroom` (the fullest window, in
percent, until it resets), from these header families:

- Anthropic unified limits of subscription accounts: ``anthropic-ratelimit-unified-<w>-
  utilization`` (a 0..1 fraction per window ``5h``, ``7d``...) with ``-<w>-reset`` (epoch
  seconds); a ``-status`` / ``-<w>-status`` of ``rejected`` means 100 % until its reset;
- Anthropic API keys: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
  {limit,remaining,reset}`` (reset in RFC 3339);
- Codex: ``x-codex-{primary,secondary}-used-percent`` with ``-reset-after-seconds`` (or
  ``-reset-at``) and ``-window-minutes``;
- OpenAI and compatible APIs: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``
  (reset as a duration: ``6m0s``, ``1s``, ``20ms``);
- a 429 whose body carries Google's ``RetryInfo`` / ``QuotaFailure`` (Gemini, Vertex) or
  Codex's ``resets_in_seconds``: 100 % used until the retry delay.

:class:`QuotaSteering` stores each credential's estimate in the state backend (so every
worker sees it) and, inside the pool's top priority tier, prefers credentials under the
``routing.quota-steering`` threshold; when all are over it, the least used ones. It never
refuses a request. With the threshold at 0 (the default) the pool and the pipeline skip
all of this on one float test.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ..providers.retry import codex_reset, google_retry_delay, parse_duration
from ..state.base import Headroom, StateBackend
from ..times import parse_timestamp
from .explain import note_skip
from .record import Credential

__all__ = ["DEFAULT_TTL", "QuotaSteering", "parse"]

DEFAULT_TTL = 60.0  # seconds an estimate with no reset time is trusted (the next answer renews it)
_PREFIXES = ("anthropic-ratelimit-", "x-codex-", "x-ratelimit-")
_UNIFIED = "anthropic-ratelimit-unified-"
_CLASSIC = ("requests", "tokens", "input-tokens", "output-tokens")
_KEEP_SAME = 30.0  # seconds an unchanged estimate is not written again
# the farthest reset an answer may name (Go's longest Duration, as errors.UpstreamError
# bounds a 429's wait); one past it, or not finite, is no reset: it kept the estimate for
# ever (the account steered away for good) and, on Redis, made the answer a 500
_FARTHEST = 9223372036.0


def parse(
    status: int, headers: Mapping[str, str], body: bytes = b"", now: float | None = None
) -> Headroom | None:
    """The headroom an upstream answer states, or None when it states none."""
    now = time.time() if now is None else now
    found = {k: v for name, v in headers.items() if (k := name.lower()).startswith(_PREFIXES)}
    windows: list[tuple[float, float, str, str]] = []  # (percent, resets_at or 0, window, source)
    if found:
        families = {_family(k) for k in found}
        if "unified" in families:
            _unified(found, windows)
        if "anthropic" in families:
            _classic(found, windows, now)
        if "codex" in families:
            _codex(found, windows, now)
        if "openai" in families:
            _openai(found, windows, now)
    if not windows and status == 429 and body[:1] in (b"{", b"["):
        _quota_body(body, windows, now)
    if not windows:
        return None
    pct, resets_at, window, source = max(windows, key=lambda w: (w[0], w[1]))
    ahead = now < resets_at <= now + _FARTHEST
    return Headroom(min(100.0, max(0.0, pct)), resets_at if ahead else now + DEFAULT_TTL, window, source)


def _family(name: str) -> str:
    if name[0] == "x":
        return "codex" if name.startswith("x-codex-") else "openai"
    return "unified" if name.startswith(_UNIFIED) else "anthropic"


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _unified(found: dict[str, str], out: list[tuple[float, float, str, str]]) -> None:
    """Anthropic's unified (subscription) limits: one entry per window."""
    names = {
        k[len(_UNIFIED) : -len("-utilization")]
        for k in found
        if k.startswith(_UNIFIED) and k.endswith("-utilization")
    }
    names |= {
        k[len(_UNIFIED) : -len("-status")] for k in found if k.startswith(_UNIFIED) and k.endswith("-status")
    }
    names -= {"", "overage"}  # the overall status (below); extra usage beyond the plan
    for name in names:
        used = _number(found.get(f"{_UNIFIED}{name}-utilization"))
        pct = used * 100.0 if used is not None else 0.0
        if (found.get(f"{_UNIFIED}{name}-status") or "").strip().lower() == "rejected":
            pct = 100.0
        reset = _number(found.get(f"{_UNIFIED}{name}-reset")) or 0.0
        out.append((pct, reset, name, "anthropic-unified"))
    if (found.get(_UNIFIED + "status") or "").strip().lower() == "rejected":
        out.append((100.0, _number(found.get(_UNIFIED + "reset")) or 0.0, "unified", "anthropic-unified"))


def _used(limit: str | None, remaining: str | None) -> float | None:
    top, left = _number(limit), _number(remaining)
    if top is None or left is None or top <= 0:
        return None
    return (1.0 - left / top) * 100.0


def _classic(found: dict[str, str], out: list[tuple[float, float, str, str]], now: float) -> None:
    """Anthropic API-key limits: limit / remaining / reset (RFC 3339) per kind."""
    for kind in _CLASSIC:
        pct = _used(
            found.get(f"anthropic-ratelimit-{kind}-limit"), found.get(f"anthropic-ratelimit-{kind}-remaining")
        )
        if pct is None:
            continue
        reset = found.get(f"anthropic-ratelimit-{kind}-reset")
        try:
            at = parse_timestamp(reset) if reset else 0.0
        except ValueError:
            at = 0.0
        out.append((pct, at, kind, "anthropic"))


def _codex(found: dict[str, str], out: list[tuple[float, float, str, str]], now: float) -> None:
    """Codex usage windows: primary (5 h) and secondary (weekly)."""
    for which in ("primary", "secondary"):
        pct = _number(found.get(f"x-codex-{which}-used-percent"))
        if pct is None:
            continue
        at = _number(found.get(f"x-codex-{which}-reset-at")) or 0.0
        after = _number(found.get(f"x-codex-{which}-reset-after-seconds"))
        if not at and after is not None and after >= 0:
            at = now + after
        minutes = _number(found.get(f"x-codex-{which}-window-minutes"))
        out.append((pct, at, _window_name(minutes) if minutes else which, "codex"))


def _window_name(minutes: float) -> str:
    if minutes % 1440 == 0:
        return f"{int(minutes // 1440)}d"
    if minutes % 60 == 0:
        return f"{int(minutes // 60)}h"
    return f"{int(minutes)}m"


def _openai(found: dict[str, str], out: list[tuple[float, float, str, str]], now: float) -> None:
    """OpenAI-style limits: limit / remaining / reset (a duration) per kind."""
    for kind in ("requests", "tokens"):
        pct = _used(found.get(f"x-ratelimit-limit-{kind}"), found.get(f"x-ratelimit-remaining-{kind}"))
        if pct is None:
            continue
        after = _seconds(found.get(f"x-ratelimit-reset-{kind}"))
        out.append((pct, now + after if after is not None else 0.0, kind, "openai"))


def _seconds(text: str | None) -> float | None:
    """A reset delay: a duration (``6m0s``, ``20ms``) or plain seconds."""
    if not text:
        return None
    number = _number(text)
    return number if number is not None and number >= 0 else parse_duration(text)


def _quota_body(body: bytes, out: list[tuple[float, float, str, str]], now: float) -> None:
    """A 429 that says when the quota comes back: Google RPC errors and Codex usage limits."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    delay = google_retry_delay(data)
    if delay is not None or _quota_failure(data):
        window = _quota_failure(data) or "quota"
        out.append((100.0, now + delay if delay is not None else 0.0, window, "gemini"))
        return
    delay = codex_reset(data, now)
    if delay is not None:
        out.append((100.0, now + delay, "usage-limit", "codex"))


def _quota_failure(data: Any) -> str:
    """The window a Google ``QuotaFailure`` names (``day``, ``minute``, or the quota id)."""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, list) and err and isinstance(err[0], dict):
        err = err[0].get("error")
    details = err.get("details") if isinstance(err, dict) else None
    for d in details if isinstance(details, list) else ():
        if not (isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.QuotaFailure")):
            continue
        for v in d.get("violations") or ():
            quota = str(v.get("quotaId") or v.get("quotaMetric") or "") if isinstance(v, dict) else ""
            for word, name in (("PerDay", "day"), ("PerMinute", "minute"), ("PerHour", "hour")):
                if word in quota:
                    return name
            if quota:
                return quota
        return "quota"
    return ""


class QuotaSteering:
    """The pool's side of ``routing.quota-steering``: records what answers say, and steers."""

    def __init__(self, state: StateBackend, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock
        self.threshold = 0.0  # used percent at or above which a credential yields; 0 = off
        self._written: dict[str, tuple[Headroom, float]] = {}  # cred id -> (last written, when)

    async def observe(
        self, credential_id: str, status: int, headers: Mapping[str, str], body: bytes = b""
    ) -> Headroom | None:
        """Read an upstream answer's headers (and a 429's body) into the credential's estimate."""
        now = self.clock()
        mark = parse(status, headers, body, now)
        if mark is None or not self._worth_writing(credential_id, mark, now):
            return mark
        self._written[credential_id] = (mark, now)
        await self.state.set_headroom(credential_id, mark)
        return mark

    async def forget(self, credential_id: str) -> bool:
        """End the credential's estimate now: its account was found serving again (a probe
        cleared its cooldown, an operator reset its quota), so the 100 % its 429 left must not
        keep steering requests away from it until that window's old reset. The next answer
        writes a fresh estimate. True when there was one."""
        self._written.pop(credential_id, None)
        mark = (await self.state.get_headroom([credential_id])).get(credential_id)
        if mark is None:
            return False
        await self.state.set_headroom(credential_id, dataclasses.replace(mark, resets_at=self.clock()))
        return True

    def _worth_writing(self, credential_id: str, mark: Headroom, now: float) -> bool:
        """Skip a write that changes nothing steering could see (every process reads it)."""
        last = self._written.get(credential_id)
        live = last is not None and last[0].resets_at > now
        standing = live and last is not None and last[0].used_percent >= self.threshold
        if mark.resets_at - now < 1.0 and mark.used_percent < self.threshold and not standing:
            return False  # starts over within a second, under the threshold: gone before it matters
        if last is None or not live:
            return True
        prev, when = last
        return (
            round(prev.used_percent) != round(mark.used_percent)
            or abs(prev.resets_at - mark.resets_at) > 5.0
            or now - when > _KEEP_SAME
        )

    async def steer(self, tier: Sequence[Credential]) -> Sequence[Credential]:
        """The credentials of ``tier`` under the threshold, or, when none is, the least used.
        Returns ``tier`` itself when nothing is passed over."""
        marks = await self.state.get_headroom([c.id for c in tier])
        if not marks:
            return tier
        threshold = self.threshold
        over = {cid: m for cid, m in marks.items() if m.used_percent >= threshold}
        if not over:
            return tier
        kept: Sequence[Credential] = [c for c in tier if c.id not in over]
        if not kept:  # all nearly used up: the least used still serves (never a refusal)
            least = min(m.used_percent for m in over.values())
            kept = [c for c in tier if over[c.id].used_percent == least]
        for c in tier:
            if c not in kept:
                mark = over[c.id]
                note_skip(c.id, "quota-steering", f"{mark.used_percent:.0f}%", mark.resets_at)
        return kept
