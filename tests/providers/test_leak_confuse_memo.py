"""codex.identity-confuse does not keep a client's long values.

With ``codex: identity-confuse: true`` every prompt_cache_key, installation id and turn
id is replaced by a per-credential UUID, memoised per value (8,192 values). The memo
kept each value it was given, so distinct long prompt_cache_keys (a client's, of any
size) stayed in memory 8,192 at a time; long values are now hashed each time.
"""

from __future__ import annotations

import gc
import tracemalloc

from cliproxy.providers.identity import confuse_uuid

SIZE = 64 * 1024
COUNT = 300  # 18.75 MiB of distinct values


def test_long_values_are_not_kept() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for n in range(COUNT):
            value = f"{n:08d}" + "k" * SIZE
            first = confuse_uuid("cred-1", "prompt-cache", value)
            assert confuse_uuid("cred-1", "prompt-cache", value) == first
            del value, first
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert kept < 2 << 20, f"{kept / 2**20:.1f} MiB of {COUNT * SIZE / 2**20:.1f} MiB of values kept"
    assert confuse_uuid("cred-1", "prompt-cache", "k") != confuse_uuid("cred-2", "prompt-cache", "k")
