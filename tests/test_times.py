"""cliproxy.times: RFC 3339 formatting and parsing, and Go's duration grammar."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cliproxy.times import (
    GO_ZERO_TIME,
    duration_ns,
    format_datetime,
    format_local,
    format_utc,
    parse_duration,
    parse_rfc3339,
    parse_timestamp,
)

TS = 1_767_323_045.25  # 2026-01-02T03:04:05.25Z
WHOLE = 1_767_323_045.0


@pytest.fixture
def zone() -> Iterator[None]:
    """The process's local zone set to UTC+05:30 for the test (restored after)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "IST-05:30"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def utc_zone() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC0"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


# -- formatting


@pytest.mark.parametrize(
    ("ts", "timespec", "text"),
    [
        (TS, "seconds", "2026-01-02T03:04:05Z"),
        (TS, "milliseconds", "2026-01-02T03:04:05.250Z"),
        (TS, "microseconds", "2026-01-02T03:04:05.250000Z"),
        (TS, "auto", "2026-01-02T03:04:05.250000Z"),
        (WHOLE, "auto", "2026-01-02T03:04:05Z"),
        (WHOLE, "microseconds", "2026-01-02T03:04:05.000000Z"),
        (0, "seconds", "1970-01-01T00:00:00Z"),
    ],
)
def test_format_utc(ts: float, timespec: str, text: str) -> None:
    assert format_utc(ts, timespec) == text


def test_format_local_with_an_offset(zone: None) -> None:
    assert format_local(TS, "seconds") == "2026-01-02T08:34:05+05:30"
    assert format_local(TS, "seconds", z=True) == "2026-01-02T08:34:05+05:30"
    assert format_local(TS) == "2026-01-02T08:34:05.250000+05:30"
    assert format_local(WHOLE) == "2026-01-02T08:34:05+05:30"


def test_format_local_in_utc_keeps_python_or_go_spelling(utc_zone: None) -> None:
    assert format_local(TS, "seconds") == "2026-01-02T03:04:05+00:00"
    assert format_local(TS, "seconds", z=True) == "2026-01-02T03:04:05Z"


def test_format_datetime() -> None:
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"  # naive is UTC
    minus7 = timezone(timedelta(hours=-7))
    assert (
        format_datetime(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=minus7)) == "2026-01-02T03:04:05.000007-07:00"
    )
    assert format_datetime(datetime(2026, 1, 2, tzinfo=UTC), "milliseconds") == "2026-01-02T00:00:00.000Z"


# -- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", WHOLE),
        ("2026-01-02T03:04:05.25Z", TS),
        ("2026-01-02T03:04:05.250000000Z", TS),  # Go's RFC3339Nano
        ("2026-01-02T03:04:05.250000999Z", TS),  # beyond microseconds: cut, not rounded
        ("2026-01-02T08:34:05.25+05:30", TS),
        ("2026-01-01T20:04:05.25-07:00", TS),
        ("2026-01-02t03:04:05.25z", TS),  # RFC 3339 allows lower case
        ("2026-01-02 03:04:05.25Z", TS),  # and a space for T
        ("  2026-01-02T03:04:05.25Z\n", TS),
        ("2026-01-02T03:04:05.25", TS),  # no offset: UTC unless the caller says otherwise
    ],
)
def test_parse_timestamp(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected, abs=1e-6)
    assert parse_rfc3339(text).tzinfo is not None


def test_a_time_without_offset_can_stay_local(zone: None) -> None:
    naive = parse_rfc3339("2026-01-02T08:34:05", assume=None)
    assert naive.tzinfo is None
    assert naive.timestamp() == WHOLE  # local: UTC+05:30
    assert parse_timestamp("2026-01-02T08:34:05", assume=None) == WHOLE


