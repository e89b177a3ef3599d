"""A model's running quota survives another failure of the same model (CPA's MarkResult
rewrites ``state.Quota`` only on a 429 or a Cloudflare page); an ended one, and any with
cooling off, is not carried. tests/e2e/test_cooldown_hunt_quota_kept.py shows it through a
running proxy."""

from __future__ import annotations

import pytest

from cliproxy.credentials.cooldown import CooldownInput, classify, next_record
from cliproxy.state.base import CooldownRecord

NOW = 1_800_000_000.0
HOUR = 3600.0


def quota(recover_at: float) -> CooldownRecord:
    return CooldownRecord(
        "c1",
        "m",
        "claude",
        next_retry_after=recover_at,
        reason="quota",
        quota_exceeded=True,
        quota_reason="quota",
        next_recover_at=recover_at,
        backoff_level=2,
    )


def fail(
    prev: CooldownRecord | None, status: int, *, disable: bool = False, body: str = "x"
) -> CooldownRecord:
    event = CooldownInput(status, classify(status, body), body, None, disable, 60.0)
    return next_record(prev, CooldownRecord("c1", "m", "claude"), event, NOW)


@pytest.mark.parametrize(("status", "own"), [(500, 60.0), (503, 60.0), (401, 1800.0), (403, 1800.0)])
def test_a_running_quota_outlives_another_failure(status, own):
    record = fail(quota(NOW + HOUR), status)
    assert record.until() == NOW + HOUR  # the later of the two, as CPA's availabilityBlock
    assert record.next_retry_after == NOW + own
    assert record.last_error is not None and record.last_error["http_status"] == status
    assert record.backoff_level == 2
    # the next 429 without a reset stays inside the same window: the ladder does not climb
    again = fail(record, 429)
    assert again.until() == NOW + HOUR and again.backoff_level == 2


def test_a_longer_own_cooldown_still_wins():
    record = fail(quota(NOW + 60.0), 404)  # 12 hours for a not_found
    assert record.until() == NOW + 12 * HOUR


def test_an_ended_quota_is_not_carried():
    record = fail(quota(NOW - 1.0), 500)
    assert not record.quota_exceeded and record.until() == NOW + 60.0


def test_cooling_off_carries_nothing():
    record = fail(quota(NOW + HOUR), 500, disable=True)
    assert not record.blocks(NOW)
