""":mod:`cliproxy.providers.claude_shared` on a real Redis: what a process adopts, and
how rarely it asks (the workers' side is tests/e2e/test_claude_workers_key_ids.py)."""

from __future__ import annotations

import hashlib
import time
import uuid

import orjson
import pytest

from cliproxy.providers import claude_identity as ident
from cliproxy.providers.claude_shared import RECHECK, SharedKeyIds

pytest.importorskip("cliproxy.state.redis")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_process_takes_the_ids_another_set_first_and_rechecks_once_a_minute(redis_states) -> None:
    """The first process's ids are kept; a second one holding others of its own (or none:
    its cache reset) adopts them, and asks Redis again only after RECHECK.

    CPA: TestCachedUserIDRequiredHomeReusesKVAcrossLocalCacheReset,
    TestCachedSessionIDRequiredHomeReusesKVAcrossLocalCacheReset"""
    key = f"sk-ant-api03-{uuid.uuid4()}"
    clock = Clock()
    first = SharedKeyIds(await redis_states("u:"), clock)
    second = SharedKeyIds(await redis_states("u:"), clock)
    pending = first.due(key, user=True)
    assert pending is not None and await pending == {}
    session, user = ident.key_ids(key, user=True)
    digest = hashlib.sha256(key.encode()).hexdigest()
    ident._SESSIONS[digest] = (str(uuid.uuid4()), time.monotonic() + 3600)  # the second's own
    ident._FAKE.pop(digest, None)  # and no user id at all
    assert first.due(key, user=True) is None  # read a moment ago
    pending = second.due(key, user=True)
    assert pending is not None
    await pending
    assert ident.key_ids(key, user=True) == (session, user)
    assert orjson.loads(user)["session_id"] == session
    assert second.due(key, user=True) is None
    clock.now += RECHECK + 1
    pending = second.due(key, user=True)
    assert pending is not None
    await pending
