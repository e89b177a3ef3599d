"""A tool loop with thinking on, OpenAI and Gemini clients through the proxy into the fake
Claude, and a Claude client into the fake Codex.

The fake is as strict as Anthropic (tests/fakes/claude.py): with thinking on, the
assistant turn whose tool calls the last user turn answers must start with a thinking
block carrying a signature the fake issued, else 400 ``invalid_request_error``. Turn 2
gets through only if the proxy puts the signed thinking back in front of the tool call:

* a Responses client carries it in the reasoning item's ``encrypted_content`` (CPA's
  carrier) and sends it back with its history;
* a Chat client cannot carry it: the proxy restores it from its thinking-replay cache,
  keyed as CPA keys it (Claude credential + model, caller API key + session);
* a Gemini client gets the validator-skip sentinel in place of Claude's signature and
  sends its thought back: the proxy signs it from the signature cache, by its text.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth
from tests.e2e.tool_loop import CHAT_TOOLS, PROMPT, chat_second_turn, chat_turns
from tests.fakes.claude import issue_signature, signature_ok
from tests.fakes.gemini import THOUGHT_SIGNATURE
from tests.fakes.openai_responses import ENCRYPTED

OTHER_KEY = "sk-proxy-second-caller"
MODEL = "claude-thinker"
RESPONSES_TOOLS = [{"type": "function", "name": "bash", "parameters": TOOL_SCHEMA}]


def config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}", "{OTHER_KEY}"]
claude-api-key:
  - api-key: "sk-ant-thinking"
    base-url: "{fakes.claude.base_url}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "{MODEL}"
"""


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    p = await start_proxy(config(fakes))
    p.fakes = fakes
    return p


def upstream_turn(fakes: Any) -> list[dict[str, Any]]:
    """The assistant turn the proxy sent upstream in its last request."""
    sent = fakes.claude.last.json
    assert sent["thinking"]["type"] in ("enabled", "adaptive"), sent.get("thinking")
    return next(m for m in reversed(sent["messages"]) if m["role"] == "assistant")["content"]


def assert_signed_before_tool_use(blocks: list[dict[str, Any]]) -> None:
    kinds = [b["type"] for b in blocks]
    assert kinds[0] == "thinking" and "tool_use" in kinds, kinds
    assert signature_ok(blocks[0]["signature"])


# ---------------------------------------------------------------------- Responses client


async def responses_turn(
    client: openai.AsyncOpenAI, items: list[Any], stream: bool, model: str = MODEL
) -> Any:
    kwargs: dict[str, Any] = {
        "model": model,
        "input": items,
        "tools": RESPONSES_TOOLS,
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    if not stream:
        return await client.responses.create(**kwargs)
    async with client.responses.stream(**kwargs) as s:
        return await s.get_final_response()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_responses_client_tool_loop_with_thinking(proxy: Any, stream: bool) -> None:
    history: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await responses_turn(client, history, stream)
        kinds = [item.type for item in first.output]
        assert kinds[0] == "reasoning" and "function_call" in kinds, kinds
        reasoning = first.output[0]
        assert signature_ok(reasoning.encrypted_content)  # the Claude signature, carried
        call = next(item for item in first.output if item.type == "function_call")
        assert json.loads(call.arguments) == {"command": "echo FAKE_TOOL_OK"}
        history += [item.model_dump(exclude_none=True) for item in first.output]
        history.append({"type": "function_call_output", "call_id": call.call_id, "output": "FAKE_TOOL_OK"})
        second = await responses_turn(client, history, stream)
    assert second.output_text == "Tool result received: FAKE_TOOL_OK"
    blocks = upstream_turn(proxy.fakes)
    assert_signed_before_tool_use(blocks)
    assert blocks[0]["signature"] == reasoning.encrypted_content


async def test_responses_client_without_the_carrier_goes_without_thinking_blocks(proxy: Any) -> None:
    """Control: with the reasoning item left out (and no session to restore it from), the
    assistant turn reaches Claude starting with ``tool_use``. This model thinks adaptively,
    under which Anthropic (and the fake) takes that, so it goes with thinking on; with
    manual thinking that one request goes with thinking off
    (tests/e2e/test_translated_loop_thinking.py)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER_KEY, max_retries=0) as client:
        first = await responses_turn(client, [{"role": "user", "content": PROMPT}], False)
        call = next(item for item in first.output if item.type == "function_call")
        history = [
            {"role": "user", "content": PROMPT},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "FAKE_TOOL_OK"},
        ]
        second = await responses_turn(client, history, False)
    assert second.output_text == "Tool result received: FAKE_TOOL_OK"
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive"
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


async def test_responses_client_codex_encrypted_content_is_not_sent_to_claude(proxy: Any) -> None:
    """A GPT ``encrypted_content`` (Fernet-shaped) is no Claude signature: the block is
    dropped rather than sent as an invalid signature (CPA's drop_block for Claude)."""
    fernet = "gAAAAA" + "B" * 130
    history = [
        {"role": "user", "content": "hello"},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "t"}],
            "encrypted_content": fernet,
        },
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "again"},
    ]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await responses_turn(client, history, False)
    assert answer.output_text.startswith("Hello from fake-claude")
    sent = proxy.fakes.claude.last.json["messages"]
    assert all(
        b.get("type") != "thinking" for m in sent if isinstance(m["content"], list) for b in m["content"]
    )


