"""Times and durations as CPA writes them: RFC 3339 timestamps and Go duration strings.

One place for both, so every module formats and parses them the same way:

- :func:`format_utc`, :func:`format_local`, :func:`format_datetime` write RFC 3339 with a
  chosen precision (``timespec`` as in :meth:`datetime.isoformat`: ``"seconds"``,
  ``"milliseconds"``, ``"microseconds"``, or ``"auto"``: a fraction only when there is one);
- :func:`parse_rfc3339` / :func:`parse_timestamp` read any RFC 3339 time (``Z`` or an
  offset, ``t``/``z`` in lower case, a space for ``T``, Go's nanosecond fractions cut to
  microseconds) into an aware datetime or epoch seconds;
- :func:`duration_ns` / :func:`parse_duration` read Go's ``time.ParseDuration`` grammar
  (``"300ms"``, ``"-1.5h"``, ``"2h45m"``, ``"0"``; units ns, us, µs, ms, s, m, h).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

__all__ = [
    "GO_ZERO_TIME",
    "duration_ns",
    "format_datetime",
    "format_local",
    "format_utc",
    "parse_duration",
    "parse_rfc3339",
    "parse_timestamp",
]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # how Go writes a zero time.Time

# -- RFC 3339


def format_datetime(when: datetime, timespec: str = "auto") -> str:
    """``when`` in RFC 3339 with its own offset, ``Z`` for UTC; a naive time is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    text = when.isoformat(timespec=timespec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_utc(ts: float, timespec: str = "auto") -> str:
    """Epoch seconds ``ts`` as RFC 3339 in UTC with ``Z``: ``2026-01-02T03:04:05Z``."""
    return format_datetime(datetime.fromtimestamp(ts, UTC), timespec)


def format_local(ts: float, timespec: str = "auto", *, z: bool = False) -> str:
    """Epoch seconds ``ts`` in the local zone with its offset: ``2026-01-02T04:04:05+01:00``.

    ``z``: a zero offset is written ``Z`` (Go's ``time.RFC3339`` layout); otherwise it stays
    ``+00:00``, as the management auth-file list and the request logs have always printed it."""
    when = datetime.fromtimestamp(ts, UTC).astimezone()
    return format_datetime(when, timespec) if z else when.isoformat(timespec=timespec)


def parse_rfc3339(text: str, *, assume: tzinfo | None = UTC) -> datetime:
    """An RFC 3339 time (ISO 8601 forms ``datetime.fromisoformat`` knows are taken too).

    A time without an offset gets ``assume`` (``None``: it stays naive, i.e. local for
    :meth:`datetime.timestamp`). Raises ``ValueError``."""
    when = datetime.fromisoformat(text.strip().upper())
    if when.tzinfo is None and assume is not None:
        when = when.replace(tzinfo=assume)
    return when


def parse_timestamp(text: str, *, assume: tzinfo | None = UTC) -> float:
    """Epoch seconds of an RFC 3339 time (see :func:`parse_rfc3339`). Raises ``ValueError``."""
    return parse_rfc3339(text, assume=assume).timestamp()


# -- Go durations

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)?")
_MAX_NS = (1 << 63) - 1  # Go's time.Duration is an int64 of nanoseconds


def duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration``: the duration in whole nanoseconds. Raises ``ValueError``.

    A sign may lead; then one or more ``<number><unit>`` (``1h2m3.5s``); ``"0"`` alone needs
    no unit. Fractions are rounded as Go rounds them (one float multiply, cut to an int)."""
    body = text
    negative = body[:1] == "-"
    if body[:1] in ("-", "+"):
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total, pos = 0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        assert match is not None  # every group is optional
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            raise ValueError(f"invalid duration {text!r}")
        if unit is None:
            raise ValueError(f"missing unit in duration {text!r}")
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += _fraction_ns(fraction, scale)
        if total > _MAX_NS + negative:
            raise ValueError(f"invalid duration {text!r}: out of range")
        pos = match.end()
    return -total if negative else total


def _fraction_ns(digits: str, unit: int) -> int:
    """Go's leadingFraction: digits past int64 are dropped, then one float multiply."""
    value, scale = 0, 1.0
    for digit in digits:
        if value > _MAX_NS // 10 or value * 10 + int(digit) > _MAX_NS:
            break
        value, scale = value * 10 + int(digit), scale * 10
    return int(float(value) * (float(unit) / scale))


def parse_duration(value: str | int | float, *, number_unit: float = 1e-9) -> float:
    """Seconds in a Go duration string; a number is counted in ``number_unit`` seconds
    (Go's nanoseconds unless a caller says otherwise). Raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        return float(value) * number_unit
    return duration_ns(value) / 1e9
