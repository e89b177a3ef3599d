"""When may we try again? Retry hints in upstream error answers.

Each function returns seconds from now, or ``None`` when the answer holds no hint.
Sources: the ``Retry-After`` header (seconds or an HTTP date); Google RPC errors
(``RetryInfo.retryDelay``, ``ErrorInfo.metadata.quotaResetDelay``, "after Ns" in the
message); Codex (``error.resets_at`` unix time, ``error.resets_in_seconds``); Anthropic's
unified rate-limit headers (``anthropic-ratelimit-unified-*-reset``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from cliproxy import times
from cliproxy.formats.openai_responses import usage_reset

__all__ = [
    "codex_reset",
    "google_retry_delay",
    "parse_duration",
    "retry_after_header",
]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

_AFTER = re.compile(r"after\s+((?:\d+(?:\.\d+)?(?:h|ms|m|s))+)", re.I)


def parse_duration(text: str) -> float | None:
    """Seconds in a Go/protobuf duration: ``"3s"``, ``"1.5s"``, ``"1h2m3s"``, ``"250ms"``;
    None when ``text`` is not one or is negative."""
    try:
        seconds = times.duration_ns(text.strip()) / 1e9
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


# the longest wait a header may name: Go's longest Duration (about 292 years), past which
# CPA's parse of it gives no deadline; a longer or non-finite one ("inf", "1e400") is no hint
# (it made a deadline no clock or date can hold: a 500 for every client of the model)
_LONGEST = 9223372036.0


def retry_after_header(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` (seconds or an HTTP date), else ``retry-after-ms`` (milliseconds:
    OpenAI's and Azure OpenAI's, which the official SDKs read first; CPA reads only
    ``Retry-After``, so a 429 that names its wait only so cooled by back-off and reached the
    client with no ``Retry-After``)."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        ms = headers.get("retry-after-ms") or headers.get("Retry-After-Ms")
        number = _number(ms) if ms else None
        return None if number is None else _wait(number / 1000)
    number = _number(value)
    if number is not None:
        return _wait(number)
    try:
        when = parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return _wait(when - (time.time() if now is None else now))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _wait(seconds: float) -> float | None:
    """``seconds`` as a wait (0 at least), or None past :data:`_LONGEST` (and for inf)."""
    wait = max(0.0, seconds)  # (NaN: 0)
    return wait if wait <= _LONGEST else None


def google_retry_delay(body: Any) -> float | None:
    """RetryInfo.retryDelay, then ErrorInfo.metadata.quotaResetDelay, then "after Ns"."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, list) and err:  # some Google endpoints wrap the error in a list
        err = err[0].get("error") if isinstance(err[0], dict) else None
    if not isinstance(err, dict):
        return None
    details = err.get("details")
    if isinstance(details, list):
        for d in details:
            if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
                delay = d.get("retryDelay")
                if isinstance(delay, str) and (secs := parse_duration(delay)) is not None:
                    return secs
        for d in details:
            if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo"):
                meta = d.get("metadata")
                delay = meta.get("quotaResetDelay") if isinstance(meta, dict) else None
                if isinstance(delay, str) and (secs := parse_duration(delay)) is not None:
                    return secs
    message = err.get("message")
    if isinstance(message, str) and (m := _AFTER.search(message)):
        return parse_duration(m.group(1))
    return None


def codex_reset(body: Any, now: float | None = None) -> float | None:
    """Codex usage-limit errors: ``error.resets_at`` while it is ahead, else
    ``error.resets_in_seconds`` (CPA ``parseCodexRetryAfter``)."""
    return usage_reset(body, time.time() if now is None else now)
