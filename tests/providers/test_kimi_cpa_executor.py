"""CPA's Kimi executor cases (internal/runtime/executor/kimi_executor_test.go) not ported
elsewhere, through a running proxy to the fake Claude and OpenAI servers standing in for
Kimi's Messages and Chat Completions endpoints. The tool-link repairs are in
test_kimi_chat_links.py, the thinking replay in tests/translate/cpa/test_kimi_thinking_replay.py,
test_kimi_replay_clear.py and tests/e2e/test_thinking_kimi_replay.py."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from cliproxy.providers.kimi import upstream_model
from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import HEAD, kimi_file
from tests.fakes.claude import Compression


async def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(url, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_request_keeps_the_requested_model_and_its_effort(
    start_proxy, fake_claude, tmp_path, stream: bool
) -> None:
    """TestKimiExecutorClaudeRequestPreservesInternalModelSemantics: ``kimi-k2.5(max)`` goes
    up as ``k2.5`` with the suffix as an effort, and the client reads back the model it asked
    for, whole and streamed (CPA's restoreResponseModel)."""
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, timeout=15)
    kwargs: dict[str, Any] = {
        "model": "kimi-k2.5(max)",
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "hello"}],
    }
    try:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(**kwargs)
    finally:
        await client.close()
    sent = fake_claude.last.json
    assert sent["model"] == "k2.5"
    assert sent.get("output_config", {}).get("effort") or sent.get("thinking"), sent
    assert message.model == "kimi-k2.5(max)"


async def test_responses_history_keeps_assistant_text_reasoning_and_calls(
    start_proxy, fake_openai, tmp_path
) -> None:
    """TestKimiExecutorPreservesAssistantContentAndToolCallsFromResponsesHistory: the
    reasoning summary, the assistant's text and its call become one assistant message (text,
    ``reasoning_content``, ``tool_calls``), followed by the tool's output."""
    kimi_file(tmp_path, fake_openai.base_url)
    proxy = await start_proxy(HEAD)
    body = {
        "model": "kimi-k3",
        "input": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "inspect the next step"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Step 3 completed; continue to step 4."}],
            },
            {
                "type": "function_call",
                "call_id": "call_4",
                "name": "exec_command",
                "arguments": '{"cmd":"pwd"}',
            },
            {"type": "function_call_output", "call_id": "call_4", "output": "ok"},
        ],
    }
    status, answer = await post(f"{proxy.url}/v1/responses", body, {"Authorization": f"Bearer {KEY}"})
    assert status == 200, answer
    messages = fake_openai.last.json["messages"]
    assert [m["role"] for m in messages] == ["assistant", "tool"], messages
    assistant = messages[0]
    content = assistant["content"]
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    assert text == "Step 3 completed; continue to step 4."
    assert assistant["reasoning_content"] == "inspect the next step"
    assert assistant["tool_calls"][0]["id"] == "call_4"
    assert messages[1]["tool_call_id"] == "call_4"


