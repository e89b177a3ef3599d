"""count_tokens against upstreams with no count endpoint (OpenAI-compatible Chat, Codex,
xAI) is counted locally, with the BPE encoding CPA picks per model, and never sends
anything upstream (issue 15, defect 11).

Before: Codex estimated bytes/4, an OpenAI-compatible upstream got a generation request
for every count (and the client read ``input_tokens: 0``), xAI answered 501.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.formats import Format
from cliproxy.translate import tokens
from cliproxy.translate.token_segments import chat_segments, claude_segments, codex_segments, xai_segments
from tests.e2e.clients import KEY, ask
from tests.fakes.server import Behavior

SYSTEM = "You are a careful assistant. Answer briefly."
PROMPT = "Count the tokens of this sentence, please: the quick brown fox jumps over the lazy dog."
TOOLS = [
    {
        "name": "bash",
        "description": "Run a shell command",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    }
]


async def _claude_count(base: str, model: str, **extra: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=base, api_key=KEY, max_retries=0) as client:
        result = await client.messages.count_tokens(
            model=model, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}], **extra
        )
    return result.input_tokens


async def _gemini_count(base: str, model: str) -> int:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=base, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        result = await client.aio.models.count_tokens(model=model, contents=PROMPT)
    finally:
        await client.aio.aclose()
    assert result.total_tokens is not None
    return result.total_tokens


@pytest.mark.parametrize(
    ("model", "fake"), [("compat-model", "openai"), ("codex-model", "responses")], ids=["chat", "codex"]
)
async def test_sdk_counts_locally_with_no_upstream_call(matrix, model: str, fake: str) -> None:
    """The anthropic SDK's ``messages.count_tokens`` and google-genai's ``count_tokens``
    get a positive count; the fake upstream records no request at all."""
    upstream = getattr(matrix.fakes, fake)
    claude = await _claude_count(matrix.url, model)
    with_tools = await _claude_count(matrix.url, model, tools=TOOLS)
    gemini = await _gemini_count(matrix.url, model)
    assert claude > 0 and gemini > 0
    assert with_tools > claude  # tool declarations are counted, as CPA counts them
    assert upstream.requests == []


async def test_chat_count_is_cpas_count_of_the_translated_request(matrix) -> None:
    """An OpenAI-compatible upstream: the Claude request is translated to Chat and counted
    as CPA counts Chat (roles, text) with the model's encoding (gpt-4o-mini: o200k)."""
    got = await _claude_count(matrix.url, "compat-model")
    body = {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]}
    assert got == tokens.count_text(tokens.O200K, "\n".join(chat_segments(body)))


async def test_codex_count_is_cpas_count_of_the_translated_request(matrix) -> None:
    """A Codex upstream: instructions and message text, o200k for gpt-5.4."""
    got = await _claude_count(matrix.url, "codex-model")
    body = {"instructions": SYSTEM, "input": [{"type": "message", "content": [{"text": PROMPT}]}]}
    assert got == tokens.count_text(tokens.O200K, "\n".join(codex_segments(body)))


async def _post(base: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"x-api-key": KEY, "x-goog-api-key": KEY}
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(base + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_count_shapes_per_client_format(matrix) -> None:
    """Each count route answers in its format's shape: Claude ``input_tokens``, Gemini
    ``totalTokens`` (also with the ``generateContentRequest`` wrapper, in either spelling)."""
    contents = [{"role": "user", "parts": [{"text": "hello there"}]}]
    claude = await _post(
        matrix.url,
        "/v1/messages/count_tokens",
        {"model": "codex-model", "messages": [{"role": "user", "content": "hello there"}]},
    )
    gemini = await _post(matrix.url, "/v1beta/models/compat-model:countTokens", {"contents": contents})
    wrapped = await _post(
        matrix.url,
        "/v1beta/models/compat-model:countTokens",
        {"generateContentRequest": {"contents": contents}},
    )
    snake = await _post(
        matrix.url,
        "/v1beta/models/compat-model:countTokens",
        {"generate_content_request": {"contents": contents}},
    )
    assert claude[0] == 200 and set(claude[1]) == {"input_tokens"} and claude[1]["input_tokens"] > 0
    assert gemini[0] == 200 and set(gemini[1]) == {"totalTokens"} and gemini[1]["totalTokens"] > 0
    assert wrapped == gemini
    assert snake == gemini  # proto JSON's field name spelling, which Google's REST API takes too
    assert matrix.fakes.openai.requests == [] and matrix.fakes.responses.requests == []


async def test_codex_only_count_never_cools_the_credential(start_proxy, fake_responses) -> None:
    """A Codex-only config: counts (and a malformed one, the client's 400), then a normal
    request; the counts reached nothing upstream and the generation still succeeds (the
    only credential was not cooled)."""
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fake_responses.base_url}/backend-api/codex"
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
"""
    )
    for _ in range(3):
        assert await _claude_count(proxy.url, "codex-model") > 0
    bad = await _post(proxy.url, "/v1/messages/count_tokens", {"model": "codex-model", "messages": "nope"})
    assert bad[0] == 400
    assert fake_responses.requests == []
    answer = await ask(Format.CLAUDE, proxy.url, "codex-model", "Say hello", stream=False)
    assert answer.text
    assert [r.path for r in fake_responses.requests] == ["/backend-api/codex/responses"]


@pytest.fixture
async def xai(start_proxy, fake_openai):
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_openai.base_url}/v1"
"""
    )
    proxy.fake = fake_openai
    return proxy


