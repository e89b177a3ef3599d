"""Client key policies enforced through the proxy, with the official SDKs as clients (issue 22)."""

from __future__ import annotations

import asyncio
import hashlib

import anthropic
import bcrypt
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.fakes.server import Behavior
from tests.policies.conftest import PLAIN, chat_body


def _oa(proxy, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0)


def _an(proxy, key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key=key, max_retries=0)


async def _chat(client: openai.AsyncOpenAI, model: str = "compat-model"):
    return await client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )


async def _msg(client: anthropic.AsyncAnthropic, model: str = "claude-model"):
    return await client.messages.with_raw_response.create(
        model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )


async def test_model_allowlist_refuses_other_models_in_each_format(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-a", name: team-a, models: ["compat-*"]}')
    async with _oa(proxy, "sk-a") as client:
        ok = await _chat(client)
        assert ok.status_code == 200
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await _chat(client, "claude-model")
    assert denied.value.status_code == 403
    assert denied.value.body["code"] == "model_not_allowed"
    assert "team-a" in denied.value.body["message"] and "claude-model" in denied.value.body["message"]
    async with _an(proxy, "sk-a") as aclient:
        with pytest.raises(anthropic.PermissionDeniedError) as adenied:
            await _msg(aclient)
    assert adenied.value.body["error"]["type"] == "permission_error"
    assert not proxy.fakes.claude.requests  # refused before any upstream call


async def test_rpm_limit_answers_429_with_rate_headers(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-r", rpm: 2}')
    async with _oa(proxy, "sk-r") as client:
        first = await _chat(client)
        second = await _chat(client)
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert second.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(openai.RateLimitError) as limited:
            await _chat(client)
    resp = limited.value.response
    assert resp.status_code == 429
    assert limited.value.body["code"] == "rate_limit_exceeded"
    assert 1 <= int(resp.headers["retry-after"]) <= 30
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert resp.headers["x-ratelimit-reset-requests"].endswith("s")
    assert len(proxy.fakes.openai.requests) == 2
    # a plain key next to it has no limit and gets no rate headers
    async with _oa(proxy, PLAIN) as plain:
        free = await _chat(plain)
    assert "x-ratelimit-limit-requests" not in free.headers


async def test_rpm_on_messages_uses_anthropic_headers(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-r", rpm: 1}')
    async with _an(proxy, "sk-r") as client:
        ok = await _msg(client)
        assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
        assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert ok.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        with pytest.raises(anthropic.RateLimitError) as limited:
            await _msg(client)
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert limited.value.response.headers["retry-after"]
    assert "x-ratelimit-limit-requests" not in limited.value.response.headers


async def test_tpm_counts_real_usage(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-t", tpm: 1000}')
    proxy.fakes.openai.script(Behavior(status=200, body=chat_body(1200, 300), times=None))
    async with _oa(proxy, "sk-t") as client:
        first = await _chat(client)
        assert first.headers["x-ratelimit-limit-tokens"] == "1000"
        with pytest.raises(openai.RateLimitError) as limited:
            await _chat(client)
    headers = limited.value.response.headers
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert int(headers["retry-after"]) >= 30  # 1500 tokens on a 1000/min bucket
    assert "tokens per minute" in limited.value.body["message"]


async def test_max_concurrency(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-c", max-concurrency: 1}')
    proxy.fakes.openai.delay_next(0.5)
    async with _oa(proxy, "sk-c") as client:
        slow = asyncio.ensure_future(_chat(client))
        await asyncio.sleep(0.15)
        with pytest.raises(openai.RateLimitError) as limited:
            await _chat(client)
        assert (await slow).status_code == 200
        assert "max-concurrency 1" in limited.value.body["message"]
        assert limited.value.response.headers["retry-after"] == "1"
        again = await _chat(client)  # the slot came back when the answer ended
        assert again.status_code == 200


async def test_concurrency_slot_comes_back_after_a_stream(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-c", max-concurrency: 1}')
    async with _oa(proxy, "sk-c") as client:
        for _ in range(3):
            stream = await client.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _chunk in stream:
                pass


async def test_token_budget_counts_stream_end_usage(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-b", name: ci, budget: {tokens: 5, period: day}}')
    async with _oa(proxy, "sk-b") as client:
        stream = await client.chat.completions.create(
            model="compat-model",
            messages=[{"role": "user", "content": "tell me a long story please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _chunk in stream:
            pass
        await asyncio.sleep(0.05)
        with pytest.raises(openai.PermissionDeniedError) as spent:
            await _chat(client)
    assert spent.value.body["code"] == "budget_exceeded"
    assert "day budget" in spent.value.body["message"] and "renews at" in spent.value.body["message"]
    assert len(proxy.fakes.openai.requests) == 1


@pytest.mark.parametrize("model", ["claude-model", "compat-model"], ids=["translated", "passthrough"])
@pytest.mark.parametrize("extra", ["", "commercial-mode: true\n"], ids=["traced", "commercial"])
async def test_a_stream_without_usage_for_the_client_is_charged(policy_proxy, extra, model):
    """A Chat client that does not ask ``stream_options.include_usage`` (old Codex, plain
    SDK calls) gets no usage chunk, but the upstream reported it: the key's budget is
    charged what the upstream said, not nothing (else a budget is bypassed by leaving the
    option out). Charged by the request's trace, or, in commercial mode (no trace), by the
    policy itself; through a Claude upstream (translated) and an OpenAI-compatible one
    (passed through, the usage chunk asked upstream and kept from the client)."""
    proxy = await policy_proxy('  - {key: "sk-b", name: ci, budget: {tokens: 5, period: day}}', extra)
    async with _oa(proxy, "sk-b") as client:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "tell me a long story please"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
        assert all(c.usage is None for c in chunks)  # nothing for the client to count
        await asyncio.sleep(0.05)
        with pytest.raises(openai.PermissionDeniedError) as spent:
            await _chat(client, model)
    assert spent.value.body["code"] == "budget_exceeded"
    fake = proxy.fakes.claude if model == "claude-model" else proxy.fakes.openai
    assert len(fake.requests) == 1


async def test_cost_budget_uses_model_prices(policy_proxy):
    extra = 'model-prices:\n  "gpt-4o-mini": {input: 10, output: 40}\n'
    proxy = await policy_proxy('  - {key: "sk-$", budget: {cost: 0.02, period: total}}', extra)
    # 1000 in x $10/M + 300 out x $40/M = $0.022 per request
    proxy.fakes.openai.script(Behavior(status=200, body=chat_body(1000, 300), times=None))
    async with _oa(proxy, "sk-$") as client:
        await _chat(client)
        with pytest.raises(openai.PermissionDeniedError) as spent:
            await _chat(client)
    assert spent.value.body["code"] == "budget_exceeded"
    assert "$0.0220 of $0.02" in spent.value.body["message"]
    assert "does not renew" in spent.value.body["message"]


async def test_cost_budget_without_override_uses_packaged_price(policy_proxy):
    """The packaged gpt-4o-mini price ($0.15/M in): 1M prompt tokens cost $0.15 > $0.1."""
    proxy = await policy_proxy('  - {key: "sk-$", budget: {cost: 0.1}}')
    proxy.fakes.openai.script(Behavior(status=200, body=chat_body(1_000_000, 0), times=None))
    async with _oa(proxy, "sk-$") as client:
        await _chat(client)
        with pytest.raises(openai.PermissionDeniedError):
            await _chat(client)


async def test_expired_and_disabled_keys(policy_proxy):
    proxy = await policy_proxy(
        '  - {key: "sk-old", name: old, expires-at: 2020-01-01}\n'
        '  - {key: "sk-off", disabled: true}\n'
        '  - {key: "sk-new", expires-at: "2999-01-01T00:00:00Z"}'
    )
    async with _oa(proxy, "sk-old") as client:
        with pytest.raises(openai.PermissionDeniedError) as expired:
            await _chat(client)
    assert expired.value.body["code"] == "key_expired"
    assert "expired at 2020-01-02T00:00:00Z" in expired.value.body["message"]
    async with _an(proxy, "sk-off") as aclient:
        with pytest.raises(anthropic.PermissionDeniedError) as off:
            await _msg(aclient)
    assert "disabled" in off.value.body["error"]["message"]
    async with _oa(proxy, "sk-new") as client:
        assert (await _chat(client)).status_code == 200
    assert not proxy.fakes.claude.requests and len(proxy.fakes.openai.requests) == 1


async def test_burst_of_200_on_rpm_50_lets_exactly_50_through(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-burst", rpm: 50}')
    async with _oa(proxy, "sk-burst") as client:
        results = await asyncio.gather(*(_chat(client) for _ in range(200)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    limited = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(ok) == 50 and len(limited) == 150
    assert len(proxy.fakes.openai.requests) == 50


async def test_hashed_keys(policy_proxy):
    hashed = bcrypt.hashpw(b"sk-secret-b", bcrypt.gensalt(rounds=4)).decode()
    sha = hashlib.sha256(b"sk-secret-s").hexdigest()
    proxy = await policy_proxy(
        f'  - {{key-hash: "{hashed}", name: b, rpm: 1}}\n  - {{key-hash: "sha256:{sha}", name: s}}'
    )
    async with _oa(proxy, "sk-secret-b") as client:
        assert (await _chat(client)).status_code == 200
        with pytest.raises(openai.RateLimitError):  # the hashed key's policy applies
            await _chat(client)
    async with _oa(proxy, "sk-secret-s") as client:
        assert (await _chat(client)).status_code == 200
    for wrong in ("sk-secret-x", hashed, sha, "sha256:" + sha):
        async with _oa(proxy, wrong) as client:
            with pytest.raises(openai.AuthenticationError):
                await _chat(client)


async def test_only_hashed_keys_still_require_a_key(policy_proxy, start_proxy, fakes):
    sha = hashlib.sha256(b"sk-only").hexdigest()
    proxy = await start_proxy(f'api-keys:\n  - {{key-hash: "sha256:{sha}"}}\n')
    assert not proxy.service.access.open
    async with _oa(proxy, "sk-wrong") as client:
        with pytest.raises(openai.AuthenticationError):
            await _chat(client)


async def test_budget_survives_a_restart_through_the_ledger(policy_proxy):
    keys = '  - {key: "sk-b", budget: {tokens: 1000, period: month}}'
    proxy = await policy_proxy(keys)
    proxy.fakes.openai.script(Behavior(status=200, body=chat_body(800, 400), times=None))
    async with _oa(proxy, "sk-b") as client:
        await _chat(client)
    await proxy.close()  # the service stops: the ledger writes its last rows
    again = await policy_proxy(keys)  # memory state, empty: the ledger tells what was spent
    async with _oa(again, "sk-b") as client:
        with pytest.raises(openai.PermissionDeniedError) as spent:
            await _chat(client)
    assert "1200 of 1000 tokens" in spent.value.body["message"]


async def test_gemini_clients_get_google_shaped_refusals(policy_proxy):
    proxy = await policy_proxy('  - {key: "sk-g", models: ["compat-*"], rpm: 1}')
    client = genai.Client(
        api_key="sk-g",
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(gerrors.ClientError) as denied:
        await client.aio.models.generate_content(model="claude-model", contents="hi")
    assert denied.value.code == 403 and denied.value.status == "PERMISSION_DENIED"
    await client.aio.models.generate_content(model="compat-model", contents="hi")
    with pytest.raises(gerrors.ClientError) as limited:
        await client.aio.models.generate_content(model="compat-model", contents="hi")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    assert limited.value.response.headers["x-ratelimit-limit-requests"] == "1"
