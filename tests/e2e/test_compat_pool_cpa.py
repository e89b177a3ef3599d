"""CPA's openai-compatibility alias pool cases (sdk/cliproxy/auth/openai_compat_pool_test.go)
through a running proxy: one alias served by several upstream names of one provider
entry. A failure of one name that another name may not share (a quota, a model the
upstream does not serve) tries the next name on the same key before the next key; a
request fault goes to the client after one attempt.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

ALIAS = "claude-opus-4.66"
UNSUPPORTED = "The requested model is not supported."
# the refusal as an OpenAI-compatible upstream words it: its code says what its text says
REFUSAL = {"error": {"message": UNSUPPORTED, "type": "invalid_request_error", "code": "model_not_supported"}}


def _config(fakes: Any, keys: tuple[str, ...] = ("k1",), extra: str = "", force: bool = False) -> str:
    entries = ", ".join(f'{{api-key: "{k}"}}' for k in keys)
    flag = ", force-mapping: true" if force else ""
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: pool
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{entries}]
    models:
      - {{name: "deepseek-v3.1", alias: "{ALIAS}"{flag}}}
      - {{name: "glm-5", alias: "{ALIAS}"{flag}}}
{extra}"""


def _sent(fakes: Any, path: str = "/v1/chat/completions") -> list[str]:
    return [r.json["model"] for r in fakes.openai.requests if r.path == path]


async def _chat(proxy: Any, stream: bool = False) -> Any:
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0) as client:
        kwargs: dict[str, Any] = {"model": ALIAS, "messages": [{"role": "user", "content": "Say hello"}]}
        if not stream:
            return await client.chat.completions.create(**kwargs)
        async with client.chat.completions.stream(**kwargs) as s:
            return await s.get_final_completion()


async def test_the_pool_rotates_within_one_key(start_proxy, fakes):
    """TestManagerExecute_OpenAICompatAliasPoolRotatesWithinAuth."""
    proxy = await start_proxy(_config(fakes))
    for _ in range(3):
        await _chat(proxy)
    assert _sent(fakes) == ["deepseek-v3.1", "glm-5", "deepseek-v3.1"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_force_mapping_rotates_and_names_the_alias(start_proxy, fakes, stream):
    """TestManagerExecute_OpenAICompatAliasPoolForceMappingRotatesAndRewritesResponse and
    TestManagerExecute_OpenAICompatAliasPoolUsesSelectedModelForceMapping: each answer
    names the alias whichever name served it."""
    proxy = await start_proxy(_config(fakes, force=True))
    for _ in range(2):
        assert (await _chat(proxy, stream)).model == ALIAS
    assert _sent(fakes) == ["deepseek-v3.1", "glm-5"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_request_fault_stops_at_the_first_name(start_proxy, fakes, stream):
    """TestManagerExecute_OpenAICompatAliasPoolStopsOnBadRequest,
    TestManagerExecuteStream_OpenAICompatAliasPoolStopsOnInvalidRequest and
    TestManagerExecuteStream_OpenAICompatAliasPoolStopsOnInvalidBootstrap: a malformed request is not the next name's to fix."""
    proxy = await start_proxy(_config(fakes, keys=("k1", "k2")))
    fakes.openai.fail_next(400, model="deepseek-v3.1", message="malformed payload", times=None)
    with pytest.raises(openai.BadRequestError) as info:
        await _chat(proxy, stream)
    assert "malformed payload" in str(info.value)
    assert _sent(fakes) == ["deepseek-v3.1"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("status", [429, 400, 422])
async def test_the_next_name_of_the_same_key_serves_what_the_first_could_not(
    start_proxy, fakes, status, stream
):
    """TestManagerExecute_OpenAICompatAliasPoolFallsBackWithinSameAuth (a quota),
    TestManagerExecute_OpenAICompatAliasPoolFallsBackOnModelSupportBadRequest,
    TestManagerExecute_OpenAICompatAliasPoolFallsBackOnModelSupportUnprocessableEntity and
    TestManagerExecuteStream_OpenAICompatAliasPoolFallsBackBeforeFirstByte: the second
    name answers on the same key, before the client saw a byte."""
    proxy = await start_proxy(_config(fakes, keys=("k1",)))
    body = None if status == 429 else REFUSAL
    fakes.openai.fail_next(status, model="deepseek-v3.1", message="quota", body=body)
    answer = await _chat(proxy, stream)
    assert answer.model == "glm-5"
    assert _sent(fakes) == ["deepseek-v3.1", "glm-5"]
    assert {r.key for r in fakes.openai.requests} == {"k1"}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("status", [400, 422])
async def test_a_name_the_upstream_does_not_serve_is_skipped_later(start_proxy, fakes, status, stream):
    """TestManagerExecute_OpenAICompatAliasPoolSkipsSuspendedUpstreamOnLaterRequests and
    TestManagerExecuteStream_OpenAICompatAliasPoolSkipsSuspendedUpstreamOnLaterRequests: after the model
    refusal, the key's later requests go to the other name only."""
    proxy = await start_proxy(_config(fakes))
    fakes.openai.fail_next(status, model="deepseek-v3.1", body=REFUSAL, times=None)
    for _ in range(3):
        assert (await _chat(proxy, stream)).model == "glm-5"
    assert _sent(fakes) == ["deepseek-v3.1", "glm-5", "glm-5", "glm-5"]


async def _count(proxy: Any) -> tuple[int, dict[str, Any]]:
    body = {"model": ALIAS, "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages/count_tokens", json=body, headers={"x-api-key": KEY}) as r,
    ):
        return r.status, await r.json()


async def test_an_empty_stream_start_tries_the_next_name(start_proxy, fakes):
    """TestManagerExecuteStream_OpenAICompatAliasPoolRetriesOnEmptyBootstrap: a stream that
    ends before any content is retried on the next name."""
    proxy = await start_proxy(_config(fakes))
    fakes.openai.script(Behavior(model="deepseek-v3.1", end_after=0))
    answer = await _chat(proxy, stream=True)
    assert answer.model == "glm-5" and answer.choices[0].message.content
    assert _sent(fakes) == ["deepseek-v3.1", "glm-5"]


async def test_a_blocked_key_does_not_use_up_the_credential_budget(start_proxy, fakes):
    """TestManagerExecute_OpenAICompatAliasPoolBlockedAuthDoesNotConsumeRetryBudget: with
    max-retry-credentials 1, a key whose every name is suspended is not picked, so it
    spends none of the budget: the other key answers with one upstream call."""
    proxy = await start_proxy(_config(fakes, keys=("k-bad", "k-good"), extra="max-retry-credentials: 1\n"))
    fakes.openai.script(Behavior(key="k-bad", status=400, body=REFUSAL, times=None))
    for _ in range(2):  # until k-bad has refused both names (a request on k-good may come first)
        with contextlib.suppress(openai.BadRequestError):
            await _chat(proxy)
    assert [(r.key, r.json["model"]) for r in fakes.openai.requests if r.key == "k-bad"] == [
        ("k-bad", "deepseek-v3.1"),
        ("k-bad", "glm-5"),
    ]
    for _ in range(2):
        seen = len(fakes.openai.requests)
        await _chat(proxy)
        assert [r.key for r in fakes.openai.requests[seen:]] == ["k-good"]
