"""CPA sdk/cliproxy/auth/antigravity_credits_test.go, the selection half: what is known of
an account's Google One AI credits never lets a cooling account back into the ordinary
pick (the fallback's own cases run through a proxy in tests/e2e/test_antigravity_credits.py).
Not applicable: TestManagerExecuteStream_AntigravityCreditsHomeModeFailsClosedWithoutDispatch
(CPA's Home mode).
"""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.errors import CooldownError
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.state.memory import MemoryState


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "gemini-3-flash"])
async def test_known_credits_do_not_lift_a_cooldown(clock, model: str) -> None:
    """CPA: TestIsAuthBlockedForModel_ClaudeWithCreditsStillBlockedDuringCooldown,
    TestIsAuthBlockedForModel_KeepsGeminiBlockedWithoutCreditsBypass: an account that a 429
    cooled for ``model`` stays out of the pick for it though its credits are known to be
    there; only the credits fallback (Claude models) asks it again."""
    cred = Credential(id="ag-1", provider="antigravity")
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    pool.replace([cred])
    provider = AntigravityProvider()
    provider.credit_hints.mark(cred.id, True)
    decision = await pool.mark_failure(pool.get(cred.id), model, 429)
    assert decision.cooldown_seconds > 0
    with pytest.raises(CooldownError):
        await pool.pick(model, providers=["antigravity"])
    assert provider.credit_hints.get(cred.id) is True
