"""A client's own oversized request cools no credential that other clients share.

OpenAI answers a request larger than the key's tokens-per-minute limit with a 429
``rate_limit_exceeded`` of type ``tokens`` ("Request too large for ... Limit 30000,
Requested 50000"); Groq answers 413 with the same body; Anthropic answers a 429 over the
input tokens per minute with the minute's budget untouched. None of these says the key is
spent: its other requests go through. CPA cools the key all the same (a 429 is never a
request fault in its ``clienterror.IsRequestFault``; the 429 back-off climbs to 30 min when
the client repeats the request), so one client's oversized request takes the key from every
client. We differ on purpose (no client can affect a credential others share): nothing
cools; for OpenAI's and Groq's answer the next key is tried (a key of a higher tier may take
the request), for Anthropic's the answer goes to the client at once (the provider's verdict
is request-scoped: the pipeline has no "next key, cool none" verdict a provider can give).

Through the running proxy with the official SDKs, into the fakes answering the real bodies.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest

from cliproxy.credentials.cooldown import classify
from tests.e2e.clients import KEY

HI: Any = [{"role": "user", "content": "hi"}]
TOO_LARGE = (
    "Request too large for gpt-4o in organization org-fake on tokens per min (TPM): Limit 30000, "
    "Requested 50000. The input or output tokens must be reduced in order to run successfully. "
    "Visit https://platform.openai.com/account/rate-limits to learn more."
)
TPM_BODY = {"error": {"message": TOO_LARGE, "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}
GROQ_BODY = {
    "error": {
        "message": "Request too large for model `llama-3.3-70b-versatile` in organization `org_fake` service "
        "tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 14810, please reduce your "
        "message size and try again.",
        "type": "tokens",
        "code": "rate_limit_exceeded",
    }
}
ITPM = (
    "This request would exceed the rate limit for your organization (fake-org) of 30,000 input tokens "
    "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the "
    "response headers for current usage. Please reduce the prompt length or the maximum tokens "
    "requested, or try again later."
)
ITPM_BODY = {"type": "error", "error": {"type": "rate_limit_error", "message": ITPM}}


def compat_config(base_url: str, extra: str = "") -> str:
    return f"""api-keys: ["{KEY}"]
{extra}
openai-compatibility:
  - name: fakeopenai
    base-url: "{base_url}/v1"
    api-key-entries:
      - api-key: "sk-a"
      - api-key: "sk-b"
    models:
      - {{name: "gpt-4o", alias: "big-model"}}
"""


def claude_config(base_url: str, extra: str = "") -> str:
    """Two Claude keys; ``extra``: lines added to each key's entry."""
    return f"""api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-a"
    base-url: "{base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]{extra}
  - api-key: "sk-ant-b"
    base-url: "{base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]{extra}
"""


async def cooling(proxy: Any) -> list[str]:
    """The keys of the credentials that have a cooldown blocking now."""
    pool = proxy.service.pool
    return sorted([c.api_key for c in pool.credentials() if await pool.cooldowns(c)])


async def chat(proxy: Any, *, stream: bool = False) -> str:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            out = await client.chat.completions.create(model="big-model", messages=HI, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in out if c.choices])
        reply = await client.chat.completions.create(model="big-model", messages=HI)
        return reply.choices[0].message.content or ""


@pytest.mark.parametrize("stream", [False, True])
async def test_a_request_over_every_keys_tpm_gets_the_429_and_cools_nothing(start_proxy, fake_openai, stream):
    """Both keys refuse the request as larger than their TPM: each is asked once, the client
    gets OpenAI's 429 with its message (a stream: before its first byte, the same), and both
    keys serve the next requests. Before, each 429 cooled its key (CPA's 429 back-off), so
    the next client found every key cooling and got the proxy's own 429."""
    proxy = await start_proxy(compat_config(fake_openai.base_url))
    fake_openai.fail_next(429, times=2, body=TPM_BODY)
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(proxy, stream=stream)
    assert caught.value.message.endswith(TOO_LARGE)
    assert sorted(r.key for r in fake_openai.requests) == ["sk-a", "sk-b"]
    assert await cooling(proxy) == []
    for _ in range(4):
        assert await chat(proxy)
    assert {r.key for r in fake_openai.requests[2:]} == {"sk-a", "sk-b"}


