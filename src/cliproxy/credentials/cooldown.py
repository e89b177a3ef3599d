"""CPA's cooldown table and request-fault classification, as pure functions.

:func:`classify` turns an upstream failure into a :class:`Failure` (what kind of
error it is, and whether it should stop the request); :func:`next_record` turns a
failure plus the previous record into the new cooldown record. The pool applies them.

| condition                               | cooldown                                   |
|-----------------------------------------|--------------------------------------------|
| model-not-supported code (400/404/422)  | 12 h                                       |
| Cloudflare challenge page (HTML)        | exponential back-off, at least 10 s        |
| ``invalid_grant`` code (400/401)        | 30 min                                     |
| 401                                     | 30 min (``unauthorized``)                  |
| 402 / 403                               | 30 min (``payment_required``)              |
| 404                                     | 12 h (``not_found``)                       |
| 429                                     | Retry-After, else 1 s * 2^level, max 30 min|
| 408 / 5xx / anything else               | transient-error-cooldown-seconds (0 -> 60) |
| request faults (400/409/413/422...)     | none; returned to the client at once       |
| a request over the key's tokens/minute  | none; the next credential is tried         |
| a 1M-context request, no extra usage    | none; the next credential is tried         |

``disable-cooling`` (global, or per credential) means no cooldown of any kind; only a
request-scoped rule whose action ends in ``-and-cooldown`` still cools.

Where CPA matches free text (``model not supported``, ``invalid_grant``, ``cloudflare``
anywhere in the body), we read the error's structured fields (``code``, ``type``, the
OAuth ``error``) and only take an HTML body for a Cloudflare page: an upstream often
quotes the client's own input back in its message, and a client must not be able to
cool a credential it shares with others. For the same reason a 403 or 404 that says a
resource the request names is missing or not this account's (a Gemini ``cachedContent``
or File, an Anthropic ``file_id``) is a request fault here, where CPA cools the
credential for everyone (:func:`is_missing_reference`), and a 429 (or Groq's 413) that
refuses one request larger than the key's per-minute token limit, or Anthropic's 429 to a
1M-context request on a subscription without extra usage, cools nothing and lets the next
credential try it (:mod:`.request_faults`; CPA cools it as a quota).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import orjson

from ..state.base import CooldownRecord
from .record import ScopedErrorRule
from .request_faults import over_token_limit

__all__ = [
    "ACTION_CONTINUE",
    "ACTION_CONTINUE_AND_COOLDOWN",
    "ACTION_STOP",
    "ACTION_STOP_AND_COOLDOWN",
    "QUOTA_BACKOFF_BASE",
    "QUOTA_BACKOFF_MAX",
    "TRANSIENT_COOLDOWN",
    "CooldownInput",
    "Failure",
    "classify",
    "is_cloudflare_challenge",
    "is_invalid_grant",
    "is_missing_reference",
    "is_model_support_error",
    "is_request_fault",
    "match_scoped_rule",
    "next_quota_backoff",
    "next_record",
    "round_wait",
    "transient_seconds",
]

QUOTA_BACKOFF_BASE = 1.0
QUOTA_BACKOFF_MAX = 30 * 60.0
TRANSIENT_COOLDOWN = 60.0
ROUND_JITTER_CAP = 2.0  # the most a wait between retry rounds is spread by
HALF_HOUR = 30 * 60.0
TWELVE_HOURS = 12 * 3600.0

ACTION_STOP = "stop"
ACTION_STOP_AND_COOLDOWN = "stop-and-cooldown"
ACTION_CONTINUE = "continue"
ACTION_CONTINUE_AND_COOLDOWN = "continue-and-cooldown"

_FAULT_CODES = frozenset(
    {
        "cyber_policy",
        "context_length_exceeded",
        "message_too_big",
        "string_above_max_length",
        "invalid_prompt",
        "invalid_value",
        "unsupported_value",
        "invalid_request_error",
        "previous_response_not_found",
    }
)
_FAULT_TYPES = frozenset({"invalid_request", "invalid_request_error", "bad_request_error", "invalid_prompt"})
_FAULT_STATUSES = frozenset({400, 409, 413, 422})
_MODEL_SUPPORT_CODES = frozenset(
    {"model_not_supported", "model_not_found", "unsupported_model", "model_not_available"}
)
_MODEL_SUPPORT_STATUSES = frozenset({400, 404, 422})
_ERROR_PATHS = (("error",), (), ("response", "error"), ("body", "error"))
# how the upstreams' messages begin when a resource the request names is missing or is
# another account's (lower case): Gemini's cachedContent and File API, Anthropic's Files API
_MISSING_REFERENCE_STARTS = (
    "cachedcontent not found",
    "you do not have permission to access the file ",
    "file not found: file_",
)


@dataclass(frozen=True, slots=True)
class Failure:
    """How an upstream failure is handled.

    ``kind`` is one of ``request_fault``, ``scoped`` (a request-scoped rule said no
    cooldown), ``oversized`` (a request over the key's per-minute token limit: no cooldown,
    the next credential), ``model_support``, ``cloudflare``, ``invalid_grant`` or ``status``.
    ``stop`` means: return the error to the client, try no other credential.
    ``force_cooldown`` is set by the ``*-and-cooldown`` rule actions.
    """

    kind: str
    stop: bool = False
    force_cooldown: bool = False
    action: str = ""

    @property
    def cools(self) -> bool:
        return self.kind not in ("request_fault", "scoped", "oversized")


def classify(
    status: int, body: str, rules: Iterable[ScopedErrorRule] = (), oversized: bool = False
) -> Failure:
    """Classify a failure by status and body text, honouring request-scoped rules first.
    ``oversized``: the provider read the answer as a request over the account's limit alone
    (what the body does not say by itself: Anthropic's untouched input minute, in its
    headers); a rule's ``-and-cooldown`` still cools, as for the errors the body shows."""
    action = match_scoped_rule(rules, status, body) or ""
    if action in (ACTION_STOP, ACTION_CONTINUE):
        return Failure("scoped", stop=action == ACTION_STOP, action=action)
    forced = action in (ACTION_STOP_AND_COOLDOWN, ACTION_CONTINUE_AND_COOLDOWN)
    stop = action == ACTION_STOP_AND_COOLDOWN
    if is_cloudflare_challenge(body):
        return Failure("cloudflare", stop, forced, action)
    if is_invalid_grant(status, body):
        return Failure("invalid_grant", stop, forced, action)
    if is_model_support_error(status, body):
        return Failure("model_support", stop, forced, action)
    if not forced and (oversized or over_token_limit(status, body)):
        return Failure("oversized")
    if not forced and (is_request_fault(status, body) or is_missing_reference(status, body)):
        return Failure("request_fault", stop=True)
    return Failure("status", stop, forced, action)


