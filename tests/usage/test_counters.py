"""The recent-requests ring and the counters (pure unit tests of ``cliproxy.usage.counters``)."""

from __future__ import annotations

import random
from datetime import datetime

from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, FOLD, Counter, UsageCounters

NOW = 1_700_000_000.0
TOKENS = (100, 30, 40, 5, 12, 130)


def test_empty_snapshot_has_twenty_labelled_buckets():
    """CPA ``sdk/cliproxy/auth/types_test.go`` ``TestRecentRequestsSnapshotEmptyReturnsTwentyBuckets``."""
    got = Counter().recent(NOW)
    assert len(got) == BUCKETS == 20
    base = int(NOW) // BUCKET_SECONDS - (BUCKETS - 1)
    for i, bucket in enumerate(got):
        start = datetime.fromtimestamp((base + i) * BUCKET_SECONDS)
        end = datetime.fromtimestamp((base + i + 1) * BUCKET_SECONDS)
        assert bucket == {"time": f"{start:%H:%M}-{end:%H:%M}", "success": 0, "failed": 0}


def test_snapshot_includes_counts():
    """CPA ``TestRecentRequestsSnapshotIncludesCounts``."""
    c = Counter()
    c.add(True, NOW)
    c.add(False, NOW)
    newest = c.recent(NOW)[-1]
    assert (newest["success"], newest["failed"]) == (1, 1)


def test_bucket_advance_moves_counts():
    """CPA ``TestRecentRequestsSnapshotBucketAdvanceMovesCounts``."""
    later = NOW + 600
    c = Counter()
    c.add(True, NOW)
    c.add(False, later)
    got = c.recent(later)
    assert (got[-2]["success"], got[-2]["failed"]) == (1, 0)
    assert (got[-1]["success"], got[-1]["failed"]) == (0, 1)


def test_a_slot_reused_after_the_window_starts_empty():
    c = Counter()
    c.add(True, NOW)
    later = NOW + BUCKETS * BUCKET_SECONDS  # the same slot, twenty buckets on
    c.add(False, later)
    got = c.recent(later)
    assert sum(b["success"] for b in got) == 0 and got[-1]["failed"] == 1
    assert (c.success, c.failed) == (1, 1)  # the totals keep everything


def test_failover_counts_each_attempt_on_its_credential():
    """CPA ``MarkResult`` counts every attempt: the earlier ones failed, the last one carries
    the request's outcome and its tokens (``internal/api/handlers/management/
    api_key_usage_test.go`` ``TestGetAPIKeyUsage_GroupsByProviderAndAPIKey``: 1/1 and 1/0)."""
    counters = UsageCounters()
    counters.record(NOW, "key-a", "codex", (), True, TOKENS)
    counters.record(NOW, "key-a", "codex", (), False, (0, 0, 0, 0, 0, 0))
    counters.record(NOW, "key-b", "claude", ("codex",), True, TOKENS)
    codex, claude = counters.by_auth["codex"], counters.by_auth["claude"]
    assert (codex.success, codex.failed, claude.success, claude.failed) == (1, 2, 1, 0)
    assert claude.entry(NOW)["total_tokens"] == 130 and codex.entry(NOW)["cached_tokens"] == 40
    assert claude.entry(NOW)["cache_creation_tokens"] == 5 and claude.entry(NOW)["reasoning_tokens"] == 12
    a, b = counters.by_key["key-a"], counters.by_key["key-b"]
    assert (a.success, a.failed, b.success, b.failed) == (1, 1, 1, 0)
    assert sum(x["failed"] for x in codex.recent(NOW)) == 2


def _reference(
    records: list[tuple[float, str, str, tuple[str, ...], bool, tuple[int, ...]]],
) -> UsageCounters:
    """The same requests counted one at a time, each at once (``Counter.add`` / ``add_tokens``)."""
    ref = UsageCounters()
    for ts, key, auth, failed, ok, tokens in records:
        for index in failed:
            ref.auth(index).add(False, ts)
        for c in (ref.key(key), *([ref.auth(auth)] if auth else [])):
            c.add(ok, ts)
            c.add_tokens(tokens)
    return ref


def test_noted_requests_count_as_if_each_was_added_at_once():
    # requests are noted and folded in batches (a read, or FOLD notes on a counter): the
    # totals and the ring must be those of adding each request as it finished, across
    # buckets, a clock that steps back, a jump past the whole ring and failovers
    rng = random.Random(7)
    records = []
    ts = NOW
    for i in range(3 * FOLD + 17):
        ts += rng.choice((0.01, 0.5, 3.0, BUCKET_SECONDS / 3, -BUCKET_SECONDS / 2))
        if i == FOLD + 5:
            ts += BUCKETS * BUCKET_SECONDS  # the same slots, a whole ring later
        failed = tuple(rng.sample(["c1", "c2", "c3"], rng.choice((0, 0, 0, 1, 2))))
        tokens = tuple(rng.randrange(0, 5000) for _ in range(6))
        records.append(
            (
                ts,
                rng.choice(("k1", "k2")),
                rng.choice(("c1", "c2", "c4", "")),
                failed,
                rng.random() < 0.8,
                tokens,
            )
        )
    got = UsageCounters()
    for n, (when, key, auth, failed, ok, tokens) in enumerate(records):
        got.record(when, key, auth, failed, ok, tokens)
        if n == 100:  # a read in between folds what was noted so far
            assert got.by_key["k1"].pending == []
    ref = _reference(records)
    now = ts
    for table in ("by_auth", "by_key"):
        mine, theirs = getattr(got, table), getattr(ref, table)
        assert sorted(mine) == sorted(theirs)
        for name, c in theirs.items():
            assert mine[name].entry(now) == c.entry(now), (table, name)
            assert (mine[name].success, mine[name].failed) == (c.success, c.failed)


def test_a_counter_nobody_reads_holds_fewer_than_fold_notes():
    counters = UsageCounters()
    for i in range(5 * FOLD + 3):
        counters.record(NOW + i, "key", "cred", ("other",), True, TOKENS)
    held = [c.pending for c in (*counters._by_auth.values(), *counters._by_key.values())]
    assert held and all(len(notes) < FOLD for notes in held)
    cred = counters.by_auth["cred"]
    assert (cred.success, cred.input_tokens) == (5 * FOLD + 3, 100 * (5 * FOLD + 3))
    assert counters.by_auth["other"].failed == 5 * FOLD + 3


def test_a_read_walks_the_counters_only_after_new_notes():
    # the panel reads by_auth once per credential: with nothing noted since the last read,
    # a read must not walk every counter again (a pool of hundreds of credentials)
    class Walked(dict):
        walks = 0

        def values(self):  # the walk of UsageCounters.fold
            Walked.walks += 1
            return super().values()

    counters = UsageCounters()
    counters._by_auth, counters._by_key = Walked(), Walked()
    for i in range(300):
        counters.record(NOW, "key", f"cred-{i}", (), True, TOKENS)
    assert counters.by_auth["cred-7"].success == 1 and Walked.walks == 2
    for _ in range(5):
        counters.by_auth.get("cred-7")
        counters.by_key.get("key")
    assert Walked.walks == 2
    counters.record(NOW, "key", "cred-7", (), False, TOKENS)
    assert counters.by_auth["cred-7"].failed == 1 and Walked.walks == 4