async def test_a_request_every_key_refuses_as_too_large_runs_no_retry_round(start_proxy, fake_openai):
    """With request-retry, a round that ended with every key refusing the request as over its
    TPM starts no other round: nothing cooled, so it would start at once and ask every key
    again for the same refusal (2 rounds more: 6 calls instead of 2)."""
    proxy = await start_proxy(compat_config(fake_openai.base_url, "request-retry: 2"))
    fake_openai.fail_next(429, times=None, body=TPM_BODY)
    with pytest.raises(openai.RateLimitError):
        await chat(proxy)
    assert sorted(r.key for r in fake_openai.requests) == ["sk-a", "sk-b"]


@pytest.mark.parametrize(("status", "body"), [(429, TPM_BODY), (413, GROQ_BODY)])
async def test_a_key_whose_tpm_is_too_small_passes_the_request_on(start_proxy, fake_openai, status, body):
    """The first key asked refuses the request as over its TPM; the other key takes it, and
    the first keeps serving. Before, OpenAI's 429 cooled the first key (the next requests all
    went to the other), and Groq's 413 went to the client at once though another key could
    take the request (CPA: 413 is a request fault, no other key)."""
    proxy = await start_proxy(compat_config(fake_openai.base_url))
    fake_openai.fail_next(status, body=body)
    assert await chat(proxy, stream=status == 413)
    first, second = (r.key for r in fake_openai.requests)
    assert first != second
    assert await cooling(proxy) == []
    for _ in range(4):
        assert await chat(proxy)
    assert {r.key for r in fake_openai.requests[2:]} == {"sk-a", "sk-b"}


def full_minute(left: int) -> dict[str, str]:
    return {
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": str(left),
        "anthropic-ratelimit-input-tokens-reset": "2026-01-01T00:00:30Z",
    }


async def claude_ask(proxy: Any, *, stream: bool = False) -> str:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="claude-model", max_tokens=16, messages=HI) as s:
                return await s.get_final_text()
        reply = await client.messages.create(model="claude-model", max_tokens=16, messages=HI)
    block = reply.content[0]
    return block.text if block.type == "text" else block.type


@pytest.mark.parametrize("stream", [False, True])
async def test_an_anthropic_request_over_an_untouched_input_minute_cools_nothing(
    start_proxy, fake_claude, stream
):
    """Anthropic's 429 over the input tokens per minute, while the answer's headers show the
    minute's budget untouched: the request alone is over it. Every key refusing it so, each
    is asked once (no retry round: nothing cooled, it would ask them again), the client gets
    the 429 (a stream: before its first byte, the same), nothing cools, and both keys serve
    the next requests. Before (and in CPA), the key cooled for every client."""
    proxy = await start_proxy(claude_config(fake_claude.base_url) + "request-retry: 2\n")
    fake_claude.fail_next(429, times=2, body=ITPM_BODY, headers=full_minute(30000))
    with pytest.raises(anthropic.RateLimitError) as caught:
        await claude_ask(proxy, stream=stream)
    assert caught.value.body == ITPM_BODY
    assert sorted(r.key for r in fake_claude.requests) == ["sk-ant-a", "sk-ant-b"]
    assert await cooling(proxy) == []
    for _ in range(4):
        assert await claude_ask(proxy)
    assert {r.key for r in fake_claude.requests[1:]} == {"sk-ant-a", "sk-ant-b"}


async def test_an_anthropic_key_whose_input_minute_is_too_small_passes_the_request_on(
    start_proxy, fake_claude
):
    """One key's input tokens per minute are less than the request alone: another key (a
    higher tier) may take it, and does; nothing cools."""
    proxy = await start_proxy(claude_config(fake_claude.base_url))
    fake_claude.fail_next(429, body=ITPM_BODY, headers=full_minute(30000))
    assert await claude_ask(proxy)
    first, second = (r.key for r in fake_claude.requests)
    assert first != second and await cooling(proxy) == []


