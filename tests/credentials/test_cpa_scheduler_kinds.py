"""CPA's SelectAuthByKind, credential-policy and scheduler-state cases
(sdk/cliproxy/auth/scheduler_test.go) on the pool. CPA filters the candidates by kind (a Codex sign-in for Realtime, the
``codex_alpha_search_v1`` policy for Alpha Search) before its selector and any scheduler
plugin see them; here the same filter is the ``supports`` function the caller passes to
``Pool.pick`` (``cliproxy.realtime`` passes a sign-ins-only one)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.credentials.sources import load_auth_dir
from cliproxy.providers.codex_search import serves_search
from cliproxy.state.memory import MemoryState

from .conftest import cred


def signed_in(c: Credential, model: str) -> bool:
    return c.kind == KIND_OAUTH


def searches(c: Credential, model: str) -> bool:
    return serves_search(c)


def codex(cid: str, *, oauth: bool, **kw: Any) -> Credential:
    if oauth:
        return cred(cid, "codex", kind=KIND_OAUTH, metadata={"access_token": f"token-{cid}"}, **kw)
    return cred(cid, "codex", api_key=f"key-{cid}", **kw)


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


async def test_round_robin_rotates_over_the_eligible_kind(clock) -> None:
    """TestManagerSelectAuthByKindRoundRobinKeepsEligibleRotation: six sign-in-only picks
    among an API key and two sign-ins go 3:3 to the sign-ins."""
    pool = make_pool(
        clock, [codex("api-key", oauth=False), codex("oauth-a", oauth=True), codex("oauth-b", oauth=True)]
    )
    seen = Counter([(await pool.pick("", ["codex"], supports=signed_in)).id for _ in range(6)])
    assert seen == {"oauth-a": 3, "oauth-b": 3}


async def test_weighted_round_robin_ignores_an_ineligible_weight(clock) -> None:
    """TestManagerSelectAuthByKindWeightedRoundRobinIgnoresIneligibleAPIKeyWeight: an API key
    of weight 100 beside sign-ins of weight 5 and 1 takes none of 600 sign-in-only picks,
    and the sign-ins share them exactly 500:100."""
    creds = [
        codex("api-high", oauth=False, weight=100),
        codex("oauth-heavy", oauth=True, weight=5),
        codex("oauth-light", oauth=True, weight=1),
    ]
    pool = make_pool(clock, creds, strategy="weighted-round-robin")
    seen = Counter([(await pool.pick("", ["codex"], supports=signed_in)).id for _ in range(600)])
    assert seen == {"oauth-heavy": 500, "oauth-light": 100}


async def test_a_scheduler_plugin_sees_only_eligible_candidates(clock) -> None:
    """TestManagerSelectAuthByKindSkipsAPIKey and
    TestManagerCodexAlphaSearchPolicyFiltersBeforePluginScheduler: a scheduler plugin is shown
    only the credentials the kind (or the search policy) allows, so it cannot name the API
    key it was not shown; an ordinary API key is filtered out of a search while one that
    opted in with alpha-search stays."""
    shown: list[list[str]] = []

    async def scheduler(candidates: Any) -> Any:
        shown.append([c.id for c in candidates])
        return candidates[0]

    pool = make_pool(clock, [codex("codex-api-key", oauth=False), codex("codex-oauth", oauth=True)])
    picked = await pool.pick("", ["codex"], supports=signed_in, scheduler=scheduler)
    assert picked.id == "codex-oauth" and shown == [["codex-oauth"]]
    alpha = codex("alpha-api-key", oauth=False, attributes={"codex_alpha_search": "true"})
    pool.replace([codex("ordinary-api-key", oauth=False), alpha])
    picked = await pool.pick("", ["codex"], supports=searches, scheduler=scheduler)
    assert picked.id == "alpha-api-key" and shown[-1] == ["alpha-api-key"]


async def test_a_weight_loaded_from_an_auth_file_steers_the_picks(clock, tmp_path: Path) -> None:
    """TestManagerLoad_WeightedRoundRobinUsesPersistedMetadataWeight and
    TestAuthWeight_MetadataFallbackAndAttributePrecedence (the file's own weight is the one
    used; CPA's second copy of it in the auth's attributes does not exist here): two auth
    files with ``"weight": 5`` and ``"weight": 1``, loaded from the auth directory, share 60
    weighted picks 50:10."""
    for name, weight in (("a", 5), ("b", 1)):
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"type": "claude", "email": f"{name}@x", "weight": weight})
        )
    pool = make_pool(clock, load_auth_dir(tmp_path), strategy="weighted-round-robin")
    seen = Counter([(await pool.pick("model")).id for _ in range(60)])
    assert sorted(seen.values()) == [10, 50]
    heavy = max(seen, key=lambda cid: seen[cid])
    assert pool.get(heavy) is not None and pool.get(heavy).weight == 5  # type: ignore[union-attr]


async def test_a_cooldown_and_its_recovery_reach_the_rotation(clock) -> None:
    """TestManager_SchedulerTracksMarkResultCooldownAndRecovery: after a 429 on auth-a the
    picks for that model go to auth-b; a success on auth-a clears it, and the next two picks
    see both credentials again."""
    pool = make_pool(clock, [cred("auth-a", "gemini"), cred("auth-b", "gemini")])
    await pool.mark_failure(pool.get("auth-a"), "test-model", 429)  # type: ignore[arg-type]
    assert {(await pool.pick("test-model")).id for _ in range(2)} == {"auth-b"}
    await pool.mark_success(pool.get("auth-a"), "test-model")  # type: ignore[arg-type]
    assert {(await pool.pick("test-model")).id for _ in range(2)} == {"auth-a", "auth-b"}


async def test_a_scheduler_may_pick_another_provider_of_a_mixed_route(clock) -> None:
    """TestManagerPluginSchedulerPickNextMixedSelectsProvider: over a route served by Gemini
    and Claude, a scheduler naming claude-a gets claude-a (the attempt then runs on Claude's
    provider, which the credential names)."""

    async def scheduler(candidates: Any) -> Any:
        return next(c for c in candidates if c.id == "claude-a")

    pool = make_pool(clock, [cred("gemini-a", "gemini"), cred("claude-a", "claude")])
    picked = await pool.pick("m", ["gemini", "claude"], scheduler=scheduler)
    assert (picked.id, picked.provider) == ("claude-a", "claude")