def match_scoped_rule(rules: Iterable[ScopedErrorRule], status: int, body: str) -> str | None:
    """The action of the first rule whose status matches and whose text or regex matches."""
    for rule in rules:
        if rule.status <= 0 or rule.status != status:
            continue
        if any(s and s in body for s in rule.match) or any(
            (rx := _regex(p)) is not None and rx.search(body) for p in rule.match_regexr if p
        ):
            return rule.action
    return None


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def is_request_fault(status: int, body: str) -> bool:
    """CPA's ``clienterror.IsRequestFault``: the request, not the credential, is at fault."""
    if status in (402, 429):
        return False
    parsed = _json(body)
    if status == 401 and _error_field(parsed, "type") & {"authentication_error"}:
        return False  # an invalid key reported with a generic body stays a credential failure
    if _error_field(parsed, "code") & _FAULT_CODES or _error_field(parsed, "type") & _FAULT_TYPES:
        return True
    if _item_not_persisted(body):
        return True
    return status in _FAULT_STATUSES


def is_missing_reference(status: int, body: str) -> bool:
    """A 403 or 404 whose error message says a resource the request names (a cached content,
    an uploaded file) is not found or not readable by this account: the request's fault, as
    any other client asking for it gets its own answer (CPA cools the credential: 30 min
    for a 403, 12 h for a 404, for every client that shares it).

    Only the start of the upstream's own message counts, so an upstream that quotes the
    client's input later in a message cannot make a real credential failure look like one."""
    if status not in (403, 404) or (body.find("ot found") < 0 and body.find("permission to access") < 0):
        return False
    parsed = _json(body)
    if isinstance(parsed, list) and parsed:  # a Gemini stream's error comes in an array
        parsed = parsed[0]
    return any(m.startswith(_MISSING_REFERENCE_STARTS) for m in _error_field(parsed, "message"))


