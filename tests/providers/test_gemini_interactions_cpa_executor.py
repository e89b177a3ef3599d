"""CPA's native-Interactions cases of internal/runtime/executor/gemini_executor_test.go
(``TestGeminiExecutorNativeInteractions*``): an ``interactions-api-key`` credential (CPA's
``gemini-interactions`` executor) serves every client format through Google's
``/v1beta/interactions``, here the fake Gemini server's; each case drives the proxy with
the client's own SDK and reads what the fake received."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.fakes.gemini import THOUGHT_SIGNATURE

DEFAULT_REVISION = "2026-05-20"  # CPA's geminiInteractionsAPIRevision

CONFIG = """
api-keys: ["{key}"]
interactions-api-key:
  - api-key: "int-key-1"
    base-url: "{base}"
{headers}    models:
      - {{name: "gemini-3.1-flash-lite", alias: "gemini-3.1-flash-lite"}}
      - {{name: "gemini-3.5-flash", alias: "gemini-3.5-flash"}}
{extra}
"""


async def _proxy(start_proxy: Any, fakes: Any, *, headers: str = "", extra: str = "") -> Any:
    text = CONFIG.format(key=KEY, base=fakes.gemini.base_url, headers=headers, extra=extra)
    proxy = await start_proxy(text)
    proxy.fakes = fakes
    return proxy


@pytest.fixture
async def proxy(start_proxy, fakes):
    return await _proxy(start_proxy, fakes)


async def post(
    base: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    sent = {"x-goog-api-key": KEY, "x-api-key": KEY, "Authorization": f"Bearer {KEY}", **(headers or {})}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.post(base + path, json=body, headers=sent) as resp,
    ):
        return resp.status, await resp.read()


def frames(raw: bytes) -> list[bytes]:
    return [f for f in raw.split(b"\n\n") if f.strip()]


def data_of(frame: bytes) -> Any:
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            value = line[6:]
            return value.decode() if value == b"[DONE]" else orjson.loads(value)
    return None


# ---------------------------------------------------------------- endpoint and headers


async def test_interactions_client_uses_the_interactions_endpoint(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsUsesInteractionsEndpoint: ``/v1beta/interactions``
    with CPA's default ``Api-Revision`` when the client names none, and the answer comes
    back as the upstream wrote it.

    Differs on purpose: CPA's case sends an agent-only body (``agent``, no ``model``);
    cliproxy does not route agents yet and answers such a request 501 with a clear
    message (formats/interactions.validate), asserted below."""
    status, raw = await post(proxy.url, "/v1beta/interactions", {"model": "gemini-3.5-flash", "input": "hi"})
    assert status == 200, raw
    rec = proxy.fakes.gemini.last
    assert rec.path == "/v1beta/interactions"
    assert rec.headers["Api-Revision"] == DEFAULT_REVISION
    assert rec.headers["x-goog-api-key"] == "int-key-1"
    assert orjson.loads(raw)["id"].startswith("interaction_")
    status, raw = await post(proxy.url, "/v1beta/interactions", {"agent": "agents/test-agent", "input": "hi"})
    assert status == 501 and b"agent" in raw


async def test_credential_api_revision_is_sent(start_proxy, fakes) -> None:
    """TestGeminiExecutorNativeInteractionsPreservesApiRevision: the credential's
    ``headers: Api-Revision`` is sent in place of the default."""
    proxy = await _proxy(start_proxy, fakes, headers='    headers: {"Api-Revision": "2026-06-01"}\n')
    status, raw = await post(proxy.url, "/v1beta/interactions", {"model": "gemini-3.5-flash", "input": "hi"})
    assert status == 200, raw
    assert fakes.gemini.last.headers["Api-Revision"] == "2026-06-01"


