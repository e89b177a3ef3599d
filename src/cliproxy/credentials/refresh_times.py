"""When an OAuth credential's own metadata asks to be refreshed: its refresh interval and
the time of its last refresh, in any of the spellings CPA reads (seconds, a Go duration
such as ``"1h30m"``, epoch seconds or milliseconds, RFC 3339 text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy import times

__all__ = ["duration", "last_refresh", "refresh_interval"]

_INTERVAL_KEYS = ("refresh_interval_seconds", "refreshIntervalSeconds", "refresh_interval", "refreshInterval")
_LAST_REFRESH_KEYS = ("last_refresh", "lastRefresh", "last_refreshed_at", "lastRefreshedAt")


def refresh_interval(metadata: Mapping[str, Any]) -> float:
    """``refresh_interval_seconds`` (or CPA's other spellings) in seconds; 0 when absent."""
    for key in _INTERVAL_KEYS:
        if key in metadata and (secs := duration(metadata[key])) > 0:
            return secs
    return 0.0


def last_refresh(metadata: Mapping[str, Any]) -> float:
    """The last refresh's time in epoch seconds; 0 when the metadata names none. Without
    a ``last_refresh`` (Antigravity's refresh writes none), the token's ``timestamp``: CPA
    counts from the refresh it made (``LastRefreshedAt``, in memory), which that records."""
    for key in (*_LAST_REFRESH_KEYS, "timestamp"):
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return value / 1000 if value > 1e12 else float(value)
        if isinstance(value, str) and value.strip() and key != "timestamp":
            try:
                return times.parse_timestamp(value, assume=None)  # no offset: local time
            except ValueError:
                continue
    return 0.0


def duration(value: Any) -> float:
    """Seconds from a number or a string: ``"90"``, ``"1.5"``, or a Go duration ``"1h30m"``."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return max(0.0, float(value))
    if not isinstance(value, str) or not value.strip():
        return 0.0
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, times.parse_duration(text))
    except ValueError:
        return 0.0
