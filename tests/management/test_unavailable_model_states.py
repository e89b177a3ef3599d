"""``unavailable`` in ``GET /auth-files`` when only some models of an account cool.

CPA keeps a state per model an account has answered or failed for (``ModelStates``) and
sets ``auth.Unavailable`` from them (``updateAggregatedAvailability`` in
``sdk/cliproxy/auth/conductor_cooldown.go``): true while a credential-wide quota blocks or
every model state blocks; ``NextRetryAfter`` is then the earliest end among them, else zero,
and ``auth_files.go`` lists ``next_retry_after`` only when it is set. A failure still sets
the account's ``status: error`` with the failure's message (``MarkResult``). So a Claude
account whose Opus weekly window is spent while Sonnet serves shows ``error`` with Opus's
message, yet available, with no time to wait for. Before, cliproxy listed it unavailable as
soon as any model of it cooled.

One difference on purpose: CPA computes the flag at each result and keeps it until the next
one, so an account whose only model's cooldown ran out stays listed unavailable until a
request comes; here the listing reads the cooldowns as they stand.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.management.conftest import mcall

KEY = "client-key"
TOKEN = "at-1"
SONNET = "claude-sonnet-4-6"
OPUS = "claude-opus-4-8"
WEEK = 7 * 86400
# Anthropic's answer when only a per-model weekly window is spent: the shared windows are
# open, so the 429 is the model's (claude_limits reads these headers)
MODEL_WINDOW = {
    "status": "rejected",
    "5h-status": "allowed",
    "7d-status": "allowed",
    "7d_oi-status": "rejected",
}


def write_account(tmp_path: Path, base_url: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    account = {
        "type": "claude",
        "access_token": TOKEN,
        "refresh_token": "rt-1",
        "expired": "2099-01-01T00:00:00Z",
        "email": "max@example.com",
        "base_url": base_url,
    }
    (auth_dir / "claude-max.json").write_bytes(orjson.dumps(account))


async def account_proxy(mproxy: Any, fake_claude: Any, tmp_path: Path, more: str = "") -> Any:
    write_account(tmp_path, fake_claude.base_url)
    return await mproxy(f'api-keys: ["{KEY}"]\nusage-ledger: {{enabled: false}}\n{more}')


async def ask(proxy: Any, model: str, how: str = "messages") -> int:
    """The status the client got for one message to ``model`` (the account is the only one),
    sent as Anthropic Messages (``messages``), streamed (``stream``) or as OpenAI Chat (``chat``)."""
    msgs: Any = [{"role": "user", "content": "hi"}]
    if how == "chat":
        async with openai.AsyncOpenAI(api_key=KEY, base_url=proxy.url + "/v1", max_retries=0) as oa:
            try:
                await oa.chat.completions.create(model=model, messages=msgs, max_tokens=5)
            except openai.APIStatusError as exc:
                return exc.status_code
        return 200
    async with anthropic.AsyncAnthropic(api_key=KEY, base_url=proxy.url, max_retries=0) as client:
        try:
            if how == "stream":
                async with client.messages.stream(model=model, max_tokens=5, messages=msgs) as s:
                    await s.get_final_message()
            else:
                await client.messages.create(model=model, max_tokens=5, messages=msgs)
        except anthropic.APIStatusError as exc:
            return exc.status_code
    return 200


def spend_opus_week(fake_claude: Any, retry_after: float = 600) -> None:
    """Opus answers the account 429: its weekly window is spent, the shared ones are open."""
    unified = {**MODEL_WINDOW, "7d_oi-reset": int(time.time() + WEEK)}
    fake_claude.fail_key(
        TOKEN, 429, model=OPUS, message="Opus weekly limit reached.", retry_after=retry_after, unified=unified
    )


async def listed(proxy: Any) -> dict[str, Any]:
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    (entry,) = body["files"]
    return entry


def retry_at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["next_retry_after"]).timestamp()


@pytest.mark.parametrize(
    ("how", "more"),
    [
        ("messages", ""),
        ("stream", ""),
        ("chat", ""),
        ("messages", "routing: {session-affinity: true}\n"),  # (not the short lane: pipeline_lane.py)
    ],
    ids=["messages", "stream", "chat", "affinity"],
)
async def test_one_model_cooling_leaves_the_account_available(mproxy, fake_claude, tmp_path, how, more):
    """CPA: updateAggregatedAvailability (a model state that does not block keeps the auth
    available, NextRetryAfter zero) after MarkResult's failure branch (the auth's status is
    ``error``, its message the failure's). Sonnet served while nothing cooled; then Opus's
    week is spent. The account is listed ``error`` with Opus's message, available, with no
    ``next_retry_after``; Sonnet still serves on it. Sonnet's answer counts however it went
    out: whole, streamed, translated to OpenAI Chat, or by the general path."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path, more)
    assert await ask(proxy, SONNET, how) == 200
    spend_opus_week(fake_claude)
    assert await ask(proxy, OPUS) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"], entry["disabled"]) == ("error", False, False)
    assert "Opus weekly limit reached." in entry["status_message"]
    assert "next_retry_after" not in entry
    assert await ask(proxy, SONNET) == 200
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", False)
    assert "Opus weekly limit reached." in entry["status_message"]


