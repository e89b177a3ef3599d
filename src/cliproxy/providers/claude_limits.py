"""What an Anthropic error answer says about its scope and when to ask again (CPA's
``classifyClaudeUpstreamError`` and ``helps/claude_ratelimit.go``).

A subscription account shares two windows among all its models, ``5h`` and ``7d``;
``7d_oi`` is a per-model weekly window (Fable). Each comes as
``anthropic-ratelimit-unified-<window>-status`` / ``-reset`` headers, plus an aggregate
``anthropic-ratelimit-unified-status`` / ``-reset``. A 429 that rejects a shared window
exhausts the whole account (:func:`shared_window_rejected`: every model cools); one that
rejects only ``7d_oi`` leaves the account's other models alone and waits only as long as
``Retry-After`` says (:func:`reset_after`), never the model's week.

A 429 that refuses fast mode for want of usage credits (:func:`fast_credits_refusal`) is a
property of the request: every other credential would answer the same, and each is fine
for ordinary traffic. So is any error of a fast-mode request to Anthropic: ``build`` notes
the request (:func:`note_request`), ``classify`` of its answer reads the note
(:func:`scope`); both run in one attempt's task, whose context holds it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from cliproxy.errors import UpstreamError
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.retry import retry_after_header

__all__ = [
    "fast_beta",
    "fast_credits_refusal",
    "fast_request",
    "note_request",
    "reset_after",
    "scope",
    "shared_window_rejected",
]

# whether this task's last Claude request was a fast-mode one to Anthropic (note_request)
_FAST: contextvars.ContextVar[bool] = contextvars.ContextVar("claude_fast", default=False)

_PREFIX = "anthropic-ratelimit-unified-"
_REJECTED = "rejected"
_ALLOWED = "allowed"


def _unified(headers: Mapping[str, str]) -> dict[str, str]:
    """The unified rate-limit headers by lower-case name (the mapping may keep any case)."""
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith(_PREFIX)}


def _status(unified: Mapping[str, str], window: str) -> str:
    return unified.get(f"{_PREFIX}{window}status", "").strip().lower()


def _fable_only(five: str, seven: str, model_week: str) -> bool:
    """Only the per-model weekly window said no; both shared ones say yes outright."""
    return five == _ALLOWED and seven == _ALLOWED and model_week == _REJECTED


def shared_window_rejected(headers: Mapping[str, str]) -> bool:
    """The headers reject a window the whole account shares: ``5h`` or ``7d`` rejected, or
    the aggregate rejected without both shared windows allowed (ambiguous counts as shared)."""
    unified = _unified(headers)
    if not unified:
        return False
    five, seven = _status(unified, "5h-"), _status(unified, "7d-")
    if _REJECTED in (five, seven):
        return True
    if _status(unified, "") != _REJECTED:
        return False
    return not _fable_only(five, seven, _status(unified, "7d_oi-"))


def reset_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the latest deadline among ``Retry-After`` and the resets of the
    rejected windows; None when none lies ahead (the cooldown table's back-off then).

    A ``7d_oi``-only rejection contributes no reset of its own (the model's week would
    cool it for days while Anthropic asks for minutes). CPA adds 1-30 s of random grace
    on top; cliproxy keeps the upstream's figure so cooldowns stay predictable.
    """
    now = time.time() if now is None else now
    deadlines: list[float] = []
    after = retry_after_header(headers, now)
    if after is not None and after > 0:
        deadlines.append(now + after)
    unified = _unified(headers)
    if unified:
        deadlines.extend(_window_deadlines(unified))
    latest = max(deadlines, default=0.0)
    return latest - now if latest > now else None


def _window_deadlines(unified: Mapping[str, str]) -> list[float]:
    """The reset times of the rejected windows that bind the request (CPA's rules)."""
    aggregate = _status(unified, "")
    five, seven, model_week = _status(unified, "5h-"), _status(unified, "7d-"), _status(unified, "7d_oi-")
    fable_only = _fable_only(five, seven, model_week)
    windows = [w for w, s in (("5h-", five), ("7d-", seven)) if s == _REJECTED]
    if model_week == _REJECTED and not fable_only:
        windows.append("7d_oi-")
    # the aggregate reset counts when any window is rejected, or when nothing says the
    # shared windows are open (no aggregate status, neither shared window allowed)
    if not fable_only and (
        _REJECTED in (aggregate, five, seven, model_week)
        or (not aggregate and five != _ALLOWED and seven != _ALLOWED)
    ):
        windows.append("")
    found = (_timestamp(unified.get(f"{_PREFIX}{w}reset", "")) for w in windows)
    return [at for at in found if at is not None]


def _timestamp(raw: str) -> float | None:
    """A reset time: unix seconds, RFC 3339 or an HTTP date; None when unreadable."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return value if value > 0 else None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def fast_credits_refusal(body: bytes) -> bool:
    """Anthropic's refusal of fast mode to an account without usage credits (a genuine
    rate limit never mentions fast mode): the error's message, else the whole body."""
    message = ""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        message = err["message"]
    text = (message or body.decode("utf-8", "replace")).lower()
    if "fast request rejected" in text:
        return True
    return "fast" in text and ("usage credits" in text or "credits are required" in text)


def fast_beta(headers: Mapping[str, str], custom: bool) -> bool:
    """The outgoing ``anthropic-beta`` declares fast mode (a client may ask for it by the
    beta alone, without ``speed``); only a credential's own ``headers:`` (``custom``) spell
    the name their own way."""
    value = headers.get("anthropic-beta")
    if value is None and custom:
        value = next((v for k, v in headers.items() if k.lower() == "anthropic-beta"), None)
    if not value:
        return False
    return ident.FAST_MODE_BETA in (b.strip() for b in value.split(","))


def note_request(
    to_anthropic: bool, body: Mapping[str, Any], headers: Mapping[str, str], custom: bool
) -> None:
    """In ``build``: whether this request is a fast-mode one to Anthropic (a generation
    there, ``speed: "fast"`` or the fast beta), for :func:`scope`."""
    _FAST.set(to_anthropic and (ident.fast_speed(body) or fast_beta(headers, custom)))


def fast_request() -> bool:
    """Whether this task's last request, as ``build`` noted it, is a fast-mode one to
    Anthropic (read when its attempt failed)."""
    return _FAST.get()


def scope(err: UpstreamError, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """The scope of an Anthropic error (CPA). A 429 that rejects a shared window exhausts
    the credential, fast request or not. Otherwise a fast-mode credits refusal, and any
    error a fast-mode request to Anthropic gets, belong to the request: to the client as
    they are, no cooldown, no other credential."""
    if status == 429 and shared_window_rejected(headers):
        err.credential_scoped = True
    elif _FAST.get() or (status == 429 and fast_credits_refusal(body)):
        err.request_scoped = True
