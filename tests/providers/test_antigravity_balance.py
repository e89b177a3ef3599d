"""The Google One AI credits balance of Antigravity accounts, looked up through Cloud
Code's ``loadCodeAssist`` (:mod:`cliproxy.providers.antigravity_balance`), ported from CPA
``internal/runtime/executor/antigravity_executor_credits_test.go``.

The lookup itself runs against the fake Cloud Code server (tests/fakes/gemini.py, which
answers loadCodeAssist with a paid tier and its credits as the real one does); what it
changes for a client, the order of the credits fallback, runs through a live proxy with
the ``anthropic`` SDK.

Not ported: CPA's Home KV cases (``TestAntigravityAuthHasCreditsRequiredHomeBalanceUsesKV``,
``TestStoreAntigravityCreditsBalanceBestEffortHomeKV``,
``TestMaybeRefreshAntigravityCreditsHintHomeRefreshThrottleUsesSetNX``: our hints live in
each process, see providers.antigravity_credits), and ``antigravityAuthHasCredits``'s
optimistic default (``TestAntigravityAuthHasCredits``' "no balance stored"), which only
CPA's tests call; the other rows of that test are ``read_balance``'s below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.antigravity_balance import Balance, BalanceCheck, read_balance
from cliproxy.providers.antigravity_credits import Hints
from cliproxy.providers.http import HttpClient
from tests.e2e.clients import KEY
from tests.fakes.gemini import google_one_tier

CLAUDE = "claude-sonnet-4-6"
FAR = "2099-01-01T00:00:00Z"
CONFIGURED_UA = "antigravity/hub/1.23.2 windows/amd64 google-api-nodejs-client/10.3.0"


def cred(base_url: str, token: str = "ya29.balance", user_agent: str = "") -> Credential:
    metadata: dict[str, Any] = {"type": "antigravity", "access_token": token, "project_id": "p"}
    c = Credential(id=f"antigravity-{token}.json", provider="antigravity", kind=KIND_OAUTH, metadata=metadata)
    c.base_url = base_url
    if user_agent:
        c.attributes["user_agent"] = user_agent
    return c


# ---------------------------------------------------------------- what an answer states


@pytest.mark.parametrize(
    ("paid", "want"),
    [
        (google_one_tier(25000, 50, "tier-1"), Balance(True, 25000, 50, "tier-1")),  # sufficient balance
        (google_one_tier(30, 50, "tier-1"), Balance(False, 30, 50, "tier-1")),  # insufficient balance
        (
            {
                "id": "t",
                "availableCredits": [
                    {"creditType": "GOOGLE_ONE_AI", "creditAmount": 50, "minimumCreditAmountForUsage": 50.0}
                ],
            },
            Balance(True, 50, 50, "t"),
        ),
        (None, Balance(False)),  # a free account: no paid tier, no credits
        ({"id": "tier"}, Balance(False, tier="tier")),  # a paid tier without a list of credits
        ({"id": "tier", "availableCredits": []}, None),  # CPA's refresh test: nothing stated
        (
            {
                "availableCredits": [
                    {"creditType": "OTHER", "creditAmount": "9", "minimumCreditAmountForUsage": "1"}
                ]
            },
            None,
        ),
        (
            {
                "availableCredits": [
                    {"creditType": "GOOGLE_ONE_AI", "creditAmount": "abc", "minimumCreditAmountForUsage": "1"}
                ]
            },
            None,
        ),
        (
            {
                "availableCredits": [
                    {"creditType": "GOOGLE_ONE_AI", "creditAmount": "", "minimumCreditAmountForUsage": "1"}
                ]
            },
            None,
        ),
    ],
    ids=[
        "sufficient",
        "insufficient",
        "numbers",
        "free",
        "no-list",
        "empty-list",
        "other-type",
        "bad",
        "empty",
    ],
)
def test_read_balance(paid: Any, want: Balance | None) -> None:
    """TestAntigravityAuthHasCredits (sufficient / insufficient balance) and
    TestParseMetaFloat (amounts as strings or numbers; an empty or invalid string is no
    amount), on what ``updateAntigravityCreditsBalance`` reads of a loadCodeAssist answer."""
    answer = {"cloudaicompanionProject": "p"} if paid is None else {"paidTier": paid}
    assert read_balance(answer) == want


# ---------------------------------------------------------------- one lookup


async def test_a_lookup_asks_loadcodeassist_as_cpa_and_marks_the_hint(fake_gemini: Any) -> None:
    """TestUpdateAntigravityCreditsBalance_LoadCodeAssistUserAgent: POST
    ``<base>/v1internal:loadCodeAssist`` with ``{"metadata":{"ideType":"ANTIGRAVITY"}}``,
    the short Antigravity user agent (its Node client suffix cut), no X-Goog-Api-Client;
    TestEnsureAccessToken_WarmTokenLoadsCreditsHint: 25000 credits usable from 50 make the
    credential's hint "has credits"."""
    fake_gemini.paid_tier = google_one_tier(25000, 50, "tier-1")
    hints = Hints()
    check = BalanceCheck(hints)
    c = cred(fake_gemini.base_url, user_agent=CONFIGURED_UA)
    http = HttpClient()
    try:
        got = await check.check(c, http, base_url=fake_gemini.base_url, user_agent=CONFIGURED_UA, proxy="")
    finally:
        await http.close()
    assert got == Balance(True, 25000, 50, "tier-1") and hints.get(c.id) is True
    (rec,) = [r for r in fake_gemini.requests if r.path == "/v1internal:loadCodeAssist"]
    assert rec.body == b'{"metadata":{"ideType":"ANTIGRAVITY"}}'
    assert rec.headers["User-Agent"] == "antigravity/hub/1.23.2 windows/amd64"
    assert rec.headers["Authorization"] == "Bearer ya29.balance"
    assert "X-Goog-Api-Client" not in rec.headers