async def test_every_served_model_cooling_blocks_until_the_earliest(mproxy, fake_claude, tmp_path):
    """CPA: TestUpdateAggregatedAvailability_FutureNextRetryBlocksAuth, with two model
    states: once Sonnet cools too (for 300 s, Opus for 600 s), every model the account
    served blocks: it is unavailable until the earlier end, and the message is the latest
    failure's (Sonnet's)."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    assert await ask(proxy, SONNET) == 200
    spend_opus_week(fake_claude, retry_after=600)
    assert await ask(proxy, OPUS) == 429
    fake_claude.fail_key(TOKEN, 429, model=SONNET, message="Sonnet rate limited.", retry_after=300)
    before = time.time()
    assert await ask(proxy, SONNET) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", True)
    assert "Sonnet rate limited." in entry["status_message"]
    assert before + 299 <= retry_at(entry) <= time.time() + 301


async def test_a_success_on_another_model_makes_the_account_available(mproxy, fake_claude, tmp_path):
    """CPA: MarkResult's success branch adds a clean state for the model that answered and
    recomputes the aggregate. Opus alone has been used and cools: the account is
    unavailable until its end; Sonnet then answers on it: available, no time to wait for."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    spend_opus_week(fake_claude, retry_after=600)
    before = time.time()
    assert await ask(proxy, OPUS) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", True)
    assert before + 599 <= retry_at(entry) <= time.time() + 601
    assert await ask(proxy, SONNET) == 200
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", False)
    assert "next_retry_after" not in entry


async def test_a_cooldown_that_ran_out_counts_as_a_model_that_serves(mproxy, fake_claude, tmp_path):
    """CPA: updateAggregatedAvailability clears a model state whose NextRetryAfter passed
    (not blocking, still a state). Opus cooled for 1 s and that ran out; then Sonnet cools:
    Opus is free again, so the account is available."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    spend_opus_week(fake_claude, retry_after=1)
    assert await ask(proxy, OPUS) == 429
    assert (await listed(proxy))["unavailable"] is True
    fake_claude.clear_faults()
    await asyncio.sleep(1.05)
    fake_claude.fail_key(TOKEN, 429, model=SONNET, message="Sonnet rate limited.", retry_after=300)
    assert await ask(proxy, SONNET) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", False)
    assert "next_retry_after" not in entry


async def test_a_credential_wide_429_blocks_every_model(mproxy, fake_claude, tmp_path):
    """CPA: MarkResult's CredentialScope branch (every model state and the auth itself wait
    for the reset: ``credential_quota``). Sonnet served; then the shared 5-hour window is
    rejected on an Opus request: the account is unavailable until that reset, though Sonnet
    never failed."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    assert await ask(proxy, SONNET) == 200
    reset = int(time.time() + 3600)
    fake_claude.fail_key(
        TOKEN,
        429,
        model=OPUS,
        message="5-hour limit reached.",
        unified={"status": "rejected", "5h-status": "rejected", "5h-reset": reset},
    )
    assert await ask(proxy, OPUS) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", True)
    assert reset - 5 <= retry_at(entry) <= reset + 1


@pytest.mark.parametrize(
    ("status", "unavailable"),
    [(400, True), (500, False)],
    ids=["request fault: no state", "failure without cooldown: a state"],
)
async def test_which_failures_count_as_a_model_used(mproxy, fake_claude, tmp_path, status, unavailable):
    """CPA: a request's own fault leaves no model state
    (TestManager_MarkResult_RequestScopedNotFoundDoesNotCooldownAuth: ``ModelStates[model]``
    nil), while a failure that cools for no time (here ``transient-error-cooldown-seconds:
    -1``) leaves one that does not block
    (TestUpdateAggregatedAvailability_UnavailableWithoutNextRetryDoesNotBlockAuth). Sonnet
    fails so, then Opus cools: the account is unavailable after the 400 (Opus is its only
    model state), available after the 500."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path, "transient-error-cooldown-seconds: -1\n")
    fake_claude.fail_next(status, model=SONNET)
    assert await ask(proxy, SONNET) == status
    spend_opus_week(fake_claude)
    assert await ask(proxy, OPUS) == 429
    entry = await listed(proxy)
    assert (entry["status"], entry["unavailable"]) == ("error", unavailable)
    assert ("next_retry_after" in entry) is unavailable


async def test_a_disabled_account_comes_back_with_no_model_states(mproxy, fake_claude, tmp_path):
    """CPA: Manager.Update carries model states only from an active auth to an active one.
    Sonnet served; the account is disabled and enabled again through the panel; then Opus
    cools: Opus is the only model of the enabled account, so it is unavailable."""
    proxy = await account_proxy(mproxy, fake_claude, tmp_path)
    assert await ask(proxy, SONNET) == 200
    for disabled in (True, False):
        body = {"name": "claude-max.json", "disabled": disabled}
        assert (await mcall(proxy, "PATCH", "/auth-files/status", body))[0] == 200
    assert (await listed(proxy))["disabled"] is False
    spend_opus_week(fake_claude)
    assert await ask(proxy, OPUS) == 429
    assert (await listed(proxy))["unavailable"] is True
