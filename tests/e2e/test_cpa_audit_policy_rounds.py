"""A retry round belongs to the credentials that may serve the request (CPA:
TestManager_ShouldRetryAfterError_IgnoresRequestIneligibleOverrides, its credential-policy
case, sdk/cliproxy/auth/conductor_overrides_test.go): a credential the request's policy
bars (an ordinary codex-api-key for a Codex alpha search) does not lend it its own
request-retry; nor is a round waited for on a credential whose own request-retry is
spent. Through a running proxy against the fake Codex backend and Anthropic gateway.

The same Go test's pinned-credential case is a deliberate difference: our Responses
WebSocket pin is a preference that may fall over to the other credentials
(cliproxy.responses_ws), so their request-retry legitimately counts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_alpha_search import api_key_entry, post, searches, write_codex
from tests.e2e.test_cpa_retry_rounds import MSG
from tests.e2e.test_cpa_retry_rounds import post as post_json
from tests.e2e.test_images_free_plan_cpa import generate, image_keys
from tests.e2e.test_images_free_plan_cpa import write_codex as write_images_account


async def post_messages(proxy: Any) -> int:
    return await post_json(proxy, "/v1/messages", MSG)


async def test_a_barred_credentials_request_retry_adds_no_search_round(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """Global request-retry 0; the sign-in's search fails with 502; an ordinary API key
    (never picked for a search) has request-retry 2. The client gets the 502 after the one
    attempt: the barred key adds no round, and the sign-in (request-retry 0) takes none."""
    write_codex(tmp_path, fake_responses, "oauth")
    entry = api_key_entry(fake_responses, "sk-plain", alpha=False, extra="\n    request-retry: 2")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-retry: 0\ncodex-api-key:\n{entry}')
    fake_responses.fail_next(502, path="/alpha/search", times=None)
    status, answer, _ = await asyncio.wait_for(post(proxy.url, {"query": "GPT-5.6"}), 10)
    assert status == 502, answer
    assert [r.key for r in searches(fake_responses)] == ["token-oauth"]


@pytest.mark.usefixtures("anthropic_api")
async def test_a_round_does_not_wait_for_a_credential_whose_own_request_retry_ran_out(start_proxy, fakes):
    """CPA's closestCooldownWait skips a credential whose own request-retry is spent
    (``attempt >= effectiveRequestRetryLimit``, sdk/cliproxy/auth/conductor_selection.go),
    the rule behind TestExecuteRetryRoundCredentialWindows. sk-a (request-retry 0) cools
    for 2 s, sk-b (request-retry 1) for 2 minutes, past max-retry-interval 30: no round
    can be served, and the client gets the 429 at once, not after waiting for sk-a, which
    sits the next round out (before: about 2 s later)."""
    entries = "".join(
        f'\n  - api-key: "{k}"\n    base-url: "{fakes.claude.base_url}"\n    request-retry: {n}\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]'
        for k, n in (("sk-a", 0), ("sk-b", 1))
    )
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nrequest-retry: 1\nmax-retry-interval: 30\nclaude-api-key:{entries}\n'
    )
    fakes.claude.fail_next(429, key="sk-a", retry_after=2)
    fakes.claude.fail_next(429, key="sk-b", retry_after=120)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(post_messages(proxy), 10) == 429
    assert loop.time() - started < 1.5
    assert sorted(r.key for r in fakes.claude.requests) == ["sk-a", "sk-b"]


async def test_a_free_plan_accounts_request_retry_adds_no_image_round(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """The same rule for the Images API, whose requests never go to a free-plan ChatGPT
    account (CPA's DisallowFreeAuth): the free account's own request_retry 2 adds no round.
    The plus account's image request fails with 502, and the client gets that 502 after
    the one attempt (before: a 503 saying no credential serves the request)."""
    write_images_account(tmp_path, fake_responses, "a-free", "free")
    write_images_account(tmp_path, fake_responses, "b-plus", "plus")
    path = tmp_path / "auths" / "a-free.json"
    path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), "request_retry": 2}))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-retry: 0\n')
    fake_responses.fail_next(502, path="/images/generations", times=None)
    assert await asyncio.wait_for(generate(proxy.url, 1), 10) == [502]
    assert image_keys(fake_responses) == ["token-b-plus"]