def test_go_zero_time_parses() -> None:
    assert parse_rfc3339(GO_ZERO_TIME) == datetime(1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "soon", "2026-13-01T00:00:00Z", "2026-01-02T25:00:00Z", "1767323045"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_round_trip() -> None:
    for ts in (0.0, WHOLE, TS, 1_700_000_000.123456):
        assert parse_timestamp(format_utc(ts, "microseconds")) == pytest.approx(ts, abs=1e-6)


# -- Go durations: the examples and cases of Go's time.ParseDuration tests


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("5s", 5_000_000_000),
        ("30s", 30_000_000_000),
        ("1478s", 1_478_000_000_000),
        ("-5s", -5_000_000_000),
        ("+5s", 5_000_000_000),
        ("-0", 0),
        ("+0", 0),
        ("5.0s", 5_000_000_000),
        ("5.6s", 5_600_000_000),
        ("5.s", 5_000_000_000),
        (".5s", 500_000_000),
        ("1.0s", 1_000_000_000),
        ("1.00s", 1_000_000_000),
        ("1.004s", 1_004_000_000),
        ("1.0040s", 1_004_000_000),
        ("100.00100s", 100_001_000_000),
        ("10ns", 10),
        ("11us", 11_000),
        ("12µs", 12_000),  # U+00B5
        ("12μs", 12_000),  # U+03BC
        ("13ms", 13_000_000),
        ("14s", 14_000_000_000),
        ("15m", 900_000_000_000),
        ("16h", 57_600_000_000_000),
        ("3h30m", 12_600_000_000_000),
        ("10.5s4m", 250_500_000_000),
        ("-2m3.4s", -123_400_000_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
        ("39h9m14.425s", 140_954_425_000_000),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 1_200_000_000_000),
        ("9007199254740993ns", 9_007_199_254_740_993),  # exact beyond a float's 2**53
        ("9223372036854775807ns", (1 << 63) - 1),
        ("-9223372036854775808ns", -(1 << 63)),
        ("0.100000000000000000000h", 360_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("300ms", 300_000_000),
    ],
)
def test_go_parse_duration_cases(text: str, ns: int) -> None:
    assert duration_ns(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3",
        "-",
        "s",
        ".",
        "-.",
        ".s",
        "+.s",
        "1d",
        "1h 2m",
        " 1s",
        "1.5.3s",
        "1e3s",
        "9223372036854775808ns",
        "-9223372036854775809ns",
        "3000000h",
    ],
)
def test_go_parse_duration_errors(text: str) -> None:
    with pytest.raises(ValueError):
        duration_ns(text)


def test_parse_duration_in_seconds() -> None:
    assert parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration("250ms") == 0.25
    assert parse_duration(3_000_000_000) == 3.0  # a bare number: Go's nanoseconds
    assert parse_duration(90, number_unit=1.0) == 90.0  # or the caller's unit
    with pytest.raises(ValueError):
        parse_duration(True)


# -- the callers: one parser, so each takes every RFC 3339 spelling and Go duration


def test_callers_read_lower_case_rfc3339() -> None:
    """RFC 3339 (5.6) allows ``t`` and ``z``; the old copies each refused them."""
    from cliproxy.credentials.persist import parse_time
    from cliproxy.credentials.record import Credential
    from cliproxy.plugins.types.wire import _time_in

    text = "2026-01-02t03:04:05.25z"
    assert parse_time(text) == pytest.approx(TS)
    cred = Credential(id="a.json", provider="claude", metadata={"expired": text})
    assert cred.expires_at() == datetime(2026, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC)
    assert _time_in(text) == datetime(2026, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC)


def test_retry_hints_take_every_go_duration() -> None:
    from cliproxy.providers.retry import parse_duration as retry_delay

    assert retry_delay("1.5h") == 5400.0
    assert retry_delay("300us") == pytest.approx(0.0003)  # the old copy knew h, m, s, ms only
    assert retry_delay("2s1h") == 3602.0  # and only in that order
    assert retry_delay("-1s") is None and retry_delay("soon") is None and retry_delay("") is None
