"""The thinking step on token counts, through a running proxy into the fakes.

CPA runs its thinking step in every executor's ``CountTokens`` (``helps.ApplyRequestThinking``
in ``claude_executor_tokens.go``, ``gemini_executor.go``, ``codex_executor_tokens.go``,
``openai_compat_executor.go``...), exactly as for a generation: a setting the model cannot
take is the client's 400 before anything goes upstream, and a ``model(value)`` suffix or
the client's own fields reach the upstream count body as the generation would carry them.
Payload rules are not applied to a count (no CPA executor runs them there).

Before, cliproxy's count paths skipped the thinking step: an invalid setting was counted
(or sent upstream) and a suffix was dropped from the upstream count body.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.thinking_proxy import keys_config

pytestmark = pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally

COUNT = "/v1/messages/count_tokens"


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    payload = """payload:
  override:
    - models: [{name: "*"}]
      params: {"stop_sequences": ["END"]}
"""
    proxy = await start_proxy(
        keys_config(
            fakes,
            claude=[{"name": "claude-sonnet-4-5-20250929"}, {"name": "claude-opus-4-6"}],
            codex=[{"name": "gpt-5.4"}],
            gemini=[{"name": "gemini-3-pro-preview"}],
            extra=payload,
        )
    )
    proxy.fakes = fakes
    return proxy


async def claude_count(url: str, model: str, **body: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0, timeout=15) as client:
        got = await client.messages.count_tokens(
            model=model, messages=[{"role": "user", "content": "hello"}], **body
        )
    return got.input_tokens


async def gemini_count(url: str, model: str) -> int:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        got = await client.aio.models.count_tokens(model=model, contents="hello")
    finally:
        await client.aio.aclose()
    assert got.total_tokens is not None
    return got.total_tokens


def counts(fake: Any, path: str) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith(path)]


async def test_a_suffix_reaches_the_upstream_count(proxy: Any) -> None:
    """TestApplyRequestThinkingUsesSelectedPrefixedAPIKeyModel (its count row):
    ``ExecuteCount`` gets the thinking setting a generation gets. A budget suffix on a
    Claude model is Claude's ``thinking`` in the count body Anthropic receives; payload
    rules stay off the count."""
    model = "claude-sonnet-4-5-20250929(8192)"
    await claude_count(proxy.url, model)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        await client.messages.create(
            model=model, max_tokens=16000, messages=[{"role": "user", "content": "hi"}]
        )
    sent = counts(proxy.fakes.claude, COUNT)[-1].json
    generation = proxy.fakes.claude.last.json
    assert sent["model"] == "claude-sonnet-4-5-20250929"
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192} == generation["thinking"]
    assert "stop_sequences" not in sent and generation["stop_sequences"] == ["END"]


async def test_the_clients_own_effort_is_checked_and_written(proxy: Any) -> None:
    """CPA's count runs the same apply as Execute: a Claude client's adaptive thinking at
    a level the model lists is sent on as it came (a level-only write)."""
    await claude_count(
        proxy.url,
        "claude-opus-4-6",
        thinking={"type": "adaptive"},
        extra_body={"output_config": {"effort": "max"}},
    )
    sent = counts(proxy.fakes.claude, COUNT)[-1].json
    assert sent["thinking"]["type"] == "adaptive" and sent["output_config"]["effort"] == "max"


@pytest.mark.parametrize(
    ("model", "body", "said"),
    [
        (
            "claude-sonnet-4-5-20250929",
            {"thinking": {"type": "enabled", "budget_tokens": 500}},
            "budget 500 out of range [1024,128000]",
        ),
        (
            "claude-opus-4-6",
            {"thinking": {"type": "adaptive"}, "extra_body": {"output_config": {"effort": "xhigh"}}},
            'level "xhigh" not supported',
        ),
    ],
    ids=["budget", "level"],
)
async def test_an_invalid_claude_setting_is_the_counts_400(
    proxy: Any, model: str, body: dict[str, Any], said: str
) -> None:
    """CPA's thinking validation (``internal/thinking/validate.go``) on
    ``/v1/messages/count_tokens``: Anthropic's error shape, 400, nothing upstream."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude_count(proxy.url, model, **body)
    assert caught.value.status_code == 400 and said in str(caught.value)
    assert counts(proxy.fakes.claude, COUNT) == []


async def test_gemini_count_tokens_checks_the_suffix(proxy: Any) -> None:
    """Gemini's ``:countTokens`` (CPA's GeminiExecutor.CountTokens applies thinking, then
    drops generationConfig): a level the model lacks is Google's 400; a level it has is
    counted upstream under the bare model name."""
    with pytest.raises(gerrors.ClientError) as caught:
        await gemini_count(proxy.url, "gemini-3-pro-preview(medium)")
    assert caught.value.code == 400 and 'level "medium" not supported' in str(caught.value)
    assert counts(proxy.fakes.gemini, ":countTokens") == []
    assert await gemini_count(proxy.url, "gemini-3-pro-preview(high)") > 0
    sent = counts(proxy.fakes.gemini, ":countTokens")
    assert len(sent) == 1 and "/models/gemini-3-pro-preview:countTokens" in sent[0].path
    assert "generationConfig" not in sent[0].json


async def test_a_local_count_checks_thinking_too(proxy: Any) -> None:
    """CodexExecutor.CountTokens (counted locally) runs the thinking step before counting:
    an effort no level can stand for is the 400, a good one is counted; nothing goes
    upstream either way."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude_count(
            proxy.url,
            "gpt-5.4",
            thinking={"type": "adaptive"},
            extra_body={"output_config": {"effort": "ultra"}},
        )
    assert 'level "ultra" not supported' in str(caught.value)
    assert await claude_count(proxy.url, "gpt-5.4(high)") > 0
    assert proxy.fakes.responses.requests == []


async def test_a_count_without_thinking_is_unchanged(proxy: Any) -> None:
    """Not concerned: no setting asked, no ``thinking`` written into the count body."""
    await claude_count(proxy.url, "claude-sonnet-4-5-20250929")
    assert "thinking" not in counts(proxy.fakes.claude, COUNT)[-1].json


async def test_gemini_count_checks_the_wrapped_requests_own_setting(proxy: Any) -> None:
    """The ``generateContentRequest`` form of ``:countTokens`` carries a generationConfig
    (google-genai cannot send one to the Gemini API, so this is plain HTTP): its
    thinkingConfig is checked as a generation's, Google's error shape and 400."""
    body = {
        "generateContentRequest": {
            "model": "models/gemini-3-pro-preview",
            "contents": [{"role": "user", "parts": [{"text": "hello"}]}],
            "generationConfig": {"thinkingConfig": {"thinkingLevel": "medium"}},
        }
    }
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(
            proxy.url + "/v1beta/models/gemini-3-pro-preview:countTokens",
            json=body,
            headers={"x-goog-api-key": KEY},
        ) as resp,
    ):
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT", error
    assert 'level "medium" not supported' in error["message"]
    assert counts(proxy.fakes.gemini, ":countTokens") == []