# ---------------------------------------------------------------------- Chat client


chat_turn = chat_turns(MODEL)
second_turn = chat_second_turn


async def chat_loop(proxy: Any, key: str, stream: bool) -> Any:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as client:
        first = await chat_turn(client, [{"role": "user", "content": PROMPT}], stream)
        return await chat_turn(client, second_turn(first), stream)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_tool_loop_with_thinking(proxy: Any, stream: bool) -> None:
    second = await chat_loop(proxy, KEY, stream)
    assert second.choices[0].message.content == "Tool result received: FAKE_TOOL_OK"
    assert_signed_before_tool_use(upstream_turn(proxy.fakes))


async def test_chat_replay_is_per_caller(proxy: Any) -> None:
    """One caller's hidden reasoning is never restored into another caller's request: the
    second caller replays the first caller's tool call id and its turn reaches Claude with
    no thinking block (adaptive thinking, which Anthropic takes so, see
    test_responses_client_without_the_carrier_goes_without_thinking_blocks)."""
    await chat_loop(proxy, KEY, False)
    first_turn = proxy.fakes.claude.requests[-1].json["messages"]
    tool_use = next(b for b in first_turn[1]["content"] if b["type"] == "tool_use")
    messages = [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": tool_use["id"], "type": "function", "function": {"name": "bash", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": tool_use["id"], "content": "FAKE_TOOL_OK"},
    ]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER_KEY, max_retries=0) as client:
        await chat_turn(client, messages, False)
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive"
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


# ---------------------------------------------------------------------- Gemini signatures ride along

GEMINI_MODEL = "gemini-thinker"


def gemini_config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - name: "gemini-3-pro-preview"
        alias: "{GEMINI_MODEL}"
"""


@pytest.fixture
async def gemini_proxy(start_proxy: Any, fakes: Any) -> Any:
    p = await start_proxy(gemini_config(fakes))
    p.fakes = fakes
    return p


def upstream_call_part(fakes: Any) -> dict[str, Any]:
    contents = fakes.gemini.last.json["contents"]
    model = next(c for c in contents if c.get("role") == "model")
    return next(p for p in model["parts"] if "functionCall" in p)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_responses_client_gemini_call_signature_round_trip(gemini_proxy: Any, stream: bool) -> None:
    """Gemini -> Responses -> Gemini: the call's thoughtSignature rides in a reasoning item
    before the function_call (CPA's ``next:function`` carrier) and is put back on the call."""
    kwargs: dict[str, Any] = {"model": GEMINI_MODEL, "tools": RESPONSES_TOOLS, "store": False}
    history: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=gemini_proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(input=history, **kwargs) as s:
                first = await s.get_final_response()
        else:
            first = await client.responses.create(input=history, **kwargs)
        kinds = [item.type for item in first.output]
        assert kinds[-2:] == ["reasoning", "function_call"], kinds
        assert first.output[-2].encrypted_content.startswith("cpa-gemini-responses-carrier-v1:next:function:")
        call = first.output[-1]
        history += [item.model_dump(exclude_none=True) for item in first.output]
        history.append({"type": "function_call_output", "call_id": call.call_id, "output": "FAKE_TOOL_OK"})
        second = await client.responses.create(input=history, **kwargs)
    assert second.output_text == "Tool result received: FAKE_TOOL_OK"
    assert upstream_call_part(gemini_proxy.fakes)["thoughtSignature"] == THOUGHT_SIGNATURE


async def test_chat_client_gemini_call_signature_round_trip(gemini_proxy: Any) -> None:
    """Gemini -> Chat -> Gemini: ``extra_content.google.thought_signature`` on the tool call,
    as Google's OpenAI endpoint carries it, comes back onto the functionCall part."""
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=gemini_proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await client.chat.completions.create(model=GEMINI_MODEL, messages=messages, tools=CHAT_TOOLS)
        call = first.choices[0].message.tool_calls[0]
        assert call.model_extra["extra_content"] == {"google": {"thought_signature": THOUGHT_SIGNATURE}}
        messages.append(
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]}
        )
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "FAKE_TOOL_OK"})
        await client.chat.completions.create(model=GEMINI_MODEL, messages=messages, tools=CHAT_TOOLS)
    assert upstream_call_part(gemini_proxy.fakes)["thoughtSignature"] == THOUGHT_SIGNATURE


