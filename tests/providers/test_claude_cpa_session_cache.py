"""The per-API-key Claude session id against CPA's
internal/runtime/executor/helps/session_id_cache_test.go (``CachedSessionIDRequired``).
CPA's Home KV is cliproxy's shared state backend (:mod:`cliproxy.providers.claude_shared`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cliproxy.providers import claude_identity as ident
from cliproxy.providers.claude_shared import SharedKeyIds

pytest.importorskip("cliproxy.state.redis")


def test_without_a_shared_backend_the_session_id_is_kept_per_key() -> None:
    """CPA: TestCachedSessionIDRequiredNonHomeModeUsesLocalMap."""
    key = f"sk-local-{uuid.uuid4()}"
    first = ident.key_session(key)
    assert uuid.UUID(first) and ident.key_session(key) == first
    assert ident.key_session(key + "-other") != first


async def test_an_empty_key_never_asks_the_shared_backend(redis_states) -> None:
    """CPA: TestCachedSessionIDRequiredEmptyAPIKeyDoesNotUseHomeKV."""
    shared = SharedKeyIds(await redis_states("e:"))
    assert shared.due("", user=True) is None


async def test_a_shared_backend_outage_keeps_this_process_ids(redis_server, redis_states) -> None:
    """CPA: TestCachedSessionIDRequiredHomeKVFailures and
    TestCachedSessionIDRequiredHomeRequiresReadAfterSet. A difference: CPA fails the request
    when the KV read, write or expiry fails (or a write is not read back); cliproxy sends
    the request with this process's own ids and agrees with the other workers once the
    backend answers again, so an outage of the shared state never fails a Claude request."""
    key = f"sk-ant-api03-{uuid.uuid4()}"
    shared = SharedKeyIds(await redis_states("f:"))
    mine = ident.key_ids(key, user=True)
    redis_server.kill()
    pending = shared.due(key, user=True)
    if pending is not None:
        assert await asyncio.wait_for(pending, 15) == {}
    assert ident.key_ids(key, user=True) == mine