async def test_client_api_revision_is_sent(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsUsesRequestApiRevision."""
    body = {"model": "gemini-3.5-flash", "input": "hi"}
    status, raw = await post(proxy.url, "/v1beta/interactions", body, {"Api-Revision": "2026-06-01"})
    assert status == 200, raw
    assert proxy.fakes.gemini.last.headers["Api-Revision"] == "2026-06-01"


async def test_client_api_revision_does_not_override_the_credentials(start_proxy, fakes) -> None:
    """TestGeminiExecutorNativeInteractionsRequestApiRevisionDoesNotOverrideAuthHeader (the
    configured name in another spelling counts as the same header)."""
    proxy = await _proxy(start_proxy, fakes, headers='    headers: {"api-revision": "2026-06-01"}\n')
    body = {"model": "gemini-3.5-flash", "input": "hi"}
    status, raw = await post(proxy.url, "/v1beta/interactions", body, {"Api-Revision": "2026-07-01"})
    assert status == 200, raw
    sent = [v for k, v in fakes.gemini.last.headers.items() if k.lower() == "api-revision"]
    assert sent == ["2026-06-01"]


# ---------------------------------------------------------------- Responses clients


async def test_responses_client_is_translated(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsTranslatesOpenAIResponsesRequest: input items
    become ``user_input`` steps, ``reasoning.effort`` a ``thinking_level``, and the answer a
    Responses ``output``."""
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, timeout=15)
    try:
        answer = await client.responses.create(
            model="gemini-3.1-flash-lite",
            instructions="be brief",
            input=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            reasoning={"effort": "high", "summary": "auto"},
        )
    finally:
        await client.close()
    rec = proxy.fakes.gemini.last
    assert rec.path == "/v1beta/interactions"
    assert rec.json["input"][0]["type"] == "user_input"
    assert rec.json["generation_config"]["thinking_level"] == "high"
    assert "Hello from fake" in answer.output_text


async def test_payload_rules_match_the_responses_from_protocol(start_proxy, fakes) -> None:
    """TestGeminiExecutorNativeInteractionsPayloadRulesUseResponsesFromProtocol: of two
    override rules, the one whose ``from-protocol`` is the client's (responses) applies."""
    extra = """
payload:
  override:
    - models: [{name: "gemini-3.1-flash-lite", protocol: "interactions", from-protocol: "openai"}]
      params: {"generation_config.thinking_summaries": "wrong"}
    - models: [{name: "gemini-3.1-flash-lite", protocol: "interactions", from-protocol: "responses"}]
      params: {"generation_config.thinking_summaries": "detailed"}
"""
    proxy = await _proxy(start_proxy, fakes, extra=extra)
    body = {
        "model": "gemini-3.1-flash-lite",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    }
    status, raw = await post(proxy.url, "/v1/responses", body)
    assert status == 200, raw
    assert fakes.gemini.last.json["generation_config"]["thinking_summaries"] == "detailed"