async def test_an_anthropic_minute_used_up_by_earlier_requests_still_cools(start_proxy, fake_claude):
    """The control: the same 429 with part of the minute's budget already used is the key's
    own rate limit (earlier requests spent it): the key cools as in CPA, and the other serves."""
    proxy = await start_proxy(claude_config(fake_claude.base_url))
    fake_claude.fail_next(429, body=ITPM_BODY, headers={**full_minute(12000), "retry-after": "30"})
    assert await claude_ask(proxy)
    assert len(fake_claude.requests) == 2
    first = fake_claude.requests[0].key
    assert await cooling(proxy) == [first]


@pytest.mark.parametrize("action", ["continue-and-cooldown", "continue"])
async def test_a_users_rule_decides_an_untouched_input_minute_too(start_proxy, fake_claude, action):
    """A key's own request-scoped-errors rule that matches Anthropic's 429 over an untouched
    input minute is applied as for any other error: ``continue-and-cooldown`` cools the key
    (the user's say over ours), ``continue`` goes on without. Before, the provider's verdict
    ("the request alone is over the limit") returned before the rules were read: no rule could
    cool such a key."""
    rule = f'\n    request-scoped-errors: [{{status: 429, match: ["input tokens per minute"], action: {action}}}]'
    proxy = await start_proxy(claude_config(fake_claude.base_url, rule))
    fake_claude.fail_next(429, body=ITPM_BODY, headers=full_minute(30000))
    assert await claude_ask(proxy)
    first, second = (r.key for r in fake_claude.requests)
    assert first != second
    assert await cooling(proxy) == ([first] if action.endswith("cooldown") else [])


async def test_a_repeated_oversized_request_climbs_no_back_off(start_proxy, fake_openai):
    """The same oversized request again and again (a client retrying it) leaves both keys'
    back-off where it was: CPA's 429 ladder would climb towards 30 min with each one."""
    proxy = await start_proxy(compat_config(fake_openai.base_url))
    fake_openai.fail_next(429, times=6, body=TPM_BODY)
    for _ in range(3):
        with pytest.raises(openai.RateLimitError):
            await chat(proxy)
    pool = proxy.service.pool
    records = [r for c in pool.credentials() for r in await pool.state.credential_cooldowns(c.id)]
    assert [(r.backoff_level, r.next_retry_after) for r in records] == []


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        # OpenAI's and Groq's "over the key's TPM": no cooldown, the next key
        (429, TPM_BODY, "oversized"),
        (413, GROQ_BODY, "oversized"),
        # OpenAI's real rate limit (the minute spent by earlier requests): a quota, as CPA
        (
            429,
            {
                "error": {
                    "message": "Rate limit reached for gpt-4o in organization org-fake on tokens per min "
                    "(TPM): Limit 30000, Used 29000, Requested 5000. Please try again in 8s.",
                    "type": "tokens",
                    "code": "rate_limit_exceeded",
                }
            },
            "status",
        ),
        # the client's text quoted after the upstream's own words changes nothing
        (
            429,
            {"error": {"message": "Rate limit reached. Request too large for gpt-4o", "type": "tokens"}},
            "status",
        ),
        (429, {"error": {"message": TOO_LARGE, "type": "requests"}}, "status"),
        # already request faults (CPA too): to the client at once, nothing cools
        (
            413,
            {
                "type": "error",
                "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"},
            },
            "request_fault",
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                },
            },
            "request_fault",
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
                    "status": "INVALID_ARGUMENT",
                }
            },
            "request_fault",
        ),
        (
            400,
            {
                "error": {
                    "message": "Previous response with id 'resp_x' not found.",
                    "type": "invalid_request_error",
                    "code": "previous_response_not_found",
                }
            },
            "request_fault",
        ),
        (
            404,
            {
                "error": {
                    "message": "No such File object: file-x",
                    "type": "invalid_request_error",
                    "code": None,
                }
            },
            "request_fault",
        ),
    ],
)
def test_classification(status, body, kind):
    """Unit view of the rule (cooldown.classify with request_faults.over_token_limit)."""
    assert classify(status, orjson.dumps(body).decode()).kind == kind
