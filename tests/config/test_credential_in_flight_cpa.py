"""CPA's ``credential-in-flight`` validation (internal/config/credential_in_flight_test.go).
The section only configures CPA's Home observation snapshots: cliproxy parses and
validates it as CPA does and names it in the start-up warning of keys not yet effective."""

from __future__ import annotations

import pytest

from cliproxy.config import Config, ConfigDocument
from cliproxy.errors import ConfigError

MAX_DURATION = "2562047h47m16.854775807s"  # Go's time.Duration(math.MaxInt64).String()
HALF_MAX = "1281023h53m38.427387903s"


def parse(text: str) -> Config:
    return ConfigDocument.from_text(text).config


@pytest.mark.parametrize("text", ["", "  \n\n \n"])
def test_an_empty_config_has_the_default_section(text: str) -> None:
    """CPA: TestLoadConfigOptionalEmptyFallbackAppliesCredentialInFlightDefaults and
    TestLoadConfigOptionalWhitespaceFallbackAppliesCredentialInFlightDefaults: an empty or
    blank file gives the default section, which is valid, and leaves other defaults alone.
    (CPA's optional load, for its cloud deploy mode, also takes a file of tabs and carriage
    returns or invalid YAML as empty; cliproxy has no such mode and refuses such a file
    with the line at fault, tests/config/test_model.py.)"""
    got = parse(text)
    want = parse("credential-in-flight: {}\n")
    assert got.credential_in_flight == want.credential_in_flight
    section = got.credential_in_flight
    assert (section.snapshot_interval, section.stale_after, section.staging_retention) == ("2s", "10s", "1m")
    assert got.error_logs_max_files == parse("").error_logs_max_files


@pytest.mark.parametrize(
    ("every", "stale", "valid"),
    [("1s", "3s", True), ("1s", "2999999999ns", False), (HALF_MAX, MAX_DURATION, False)],
    ids=["exact-three-intervals", "below-three-intervals", "near-duration-maximum"],
)
def test_stale_after_must_cover_three_snapshots(every: str, stale: str, valid: bool) -> None:
    """CPA: TestCredentialInFlightConfigDurationBounds."""
    text = f"credential-in-flight:\n  snapshot-interval: {every}\n  stale-after: {stale}\n"
    if valid:
        assert parse(text).credential_in_flight.stale_after == stale
        return
    with pytest.raises(ConfigError, match="credential-in-flight"):
        parse(text)


@pytest.mark.parametrize(
    "line",
    ["stale-after: 5s", f"max-revision-bytes: {16 * 1024 * 1024 + 1}", f"max-part-bytes: {2**63 - 1}"],
    ids=["stale-after", "revision-hard-bound", "part-bytes-overflow"],
)
def test_unsafe_bounds_are_refused(line: str) -> None:
    """CPA: TestCredentialInFlightConfigRejectsUnsafeBounds."""
    with pytest.raises(ConfigError, match="credential-in-flight"):
        parse(f"credential-in-flight:\n  {line}\n")