async def test_responses_stream_ends_after_response_completed(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsResponsesStreamEmitsDone.

    Differs on purpose: CPA relays the upstream's ``data: [DONE]`` to a Responses client;
    OpenAI's Responses API ends its streams with ``response.completed`` and no ``[DONE]``,
    and cliproxy keeps to that for every upstream. The stream ends cleanly either way."""
    body = {
        "model": "gemini-3.1-flash-lite",
        "stream": True,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    }
    status, raw = await post(proxy.url, "/v1/responses", body)
    assert status == 200, raw
    events = [data_of(f) for f in frames(raw)]
    assert events[-1]["type"] == "response.completed"


# ---------------------------------------------------------------- Chat Completions clients


async def test_chat_client_stream_with_tools_is_translated(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsTranslatesOpenAIChatRequest: messages become
    ``input``, tools ``function`` tools, ``tool_choice`` goes into ``generation_config``;
    the streamed call reaches the client with the upstream step's id."""
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, timeout=15)
    tool = {"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}
    calls: dict[int, dict[str, str]] = {}
    try:
        stream = await client.chat.completions.create(
            model="gemini-3.1-flash-lite",
            stream=True,
            messages=[{"role": "user", "content": "FAKE_TOOL 今天北京的天气怎么样？"}],
            tools=[tool],  # type: ignore[list-item]
            tool_choice="auto",
        )
        async for chunk in stream:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                entry = calls.setdefault(call.index, {"id": "", "name": ""})
                entry["id"] = entry["id"] or (call.id or "")
                entry["name"] = entry["name"] or (call.function.name if call.function else "") or ""
    finally:
        await client.close()
    sent = proxy.fakes.gemini.last.json
    assert sent["input"][0]["content"][0]["text"] == "FAKE_TOOL 今天北京的天气怎么样？"
    assert "messages" not in sent
    assert sent["tools"][0]["type"] == "function"
    assert sent["generation_config"]["tool_choice"] == "auto"
    assert [c["name"] for c in calls.values()] == ["bash"]
    assert calls[0]["id"].startswith("call_")


async def test_payload_defaults_see_the_chat_clients_fields(start_proxy, fakes) -> None:
    """TestGeminiExecutorNativeInteractionsPayloadDefaultsUseTranslatedOpenAIChatSource: a
    default rule fills what the client left out (top_p), not what it set (temperature)."""
    extra = """
payload:
  default:
    - models: [{name: "gemini-3.1-flash-lite", protocol: "interactions", from-protocol: "openai"}]
      params: {"generation_config.temperature": 0.9, "generation_config.top_p": 0.8}
"""
    proxy = await _proxy(start_proxy, fakes, extra=extra)
    body = {
        "model": "gemini-3.1-flash-lite",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
    }
    status, raw = await post(proxy.url, "/v1/chat/completions", body)
    assert status == 200, raw
    config = fakes.gemini.last.json["generation_config"]
    assert config["temperature"] == 0.2 and config["top_p"] == 0.8


# ---------------------------------------------------------------- Gemini and Claude clients


async def test_gemini_client_stream_is_translated(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsTranslatesGeminiStreamResponse: ``contents``
    become ``input``; the client gets Gemini chunks only (no ``event_type``), the call with
    its arguments and the step's signature as ``thoughtSignature``, and a STOP chunk with the
    interaction's usage."""
    options = gtypes.HttpOptions(base_url=proxy.url, api_version="v1beta", timeout=15_000)
    client = genai.Client(api_key=KEY, http_options=options)
    declaration = gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
    config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[declaration])])
    chunks = []
    try:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-3.1-flash-lite", contents="FAKE_TOOL 今天北京的天气怎么样？", config=config
        )
        async for chunk in stream:
            chunks.append(chunk)
    finally:
        await client.aio.aclose()
    sent = proxy.fakes.gemini.last
    assert sent.path == "/v1beta/interactions" and "contents" not in sent.json
    assert sent.json["input"][0]["content"][0]["text"] == "FAKE_TOOL 今天北京的天气怎么样？"
    parts = [
        p for c in chunks for cand in c.candidates or [] for p in (cand.content.parts if cand.content else [])
    ]
    call_parts = [p for p in parts if p.function_call]
    assert len(call_parts) == 1 and call_parts[0].function_call.name == "bash"
    assert "FAKE_TOOL_OK" in call_parts[0].function_call.args["command"]
    assert call_parts[0].thought_signature == __import__("base64").b64decode(THOUGHT_SIGNATURE)
    finish = [c for c in chunks if c.candidates and c.candidates[0].finish_reason]
    assert finish and finish[-1].candidates[0].finish_reason == gtypes.FinishReason.STOP
    usage = finish[-1].usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count


