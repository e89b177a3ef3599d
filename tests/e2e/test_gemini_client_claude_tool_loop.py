"""A Gemini client's tool loop, thinking on, on a Claude model of a Claude subscription.

Gemini CLI (and any google-genai program) asks a Claude model with ``thinkingConfig`` on and
its tools; the answer's thinking reaches it as ``thought`` parts whose signature is the
validator-skip sentinel (a Claude signature means nothing to a Gemini client), and Gemini
CLI sends back only the ``functionCall`` part and its ``functionResponse``. It names no
session; the thinking replay cache keeps its turns per caller API key (as a Chat client's)
and restores them (tests/e2e/test_fidelity_gemini_claude_thinking.py). When nothing
restores them (here, turn 2 under another API key), the Claude
request of the second turn has an assistant turn that starts with ``tool_use`` while
thinking is on. With manual
thinking (``enabled``, a Claude 4.5 model) Anthropic refuses it: 400 ``Expected `thinking`
or `redacted_thinking`, but found `tool_use``` (the fake does as well). CPA sends that body
and the client gets the 400 on every tool loop. Under adaptive thinking (Claude 4.6)
Anthropic takes it: Claude itself may skip thinking there.

Deliberate difference from CPA, as for a Claude client whose loop lost another backend's
thinking (tests/e2e/test_claude_foreign_tool_loop.py): when a translated request reaches a
Claude upstream with manual thinking on and the tool loop its last message answers does not
start with thinking (nothing restored it), that one request goes with thinking off, as
Anthropic's error advises; adaptive thinking stays on. The next question thinks again; a
loop the replay cache restores keeps its thinking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_claude_cloak import last, write_oauth

MODEL = "claude-opus-4-6"  # in the Claude OAuth catalog
OTHER_KEY = "sk-proxy-other-caller"
PROMPT = "FAKE_TOOL run it"


def client(base: str, headers: dict[str, str] | None = None, key: str = KEY) -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=gtypes.HttpOptions(
            base_url=base,
            api_version="v1beta",
            headers=headers,
            retry_options=gtypes.HttpRetryOptions(attempts=1),
        ),
    )


CONFIG = gtypes.GenerateContentConfig(
    tools=[
        gtypes.Tool(
            function_declarations=[
                gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
            ]
        )
    ],
    thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=8192),
)


async def generate(c: genai.Client, contents: Any, stream: bool, model: str = MODEL) -> list[gtypes.Part]:
    if stream:
        chunks = [
            chunk
            async for chunk in await c.aio.models.generate_content_stream(
                model=model, contents=contents, config=CONFIG
            )
        ]
    else:
        chunks = [await c.aio.models.generate_content(model=model, contents=contents, config=CONFIG)]
    parts: list[gtypes.Part] = []
    for chunk in chunks:
        content = chunk.candidates[0].content if chunk.candidates else None
        parts += (content.parts if content else None) or []
    return parts


def reply_to(parts: list[gtypes.Part], keep_thoughts: bool) -> list[gtypes.Content]:
    """The model turn as the client sends it back (Gemini CLI drops the thought parts; a
    program that keeps the whole content sends them with their sentinel) and the result."""
    kept = [p for p in parts if keep_thoughts or not p.thought]
    [call] = [p.function_call for p in parts if p.function_call]
    result = gtypes.Part.from_function_response(name=call.name or "", response={"output": "FAKE_TOOL_OK"})
    result.function_response.id = call.id  # type: ignore[union-attr]
    return [
        gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)]),
        gtypes.Content(role="model", parts=kept),
        gtypes.Content(role="user", parts=[result]),
    ]


@pytest.fixture
async def proxy(start_proxy, fake_claude, tmp_path: Path):
    write_oauth(tmp_path, "gem", fake_claude.base_url)
    return await start_proxy(f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n')


@pytest.mark.parametrize(
    ("model", "kind", "second_kind"),
    [("claude-opus-4-5-20251101", "enabled", "disabled"), (MODEL, "adaptive", "adaptive")],
    ids=["manual", "adaptive"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_second_turn_of_a_gemini_cli_tool_loop_is_answered(
    proxy, fake_claude, stream, model, kind, second_kind
):
    c = client(proxy.url)
    # turn 2 under another API key: nothing restores the thinking (the replay keeps a Gemini
    # client's turns per API key: tests/e2e/test_fidelity_gemini_claude_thinking.py)
    other = client(proxy.url, key=OTHER_KEY)
    try:
        first = await generate(c, PROMPT, stream, model)
        assert [p.function_call.name for p in first if p.function_call] == ["bash"]
        assert last(fake_claude).json["thinking"]["type"] == kind

        second = await generate(other, reply_to(first, keep_thoughts=False), stream, model)
        text = "".join(p.text or "" for p in second if not p.thought)
        assert "Tool result received" in text and "FAKE_TOOL_OK" in text
        sent = last(fake_claude).json
        assert sent["thinking"]["type"] == second_kind
        assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]

        await generate(c, "Say hello", stream, model)  # a new question thinks again
        assert last(fake_claude).json["thinking"]["type"] == kind
    finally:
        await c.aio.aclose()
        await other.aio.aclose()


async def test_a_loop_the_replay_cache_restores_keeps_its_thinking(proxy, fake_claude):
    """A Gemini client that names its session (``session-id``) gets the turn's signed
    thinking restored in front of its call, and thinking stays on."""
    c = client(proxy.url, {"session-id": "gem-session-1"})
    try:
        first = await generate(c, PROMPT, False)
        await generate(c, reply_to(first, False), False)
        sent = last(fake_claude).json
        assert sent["thinking"]["type"] in ("enabled", "adaptive")
        assert [b["type"] for b in sent["messages"][1]["content"]] == ["thinking", "tool_use"]
    finally:
        await c.aio.aclose()


async def test_a_client_that_sends_the_thoughts_back_keeps_its_thinking(proxy, fake_claude):
    """A program that sends the model's whole content back (its thought parts too) gets the
    signed thinking restored from the thought text (the signature cache): thinking stays on."""
    c = client(proxy.url)
    try:
        first = await generate(c, PROMPT, True)
        await generate(c, reply_to(first, keep_thoughts=True), True)
        sent = last(fake_claude).json
        assert sent["thinking"]["type"] in ("enabled", "adaptive")
        assert [b["type"] for b in sent["messages"][1]["content"]] == ["thinking", "tool_use"]
    finally:
        await c.aio.aclose()
