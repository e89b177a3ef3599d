"""An account whose cooldowns ran out, in ``GET /auth-files``: a difference from CPA on
purpose.

CPA clears an account's ``error`` status (``MarkResult``'s success branch, when
``hasModelError`` finds no model state with a ``LastError``) only on a success on the model
that failed, a successful token refresh, a re-enable, a reload that re-registers its models
(``ReconcileRegistryModelStates``) or a quota reset; it computes ``unavailable`` and
``next_retry_after`` at each result. So when a cooldown runs out and no request comes, CPA
keeps listing the account ``error`` with the old message, ``unavailable: true`` (when every
model it used was cooling) and a ``next_retry_after`` in the past. cliproxy lists what
holds now; the tests below say why, field by field.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.management.test_unavailable_model_states import (
    OPUS,
    SONNET,
    account_proxy,
    ask,
    listed,
    retry_at,
    spend_opus_week,
)


async def test_a_cooldown_that_ran_out_is_listed_as_it_stands(mproxy, fake_claude, tmp_path: Path):
    """A difference from CPA on purpose. Opus, the only model the account used, cooled for
    1 s (listed ``error``, unavailable, with its end) and that ran out, no request since.
    CPA would go on listing ``error``, Opus's message, ``unavailable: true`` and the past
    ``next_retry_after`` until a result comes (``unavailable`` is set per result, and the
    error status stays until Opus answers: ``hasModelError`` reads the model state's
    ``LastError``, which only a success on it clears). cliproxy lists ``active``, no
    message, available, no ``next_retry_after``, for each field because the panel acts on
    them: ``unavailable: true`` counts the account out in the dashboard's health card and
    turns its bar red though the router sends it requests again, and a past retry time
    tells nothing; ``status: error`` or a message puts it among the panel's problem
    credentials, which its bulk action deletes, though the upstream's own reset has
    passed. The account did serve again: the next Opus request is answered and the
    listing stays ``active`` (there CPA agrees: a success on the failed model clears it)."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    spend_opus_week(fake_claude, retry_after=1)
    assert await ask(proxy, OPUS) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", True)
    assert "Opus weekly limit reached." in entry["status_message"]
    assert "next_retry_after" in entry

    fake_claude.clear_faults()
    await asyncio.sleep(max(0.0, retry_at(entry) - time.time()) + 0.05)
    entry = await listed(proxy)
    # CPA here: ("error", "...Opus weekly limit reached...", True) and the past next_retry_after
    assert (entry["status"], entry["status_message"], entry["unavailable"]) == ("active", "", False)
    assert "next_retry_after" not in entry

    assert await ask(proxy, OPUS) == 200
    entry = await listed(proxy)
    assert (entry["status"], entry["status_message"], entry["unavailable"]) == ("active", "", False)


async def test_a_model_cooldown_that_ran_out_leaves_no_error(mproxy, fake_claude, tmp_path: Path):
    """The same difference on purpose with another model serving: Sonnet answered, Opus's
    1 s cooldown ran out. CPA keeps ``error`` with Opus's message while Sonnet answers
    (each Sonnet success finds Opus's ``LastError`` in ``hasModelError``) until Opus itself
    answers; cliproxy lists ``active`` once Opus's cooldown is over, Sonnet's answers
    meanwhile changing nothing (the reasons of the test above)."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    assert await ask(proxy, SONNET) == 200
    spend_opus_week(fake_claude, retry_after=1)
    assert await ask(proxy, OPUS) == 429
    answered = time.time()  # the 1 s cooldown began before the 429 reached us: over by answered + 1
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", False)
    fake_claude.clear_faults()
    await asyncio.sleep(max(0.0, answered + 1.1 - time.time()))
    assert await ask(proxy, SONNET) == 200
    entry = await listed(proxy)
    # CPA here: ("error", "...Opus weekly limit reached...", False)
    assert (entry["status"], entry["status_message"], entry["unavailable"]) == ("active", "", False)
