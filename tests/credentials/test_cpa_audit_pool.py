"""Credential-manager facts from CPA's Go tests (sdk/cliproxy/auth/) that no other test of
ours pinned, through the real Pool and auth-file loader: retry windows of disabled
credentials, session bindings that moved to another credential, a pool that gains a
credential while its only one cools, and a credential's own request-retry in its file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.files import load_auth_dir
from cliproxy.credentials.pool import Pool
from cliproxy.errors import CooldownError
from cliproxy.state.memory import MemoryState

from .conftest import cred


def affinity_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, session_affinity=True, affinity_ttl=3600, **kw)
    pool.replace(creds)
    return pool


def test_a_disabled_credentials_request_retry_adds_no_round(clock):
    """CPA: TestManager_ShouldRetryAfterError_IgnoresDisabledRetryOverride. Global
    request-retry 0; a disabled credential with its own request-retry 2 takes part in no
    round, so the request's windows are the active credential's 0 alone."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    pool.replace(
        [cred("active", "codex", request_retry=0), cred("disabled", "codex", disabled=True, request_retry=2)]
    )
    assert pool.retry_windows("gpt-5", ["codex"], None, 0) == {"active": 0}


async def test_a_mixed_pool_failure_moves_the_session_to_the_credential_that_served(clock):
    """CPA: TestManagerSessionAffinityMixedPoolNilMetadataPropagatesFailureCleanup. Two
    providers serve the model, cooling is off; the session's first credential fails (500),
    the request fails over to the other, and the session's next request goes straight to
    that one: the failure released the binding under the mixed namespace, the failover
    bound the new credential."""
    providers = ["p1", "p2"]
    pool = affinity_pool(
        clock, [cred("auth-1", "p1", disable_cooling=True), cred("auth-2", "p2", disable_cooling=True)]
    )
    sk = "header:sess-mixed-1"
    first = await pool.pick("test-model", providers, session_key=sk)
    assert first.id == "auth-1"
    await pool.mark_failure(first, "test-model", 500, session_key=sk, providers=providers)
    served = await pool.pick("test-model", providers, tried={first.id}, session_key=sk)
    assert served.id == "auth-2"
    await pool.mark_success(served, "test-model")
    assert [(await pool.pick("test-model", providers, session_key=sk)).id for _ in range(3)] == ["auth-2"] * 3


async def test_a_stale_failure_or_success_leaves_a_rebound_session_alone(clock):
    """CPA: TestSessionAffinityAtomicCompareAndDeleteProtectsReboundSession,
    TestSessionAffinityDelayedSuccessDoesNotOverwriteReboundAuth and
    TestSessionAffinityOnResultWithMismatchedNamespaceFailsToUnbind. A session bound to A
    moves to B (A cooled); a late failure of A, or a late success of A, of that session
    does not take the session from B. B's own failure, reported with the request's
    providers (the mixed namespace it was bound under), releases it."""
    providers = ["p1", "p2"]
    pool = affinity_pool(clock, [cred("auth-a", "p1"), cred("auth-b", "p2")])
    sk = "header:sess-rebound"
    a = await pool.pick("model-x", providers, session_key=sk)
    assert a.id == "auth-a"
    await pool.mark_failure(a, "model-x", 429, retry_after=1, session_key=sk, providers=providers)
    b = await pool.pick("model-x", providers, session_key=sk)
    assert b.id == "auth-b"
    clock.advance(2)  # A is free again: only the binding keeps the session on B
    key = f"mixed::{sk}::model-x"
    assert await pool.state.get_binding(key, 3600) == "auth-b"
    await pool.mark_failure(a, "model-x", 500, session_key=sk, providers=providers)
    await pool.mark_success(a, "model-x")
    assert await pool.state.get_binding(key, 3600) == "auth-b"
    assert (await pool.pick("model-x", providers, session_key=sk)).id == "auth-b"
    await pool.mark_failure(b, "model-x", 429, retry_after=1, session_key=sk, providers=providers)
    assert await pool.state.get_binding(key, 3600) is None


async def test_a_credential_added_while_the_only_one_cools_is_picked(clock):
    """CPA: TestManager_PickNext_RebuildsSchedulerAfterModelCooldownError. The pool's only
    credential for a model cools (429); a credential added afterwards (a new auth file) is
    picked at once instead of the cooldown error."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    old = cred("cooldown-stale-old", "gemini")
    pool.replace([old])
    await pool.mark_failure(old, "rebuild-model", 429, body="quota")
    with pytest.raises(CooldownError):
        await pool.pick("rebuild-model", ["gemini"])
    pool.replace([old, cred("cooldown-stale-new", "gemini")])
    assert (await pool.pick("rebuild-model", ["gemini"])).id == "cooldown-stale-new"


@pytest.mark.parametrize(
    ("fields", "want"),
    [
        ({}, None),
        ({"request_retry": 0}, 0),
        ({"request_retry": 3}, 3),
        ({"request_retry": -1}, None),
        ({"request-retry": 2}, 2),
        ({"request-retry": -2}, None),
        ({"request_retry": 0, "request-retry": 2}, 0),
        ({"request_retry": "0"}, 0),
    ],
)
def test_request_retry_of_an_auth_file(tmp_path: Path, fields, want):
    """CPA: TestRequestRetryOverride. An auth file's request_retry (or the older
    request-retry spelling, the canonical one winning) is its own retry window: 0 counts,
    a number in a string counts, a negative one is no override."""
    (tmp_path / "codex.json").write_bytes(orjson.dumps({"type": "codex", "email": "a@b.c", **fields}))
    (loaded,) = load_auth_dir(tmp_path)
    assert loaded.request_retry == want
