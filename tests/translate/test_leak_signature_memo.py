"""The signature memos do not keep a client's long strings without bound.

Recognising a signature is memoised per string (a Claude Code history resends every
signature each turn), and a memo keeps the string it is keyed by. The lru caches were
bounded in entries only (8,192 for ``detect`` and ``decide``, 4,096 for
``is_grok_signature``), so distinct signatures of 64 KiB each stayed in memory 500 MB
at a time, and a client sending larger ones could hold gigabytes. Long strings now go to
a memo bounded in characters (``LONG_MEMO_CHARS``); short ones keep the lru caches.
"""

from __future__ import annotations

import gc
import tracemalloc

from cliproxy.translate import signatures
from cliproxy.translate.signatures import decide, detect, is_grok_signature

SIZE = 64 * 1024
COUNT = 600  # 37.5 MiB of distinct strings, more than twice the long memo's bound


def test_distinct_long_signatures_are_not_all_kept() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for n in range(COUNT):
            sig = f"{n:08d}" + "x" * SIZE  # no envelope: recognised (as nobody's) at once
            assert detect(sig) == "unknown"
            assert decide("claude", sig).action == "drop_block"
            if n % 20 == 0:  # (its shape test is slow on 64 KiB: a few are enough)
                is_grok_signature(sig)
            del sig
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert kept < 24 << 20, f"{kept / 2**20:.1f} MiB of {COUNT * SIZE / 2**20:.1f} MiB of signatures kept"


def test_a_long_signature_is_still_recognised_once() -> None:
    sig = "gAAAAA" + "B" * (2 * SIZE)
    assert detect(sig) == detect(sig) and is_grok_signature(sig) == is_grok_signature(sig)
    held = signatures._LONG._data
    assert ("detect", sig, "unknown") in held and ("grok", sig) in held
    assert signatures._LONG.chars <= signatures.LONG_MEMO_CHARS