CLAUDE_TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_client_gemini_call_signature_round_trip(gemini_proxy: Any, stream: bool) -> None:
    """Gemini -> Claude Code's wire -> Gemini: the call's thoughtSignature rides in an empty
    thinking block before the tool_use (CPA's ``cpa-gemini-carrier-v1:next:function:``
    carrier) and goes back onto the functionCall, not the validator-skip sentinel."""
    kwargs: dict[str, Any] = {"model": GEMINI_MODEL, "max_tokens": 256, "tools": CLAUDE_TOOLS}
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with anthropic.AsyncAnthropic(base_url=gemini_proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(messages=messages, **kwargs) as s:
                first = await s.get_final_message()
        else:
            first = await client.messages.create(messages=messages, **kwargs)
        kinds = [b.type for b in first.content]
        assert kinds[-2:] == ["thinking", "tool_use"], kinds
        carrier = first.content[-2]
        assert carrier.thinking == ""
        assert carrier.signature.startswith("cpa-gemini-carrier-v1:next:function:")
        call = first.content[-1]
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "FAKE_TOOL_OK"}],
            }
        )
        second = await client.messages.create(messages=messages, **kwargs)
    assert second.content[-1].text == "Tool result received: FAKE_TOOL_OK"
    assert upstream_call_part(gemini_proxy.fakes)["thoughtSignature"] == THOUGHT_SIGNATURE
    assert "cpa-gemini-carrier" not in json.dumps(gemini_proxy.fakes.gemini.last.json)


def gemini_history(signature: str) -> dict[str, Any]:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": PROMPT}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "bash", "args": {"command": "ls"}},
                        "thoughtSignature": signature,
                    }
                ],
            },
            {"role": "user", "parts": [{"functionResponse": {"name": "bash", "response": {"output": "ok"}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "bash", "parameters": TOOL_SCHEMA}]}],
    }


async def post_gemini(url: str, model: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http:
        path = f"{url}/v1beta/models/{model}:generateContent"
        async with http.post(path, json=body, headers={"x-goog-api-key": KEY}) as resp:
            assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    "foreign",
    ["claude-signature", "codex-encrypted-content"],
)
async def test_gemini_passthrough_replaces_another_backends_signature(
    gemini_proxy: Any, foreign: str
) -> None:
    """Gemini -> Gemini pass-through after a failover: a signature another backend made is
    replaced by Gemini's bypass sentinel (CPA gemini_sanitize.go); Gemini's own is kept."""
    value = issue_signature("claude-sonnet-4-6") if foreign == "claude-signature" else "gAAAAA" + "B" * 130
    await post_gemini(gemini_proxy.url, GEMINI_MODEL, gemini_history(value))
    assert upstream_call_part(gemini_proxy.fakes)["thoughtSignature"] == "skip_thought_signature_validator"


async def test_gemini_passthrough_keeps_gemini_signature(gemini_proxy: Any) -> None:
    await post_gemini(gemini_proxy.url, GEMINI_MODEL, gemini_history(THOUGHT_SIGNATURE))
    assert upstream_call_part(gemini_proxy.fakes)["thoughtSignature"] == THOUGHT_SIGNATURE