# ---------------------------------------------------------------- through the proxy


def auth(tmp_path: Path, name: str, base_url: str) -> None:
    """Account ``name``: its file ``antigravity-<name>.json``, its token ``ya29.<name>``."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "antigravity",
        "access_token": "ya29." + name,
        "refresh_token": "1//" + name,
        "expired": FAR,
        "project_id": "p-" + name,
        "email": f"{name}@example.com",
        "base_url": base_url,
    }
    (auth_dir / f"antigravity-{name}.json").write_bytes(orjson.dumps(data))


async def started(start_proxy: Any, fake: Any, tmp_path: Path, *names: str, on: bool = True) -> Any:
    for name in names:
        auth(tmp_path, name, fake.base_url)
    flag = "true" if on else "false"
    return await start_proxy(
        f'api-keys: ["{KEY}"]\nrequest-retry: 0\nquota-exceeded:\n  antigravity-credits: {flag}\n'
    )


async def say(proxy: Any, model: str = CLAUDE) -> str:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        msg = await client.messages.create(
            model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
    return "".join(b.text for b in msg.content if b.type == "text")


async def settled(hints: Hints, *ids: str) -> None:
    """Until every lookup of ``ids`` is in the hints (bounded)."""
    async with asyncio.timeout(5):
        while any(hints.get(i) is None for i in ids):
            await asyncio.sleep(0.01)


def looked_up(fake: Any) -> list[str | None]:
    return [r.key for r in fake.requests if r.path == "/v1internal:loadCodeAssist"]


def credits_attempts(fake: Any) -> list[str | None]:
    asked = [r for r in fake.requests if r.path.endswith("enerateContent") and isinstance(r.json, dict)]
    return [r.key for r in asked if "enabledCreditTypes" in r.json]


async def test_an_account_without_credits_is_left_out_of_the_fallback(
    start_proxy: Any, fake_gemini: Any, tmp_path: Path
) -> None:
    """CPA maybeRefreshAntigravityCreditsHint on a warm token, then
    findAllAntigravityCreditsCandidateAuths: each account is looked up once, beside its
    first request; when both free quotas are gone, the free account (no paid tier) is
    not asked to pay and the account with credits answers. Before the lookup, the free
    account was tried with credits first and refused."""
    fake = fake_gemini
    fake.paid_tiers = {"ya29.ag-paid": google_one_tier(25000)}
    proxy = await started(start_proxy, fake, tmp_path, "ag-free", "ag-paid")
    for _ in range(2):  # round robin: one request per account
        await say(proxy, "gemini-3-flash")
    await settled(proxy.service.pipeline.credit_hints, "antigravity-ag-free.json", "antigravity-ag-paid.json")
    fake.exhausted = {"ya29.ag-free", "ya29.ag-paid"}
    assert await say(proxy)
    assert credits_attempts(fake) == ["ya29.ag-paid"]
    assert sorted(looked_up(fake)) == ["ya29.ag-free", "ya29.ag-paid"]  # known now: not looked up again


@pytest.mark.parametrize("failure", ["error", "slow"])
async def test_a_failed_lookup_never_fails_a_request(
    start_proxy: Any, fake_gemini: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    """updateAntigravityCreditsBalance's failures only log: a lookup answered 500, or not
    answered within its time limit, leaves the account unknown, the request is served
    without waiting for it, and the account is not looked up again for ten minutes
    (antigravityCreditsHintRefreshInterval); the log names no token."""
    fake = fake_gemini
    if failure == "error":
        fake.load_status = 500
    else:
        fake.delay_next(1.0, path="loadCodeAssist")
    proxy = await started(start_proxy, fake, tmp_path, "ag-one")
    balance = proxy.service.providers.get("antigravity").balance
    balance.timeout = 0.2
    with caplog.at_level(logging.DEBUG, logger="cliproxy.providers.antigravity_balance"):
        began = time.monotonic()
        assert await say(proxy, "gemini-3-flash")
        assert time.monotonic() - began < 0.9  # the request did not wait for the lookup
        assert await say(proxy, "gemini-3-flash")
        async with asyncio.timeout(5):
            while balance._tasks:
                await asyncio.sleep(0.01)
    assert looked_up(fake) == ["ya29.ag-one"]
    assert proxy.service.pipeline.credit_hints.get("antigravity-ag-one.json") is None
    assert "credits balance unknown" in caplog.text
    assert "ya29." not in caplog.text and "1//" not in caplog.text


async def test_no_lookup_when_the_fallback_is_off(start_proxy: Any, fake_gemini: Any, tmp_path: Path) -> None:
    """CPA antigravityCreditsRetryEnabled: without ``quota-exceeded.antigravity-credits``
    nothing reads the hints, and no account is looked up."""
    fake_gemini.paid_tier = google_one_tier(25000)
    proxy = await started(start_proxy, fake_gemini, tmp_path, "ag-one", on=False)
    assert await say(proxy, "gemini-3-flash")
    assert looked_up(fake_gemini) == []