async def test_count_tokens_uses_the_upstream_model(start_proxy, fake_claude, tmp_path) -> None:
    """TestKimiExecutorCountTokensUsesCanonicalUpstreamModel: ``kimi-k3[1m](high)`` is
    counted at ``/v1/messages/count_tokens?beta=true`` as ``k3``. CPA's executor test calls
    the executor directly; through the proxy the id needs the alias CPA needs too, since
    routing looks ``kimi-k3[1m]`` up as written (tests/e2e/test_context_1m_ids.py shows the
    400 without it)."""
    kimi_file(tmp_path, fake_claude.base_url)
    alias = 'oauth-model-alias:\n  kimi: [{name: "kimi-k3", alias: "kimi-k3[1m]", fork: true}]\n'
    proxy = await start_proxy(HEAD + alias)
    body = {"model": "kimi-k3[1m](high)", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    status, answer = await post(f"{proxy.url}/v1/messages/count_tokens", body, headers)
    assert status == 200, answer
    rec = fake_claude.last
    assert rec.path.endswith("/v1/messages/count_tokens") and rec.query.get("beta") == "true"
    assert rec.json["model"] == "k3"


async def test_stream_sends_only_the_callers_betas(start_proxy, fake_claude, tmp_path) -> None:
    """TestKimiExecutorClaudeStreamForwardsAnthropicBetaAndLogsUpstream (the wire half; the
    request-log half is CPA's gin context): ``/v1/messages?beta=true``, the caller's
    ``anthropic-beta`` values and no others."""
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    client = anthropic.AsyncAnthropic(
        base_url=proxy.url,
        api_key=KEY,
        timeout=15,
        default_headers={"anthropic-beta": "client-beta-one,client-beta-two"},
    )
    models = []
    try:
        async with client.messages.stream(
            model="kimi-k3", max_tokens=32, messages=[{"role": "user", "content": "hello"}]
        ) as stream:
            async for event in stream:
                if event.type == "message_start":
                    models.append(event.message.model)
    finally:
        await client.close()
    rec = fake_claude.last
    assert rec.path.endswith("/v1/messages") and rec.query.get("beta") == "true"
    assert rec.headers["anthropic-beta"] == "client-beta-one,client-beta-two"
    assert models  # the model it names is the open difference of the first test here


@pytest.mark.parametrize(
    ("model", "want"),
    [
        ("kimi-k3[1m]", "k3"),
        ("kimi-k3", "k3"),
        ("Kimi-K3[1M]", "k3"),
        ("k3[1m]", "k3"),
        ("k3", "k3"),
        ("kimi-k2.6", "k2.6"),
        ("kimi-k2.6[1m]", "k2.6"),
        ("kimi-k3(1024)", "k3(1024)"),
        ("kimi-k3[1m](1024)", "k3(1024)"),
        ("kimi-k2.6(high)", "k2.6(high)"),
        ("kimi-k2.6[1m](high)", "k2.6(high)"),
        ("kimi-k2.7-code", "kimi-for-coding"),
        ("kimi-k2.7-code-highspeed", "kimi-for-coding-highspeed"),
        ("Kimi-K2.7-Code", "kimi-for-coding"),
        ("kimi-k2.7-code-highspeed(high)", "kimi-for-coding-highspeed(high)"),
        ("kimi-k2.7-code[1m](high)", "kimi-for-coding(high)"),
        ("k2.7-code", "kimi-for-coding"),
        ("k2.7-code-highspeed", "kimi-for-coding-highspeed"),
        ("kimi-for-coding", "kimi-for-coding"),
        ("kimi-for-coding-highspeed", "kimi-for-coding-highspeed"),
        ("Kimi-For-Coding", "kimi-for-coding"),
        ("kimi-for-coding-highspeed(high)", "kimi-for-coding-highspeed(high)"),
        ("kimi-for-coding[1m]", "kimi-for-coding"),
        ("for-coding", "kimi-for-coding"),
        ("for-coding-highspeed", "kimi-for-coding-highspeed"),
    ],
)
def test_upstream_model(model: str, want: str) -> None:
    """TestNormalizeKimiUpstreamModel."""
    assert upstream_model(model) == want


async def test_count_tokens_error_body_that_does_not_decode(start_proxy, fake_claude, tmp_path) -> None:
    """TestKimiExecutorCountTokensInvalidGzipErrorBodyReturnsDecodeMessage: Kimi's 400 to a
    count says gzip and is not; the Claude client gets the 400, saying the error body did
    not decode."""
    fake_claude.compression[None] = Compression("gzip", labelled=True, broken=True)
    fake_claude.fail_next(400)
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    body = {"model": "kimi-k3", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    status, answer = await post(f"{proxy.url}/v1/messages/count_tokens", body, headers)
    assert status == 400, answer
    assert answer["type"] == "error"
    assert "failed to decode error response body" in answer["error"]["message"]
    assert fake_claude.last.path.endswith("/v1/messages/count_tokens")