def is_model_support_error(status: int, body: str) -> bool:
    """The upstream's error code or type says the model is not served (never its message text)."""
    if status not in _MODEL_SUPPORT_STATUSES or "model" not in body.lower():
        return False
    parsed = _json(body)
    return bool((_error_field(parsed, "code") | _error_field(parsed, "type")) & _MODEL_SUPPORT_CODES)


def is_invalid_grant(status: int, body: str) -> bool:
    """An OAuth ``invalid_grant``: the ``error`` string of RFC 6749, or an error code or type."""
    if status not in (400, 401) or "invalid_grant" not in body.lower():
        return False
    parsed = _json(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"].strip().lower() == "invalid_grant"
    return "invalid_grant" in _error_field(parsed, "code") | _error_field(parsed, "type")


def is_cloudflare_challenge(body: str) -> bool:
    """A Cloudflare challenge page: HTML (never a JSON body that may quote the client)."""
    text = body.lstrip()
    if not text.startswith("<"):
        return False
    lower = text.lower()
    return (
        "challenge-platform" in lower
        or "cf-mitigated" in lower
        or "cloudflare challenge" in lower
        or ("cloudflare" in lower and "<html" in lower)
    )


def _item_not_persisted(body: str) -> bool:
    lower = body.lower()
    return (
        "item with id" in lower
        and "not found" in lower
        and "items are not persisted when `store` is set to false" in lower
    )


def _json(body: str) -> Any:
    text = body.strip()
    if not text or text[0] not in "{[":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _error_field(parsed: Any, name: str) -> set[str]:
    found: set[str] = set()
    for path in _ERROR_PATHS:
        node = parsed
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(name) is not None:
            value = node[name]
            found.add((value if isinstance(value, str) else orjson.dumps(value).decode()).strip().lower())
    return found


def transient_seconds(setting: int) -> float:
    """``transient-error-cooldown-seconds``: 0 means the legacy 60 s, negative means none."""
    if setting < 0:
        return 0.0
    return TRANSIENT_COOLDOWN if setting == 0 else float(setting)


def round_wait(wait: float, limit: float) -> float | None:
    """How long to sleep before another retry round, or None for no round (CPA's rule).

    ``wait`` is the time until a credential is free, ``limit`` ``max-retry-interval``. A
    credential free now is retried at once, whatever the limit; a later one only within a
    positive limit. The wait grows by up to a quarter (at most 2 s) so that requests that
    failed together do not all come back at once, but never past the limit."""
    if wait <= 0:
        return 0.0
    if limit <= 0 or wait > limit:
        return None
    spread = min(wait / 4, ROUND_JITTER_CAP, limit - wait)
    return wait + random.uniform(0, spread) if spread > 0 else wait


def next_quota_backoff(level: int) -> tuple[float, int]:
    """The 429 back-off for ``level``: ``(seconds, next level)``; capped at 30 min."""
    level = max(0, level)
    seconds = QUOTA_BACKOFF_BASE * (1 << min(level, 62))
    if seconds >= QUOTA_BACKOFF_MAX:
        return QUOTA_BACKOFF_MAX, level
    return seconds, level + 1


@dataclass(slots=True)
class CooldownInput:
    """What :func:`next_record` needs to know about one failure."""

    status: int
    failure: Failure
    message: str
    retry_after: float | None
    disable_cooling: bool
    transient: float  # seconds for 408/5xx/other (0 = none)


def next_record(
    prev: CooldownRecord | None, base: CooldownRecord, event: CooldownInput, now: float
) -> CooldownRecord:
    """The new record for a failure; ``base`` carries the ids, ``prev`` the old state."""
    disable = event.disable_cooling and not event.failure.force_cooldown
    level = prev.backoff_level if prev else 0
    record = base
    record.backoff_level = level
    record.updated_at = now
    record.status_message = event.message
    record.last_error = {
        "code": event.failure.kind,
        "message": event.message[:512],
        "retryable": False,
        "http_status": event.status,
    }
    kind, status = event.failure.kind, event.status
    if kind == "model_support":
        _fixed(record, disable, now, TWELVE_HOURS, "model_not_supported")
    elif kind == "cloudflare":
        _cloudflare(record, level, disable, now)
    elif kind == "invalid_grant":
        _fixed(record, disable, now, HALF_HOUR, "invalid_grant")
    elif status == 401:
        _fixed(record, disable, now, HALF_HOUR, "unauthorized")
    elif status in (402, 403):
        _fixed(record, disable, now, HALF_HOUR, "payment_required")
    elif status == 404:
        _fixed(record, disable, now, TWELVE_HOURS, "not_found")
    elif status == 429:
        _quota(record, prev, event.retry_after, disable, now)
    else:
        record.reason = (
            "transient upstream error" if status in (408, 500, 502, 503, 504) else "request failed"
        )
        record.next_retry_after = 0.0 if disable or not event.transient else now + event.transient
    # any other failure keeps the model's running quota (CPA changes it only on a 429 or a
    # Cloudflare page): a late 5xx or 401 must not bring a spent account back early
    carry = prev is not None and prev.quota_exceeded and prev.next_recover_at > now
    if carry and prev is not None and not disable and not record.quota_exceeded:
        record.quota_exceeded, record.quota_reason = True, prev.quota_reason
        record.next_recover_at = prev.next_recover_at
    if event.failure.force_cooldown and record.until() <= now:
        record.next_retry_after = now + TRANSIENT_COOLDOWN
    return record


def quota_only(record: CooldownRecord, now: float) -> CooldownRecord | None:
    """A refusal's ``record`` (401/403) once the account has new tokens: the running quota it
    carried (:func:`next_record`) alone, else None (nothing left to wait for)."""
    if not (record.quota_exceeded and record.next_recover_at > now):
        return None
    return replace(record, next_retry_after=record.next_recover_at, extras=dict(record.extras))


def _fixed(record: CooldownRecord, disable: bool, now: float, seconds: float, reason: str) -> None:
    record.reason = reason
    record.next_retry_after = 0.0 if disable else now + seconds


def _cloudflare(record: CooldownRecord, level: int, disable: bool, now: float) -> None:
    record.reason = record.quota_reason = record.status_message = "cloudflare challenge"
    if disable:
        return
    seconds, record.backoff_level = next_quota_backoff(level)
    record.next_retry_after = record.next_recover_at = now + max(seconds, 10.0)
    record.quota_exceeded = True


def _quota(
    record: CooldownRecord, prev: CooldownRecord | None, retry_after: float | None, disable: bool, now: float
) -> None:
    record.reason = record.quota_reason = "quota"
    level = record.backoff_level
    prev_recover = prev.next_recover_at if prev and prev.quota_exceeded else 0.0
    if disable:
        record.next_retry_after = record.next_recover_at = 0.0
        return
    if retry_after is not None:
        deadline = now + max(0.0, retry_after)
    elif prev_recover > now:
        deadline = prev_recover  # a burst inside one window advances the ladder only once
    else:
        seconds, record.backoff_level = next_quota_backoff(level)
        deadline = now + seconds
    deadline = max(deadline, prev_recover)
    record.next_retry_after = record.next_recover_at = deadline
    record.quota_exceeded = True
