"""Sections CPA uses only in distributed "Home" mode; parsed and kept, ignored locally."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from ._base import ConfigModel
from .durations import parse_duration

__all__ = ["CredentialConcurrencyConfig", "CredentialInFlightConfig"]


def _seconds(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class CredentialConcurrencyConfig(ConfigModel):
    """``credential-concurrency`` (durations in seconds; Go duration text or nanoseconds in YAML)."""

    lifecycle_config_revision: int = 0
    observation_barrier_revision: int = 0
    cpa_heartbeat_timeout: Seconds = 3.0
    cpa_cancel_bound: Seconds = 5.0
    reclaim_grace: Seconds = 5.0
    cleanup_interval: Seconds = 5.0
    release_flush_interval: Seconds = 0.25
    release_max_backoff: Seconds = 2.0
    busy_retry_min: Seconds = 0.25
    busy_retry_max: Seconds = 1.0
    max_limit: int = 1_000_000


_MAX_PART_COUNT = 64
_MAX_REVISION_BYTES = 16 * 1024 * 1024
_MAX_GROUPS = 100_000
_MAX_DETAILS = 10_000
_MAX_STRING_BYTES = 256


class CredentialInFlightConfig(ConfigModel):
    """``credential-in-flight``: observation snapshot bounds, validated as CPA does."""

    snapshot_interval: str = "2s"
    stale_after: str = "10s"
    max_part_bytes: int = 256 * 1024
    max_part_count: int = _MAX_PART_COUNT
    max_revision_bytes: int = _MAX_REVISION_BYTES
    max_aggregate_groups: int = _MAX_GROUPS
    max_details: int = _MAX_DETAILS
    max_string_bytes: int = _MAX_STRING_BYTES
    staging_retention: str = "1m"

    @model_validator(mode="after")
    def _validate(self) -> CredentialInFlightConfig:
        self._check_durations()
        if self.max_part_bytes < 1024 or not 0 < self.max_part_count <= _MAX_PART_COUNT:
            raise ValueError("part bounds are invalid")
        if not self.max_part_bytes <= self.max_revision_bytes <= _MAX_REVISION_BYTES:
            raise ValueError("max-revision-bytes is outside hard bounds")
        if -(-self.max_revision_bytes // self.max_part_bytes) > self.max_part_count:
            raise ValueError("max-revision-bytes exceeds part capacity")
        if not 0 < self.max_aggregate_groups <= _MAX_GROUPS:
            raise ValueError("max-aggregate-groups is invalid")
        if not 0 <= self.max_details <= _MAX_DETAILS:
            raise ValueError("max-details is invalid")
        if not 0 < self.max_string_bytes <= _MAX_STRING_BYTES:
            raise ValueError("max-string-bytes is invalid")
        return self

    def _check_durations(self) -> None:
        snapshot = _positive(self.snapshot_interval, "snapshot-interval must be positive")
        stale = _positive(self.stale_after, "stale-after must be at least three snapshot intervals")
        if snapshot > stale / 3:
            raise ValueError("stale-after must be at least three snapshot intervals")
        _positive(self.staging_retention, "staging-retention must be positive")


def _positive(text: str, message: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(message) from None
    if seconds <= 0:
        raise ValueError(message)
    return seconds