async def test_gemini_to_antigravity_replaces_another_backends_signature(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """Gemini client -> Antigravity (same wire format, enveloped): the same policy applies."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await post_gemini(proxy.url, "gemini-3-flash", gemini_history(issue_signature("claude-opus-4-8")))
    contents = fakes.gemini.last.json["request"]["contents"]
    part = contents[1]["parts"][0]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


# ---------------------------------------------------------------------- Gemini client


def genai_client(proxy: Any) -> genai.Client:
    return genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )


GEMINI_TOOLS = gtypes.GenerateContentConfig(
    tools=[
        gtypes.Tool(
            function_declarations=[
                gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
            ]
        )
    ],
    thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
    automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
)


async def gemini_turn(client: genai.Client, history: list[gtypes.Content], stream: bool) -> list[gtypes.Part]:
    """The model's parts for ``history``: as the stream's chunks gave them (one part per
    chunk, nothing merged, as the SDK and Gemini CLI keep them), or the whole answer's."""
    if not stream:
        answer = await client.aio.models.generate_content(model=MODEL, contents=history, config=GEMINI_TOOLS)
        return list(answer.candidates[0].content.parts)
    parts: list[gtypes.Part] = []
    chunks = await client.aio.models.generate_content_stream(
        model=MODEL, contents=history, config=GEMINI_TOOLS
    )
    async for chunk in chunks:
        parts += chunk.candidates[0].content.parts or []
    return parts


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_client_tool_loop_with_thinking(proxy: Any, stream: bool) -> None:
    """A Gemini client (Gemini CLI's loop) on a Claude model with thinking: the thought comes
    with the validator-skip signature in place of Claude's (CPA), and turn 2 gets through
    because the proxy signs the thought it sends back with the signature cached for its
    text, also when the streamed thought comes back as one part per chunk."""
    client = genai_client(proxy)
    history = [gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)])]
    parts = await gemini_turn(client, history, stream)
    thought = [p for p in parts if p.thought]
    assert "".join(p.text or "" for p in thought) == "Let me think about this briefly."
    assert [p.thought_signature for p in thought if p.thought_signature] == [
        base64.urlsafe_b64decode("skip_thought_signature_validator")
    ]
    call = next(p.function_call for p in parts if p.function_call)
    history.append(gtypes.Content(role="model", parts=parts))
    reply = gtypes.FunctionResponse(name=call.name, id=call.id, response={"output": "FAKE_TOOL_OK"})
    history.append(gtypes.Content(role="user", parts=[gtypes.Part(function_response=reply)]))
    second = await gemini_turn(client, history, stream)
    assert "".join(p.text or "" for p in second if not p.thought) == (
        'Tool result received: {"output":"FAKE_TOOL_OK"}'
    )
    blocks = upstream_turn(proxy.fakes)
    assert_signed_before_tool_use(blocks)
    assert blocks[0]["thinking"] == "Let me think about this briefly."
    assert [b["type"] for b in blocks] == ["thinking", "tool_use"]  # the run became one block


# ---------------------------------------------------------------------- Claude client on Codex

CLAUDE_TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]


async def claude_turn(client: anthropic.AsyncAnthropic, model: str, messages: list[Any], stream: bool) -> Any:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 2048,
        "tools": CLAUDE_TOOLS,
        "messages": messages,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    if not stream:
        return await client.messages.create(**kwargs)
    async with client.messages.stream(**kwargs) as s:
        return await s.get_final_message()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_client_carries_codex_reasoning(matrix: Any, stream: bool) -> None:
    """Claude Code on a Codex model: Codex's encrypted reasoning reaches the client as the
    thinking block's signature (a reasoning item without a summary: a thinking block with
    no text) and goes back to Codex as the reasoning item in front of the call (CPA); a
    Claude upstream never gets it."""
    fakes = matrix.fakes
    async with anthropic.AsyncAnthropic(base_url=matrix.url, api_key=KEY, max_retries=0) as client:
        messages: list[Any] = [{"role": "user", "content": PROMPT}]
        first = await claude_turn(client, "codex-model", messages, stream)
        kinds = [b.type for b in first.content]
        assert kinds == ["thinking", "tool_use"], kinds
        assert first.content[0].thinking == "" and first.content[0].signature == ENCRYPTED
        call = first.content[1]
        messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "FAKE_TOOL_OK"}],
            }
        )
        second = await claude_turn(client, "codex-model", messages, stream)
        assert second.content[-1].text == "Tool result received: FAKE_TOOL_OK"
        sent = fakes.responses.last.json["input"]
        assert [i["type"] for i in sent] == ["message", "reasoning", "function_call", "function_call_output"]
        assert sent[1] == {
            "type": "reasoning",
            "summary": [],
            "content": None,
            "encrypted_content": ENCRYPTED,
        }
        # the same history on a Claude model (thinking off: no signed thinking to show it):
        # the carried reasoning is no Claude signature and is left out
        await client.messages.create(
            model="claude-model", max_tokens=256, tools=CLAUDE_TOOLS, messages=messages
        )
    to_claude = fakes.claude.last.json["messages"][1]["content"]
    assert [b["type"] for b in to_claude] == ["tool_use"]