async def test_xai_counts_locally_with_o200k(xai) -> None:
    """xAI: CPA counts with o200k, never upstream (was a 501)."""
    claude = await _claude_count(xai.url, "grok-4.6")
    gemini = await _gemini_count(xai.url, "grok-4.6")
    assert claude > 0 and gemini > 0
    body = {
        "instructions": SYSTEM,
        "input": [{"type": "message", "content": [{"type": "input_text", "text": PROMPT}]}],
    }
    assert claude == tokens.count_text(tokens.O200K, "\n".join(xai_segments(body)))
    assert xai.fake.requests == []


async def test_a_bad_count_request_is_the_clients_400(matrix) -> None:
    """A malformed count body is the client's 400 in its own format, not an upstream call.

    CPA: TestClaudeExecutor_CountTokensRejectsInvalidRequests."""
    status, body = await _post(
        matrix.url, "/v1/messages/count_tokens", {"model": "codex-model", "messages": "nope"}
    )
    assert status == 400 and body["type"] == "error"
    assert matrix.fakes.responses.requests == []


async def test_large_prompt_counts_in_pieces_close_to_one_pass() -> None:
    """Texts longer than one piece are counted piece by piece (the event loop gets turns);
    the total stays within a token per piece of a single pass."""
    line = "def handler(request):  # the proxy counts this line, 中文 too\n"
    text = line * (3 * tokens.PIECE // len(line))
    whole = tokens.count_text(tokens.O200K, text)
    pieced = await tokens.count(tokens.O200K, [text])
    assert abs(pieced - whole) <= len(text) // tokens.PIECE + 1


async def test_a_claude_gateway_counts_locally_and_is_never_asked(start_proxy, fake_claude) -> None:
    """A Claude key on a gateway (not api.anthropic.com): the count is CPA's local one (o200k
    over the request's text, its ``collectClaudeInputTokenSegments``), nothing reaches the
    gateway (which mostly has no count_tokens path), and the next generation goes to the
    same key. Before, the gateway was asked first and counted locally after its 404.

    CPA: TestClaudeExecutor_CountTokensCountsLocallyWithoutUpstreamRequest,
    TestShouldUseClaudeUpstreamTokenCount (more in test_claude_count_gateway_cpa.py)."""
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-gw"
    base-url: "{fake_claude.base_url}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "gw-model"
"""
    )
    got = await _claude_count(proxy.url, "gw-model")
    body = {"system": SYSTEM, "messages": [{"role": "user", "content": PROMPT}]}
    assert got == await tokens.count(tokens.O200K, claude_segments(body))
    assert not any(r.path.endswith("/count_tokens") for r in fake_claude.requests)
    answer = await ask(Format.CLAUDE, proxy.url, "gw-model", "Say hello", stream=False)
    assert answer.text


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_a_claude_api_without_count_tokens_counts_locally(start_proxy, anthropic_api, status) -> None:
    """The Claude API the endpoint table names (``CLIPROXY_OAUTH_CLAUDE_API``, a private
    deployment's relay) is asked; when it has no count_tokens path the count is local and
    its refusal cools nothing."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-ant-gw"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "gw-model"}]\n'
    )
    anthropic_api.script(Behavior(status=status, path="count_tokens", times=None))
    got = await _claude_count(proxy.url, "gw-model")
    body = {"system": SYSTEM, "messages": [{"role": "user", "content": PROMPT}]}
    assert got == await tokens.count(tokens.O200K, claude_segments(body))
    assert any(r.path.endswith("/count_tokens") for r in anthropic_api.requests)
    assert await proxy.service.pool.cooldowns(proxy.service.pool.credentials()[0]) == []


async def test_a_claude_api_that_lacks_the_model_suspends_it(start_proxy, anthropic_api) -> None:
    """CPA's TestManager_ExecuteCount_ExplicitModelNotFoundSuspendsModel: a Claude API
    that has count_tokens but answers 404 "model X was not found" is not a missing route.
    The client gets the 404 and the model is suspended for about 12 hours, as after a
    generation 404; a route 404 (the test above) still counts locally and cools nothing."""
    fake_claude = anthropic_api
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-ant-gw"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "gw-model"}]\n'
    )
    missing = {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model claude-sonnet-4-6 was not found"},
    }
    fake_claude.script(Behavior(status=404, path="count_tokens", body=missing))
    with pytest.raises(anthropic.NotFoundError) as caught:
        await _claude_count(proxy.url, "gw-model")
    assert "was not found" in str(caught.value)
    pool = proxy.service.pool
    [record] = await pool.cooldowns(pool.credentials()[0])
    assert record.model and record.reason == "not_found"
    assert 11 * 3600 < record.next_retry_after - pool.clock() <= 12 * 3600