async def test_claude_client_is_translated(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsTranslatesClaudeRequest."""
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, timeout=15)
    try:
        message = await client.messages.create(
            model="gemini-3.1-flash-lite",
            max_tokens=1024,
            tools=[{"name": "get_weather", "description": "weather", "input_schema": TOOL_SCHEMA}],
            messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        )
    finally:
        await client.close()
    sent = proxy.fakes.gemini.last.json
    assert sent["input"][0]["content"][0]["text"] == "hi" and "messages" not in sent
    assert sent["tools"][0]["type"] == "function"
    assert message.content[0].type == "text" and "Hello from fake" in message.content[0].text
    assert message.usage.output_tokens > 0


async def test_claude_stream_keeps_the_tool_call_signature(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsClaudeStreamPreservesToolSignature: the call's
    input arrives as ``input_json_delta``, the stream ends with ``message_stop``, and the
    step's signature reaches the client and comes back to the upstream on the next turn.

    Differs on purpose: CPA's Interactions-to-Claude translator writes the signature as a
    ``signature`` field on the ``tool_use`` block, which Anthropic's schema lacks (SDKs and
    Claude Code drop it, so it never returns). cliproxy hands it out as it does for every
    Gemini upstream, in CPA's ``next:function`` carrier: a thinking block right before the
    ``tool_use``, which clients keep and send back."""
    tools = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
    question = {"role": "user", "content": [{"type": "text", "text": "FAKE_TOOL hi"}]}
    body = {
        "model": "gemini-3.1-flash-lite",
        "max_tokens": 64,
        "stream": True,
        "tools": tools,
        "messages": [question],
    }
    status, raw = await post(proxy.url, "/v1/messages", body)
    assert status == 200, raw
    events = [data_of(f) for f in frames(raw)]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [e["content_block"]["type"] for e in starts] == ["thinking", "tool_use"]
    carrier = "".join(
        e["delta"]["signature"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0
    )
    assert carrier.startswith("cpa-gemini-carrier-v1:next:function:")
    deltas = [
        e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["index"] == 1
    ]
    tool = starts[1]["content_block"]
    assert "FAKE_TOOL_OK" in orjson.loads("".join(deltas))["command"]
    assert events[-1]["type"] == "message_stop"
    answer = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "", "signature": carrier},
            {"type": "tool_use", "id": tool["id"], "name": "bash", "input": orjson.loads("".join(deltas))},
        ],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": tool["id"], "content": "ok"}],
    }
    body = {**body, "stream": False, "messages": [question, answer, result]}
    status, raw = await post(proxy.url, "/v1/messages", body)
    assert status == 200, raw
    calls = [s for s in proxy.fakes.gemini.last.json["input"] if s.get("type") == "function_call"]
    assert [c.get("signature") for c in calls] == [THOUGHT_SIGNATURE]


# ---------------------------------------------------------------- Interactions clients


async def test_thinking_suffix_becomes_a_thinking_level(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsAppliesThinkingSuffix: ``(high)`` leaves the model
    name and becomes ``generation_config.thinking_level``; the body stays snake_case
    Interactions (no ``generationConfig``, no ``thinking_config``) and no summaries are
    asked for."""
    body = {
        "model": "gemini-3.1-flash-lite(high)",
        "generation_config": {"max_output_tokens": 32},
        "input": "hi",
    }
    status, raw = await post(proxy.url, "/v1beta/interactions", body)
    assert status == 200, raw
    sent = proxy.fakes.gemini.last.json
    assert sent["model"] == "gemini-3.1-flash-lite"
    assert "generationConfig" not in sent
    config = sent["generation_config"]
    assert "thinking_config" not in config and "thinking_summaries" not in config
    assert config["thinking_level"] == "high" and config["max_output_tokens"] == 32


async def test_thinking_fields_of_the_client_are_kept(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsPreservesThinkingProtocolFields."""
    config = {"tool_choice": "auto", "thinking_level": "high", "thinking_summaries": "auto"}
    body = {"model": "gemini-3.1-flash-lite", "generation_config": config, "input": "hi"}
    status, raw = await post(proxy.url, "/v1beta/interactions", body)
    assert status == 200, raw
    sent = proxy.fakes.gemini.last.json
    assert "generationConfig" not in sent and "thinking_config" not in sent["generation_config"]
    assert sent["generation_config"]["thinking_level"] == "high"
    assert sent["generation_config"]["thinking_summaries"] == "auto"


async def test_interactions_stream_is_relayed_frame_by_frame(proxy) -> None:
    """TestGeminiExecutorNativeInteractionsStreamParsesUsage: every chunk is a whole SSE
    frame with ``event:`` and ``data:``, and ``interaction.completed`` carries the usage."""
    body = {"model": "gemini-3.5-flash", "input": "hi", "stream": True}
    status, raw = await post(proxy.url, "/v1beta/interactions", body)
    assert status == 200, raw
    completed = None
    for frame in frames(raw):
        assert frame.startswith(b"event: ") and b"\ndata: " in frame, frame
        data = data_of(frame)
        if isinstance(data, dict) and data.get("event_type") == "interaction.completed":
            completed = data
    assert completed is not None
    usage = completed["interaction"]["usage"]
    assert usage["total_input_tokens"] > 0 and usage["total_output_tokens"] > 0
    assert usage["total_tokens"] == usage["total_input_tokens"] + usage["total_output_tokens"]
