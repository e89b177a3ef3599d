"""A Gemini client's tool loop on a Codex model keeps Codex's reasoning.

Codex answers a turn that calls a tool with a reasoning item whose ``encrypted_content`` is
its line of thought; given it back in front of the call on the next turn, the model goes on
from there (and the prompt cache holds). A Gemini client (Gemini CLI, google-genai) has no
place for it: the thought reaches it as a ``thought`` part, and what it sends back is its
own parts. The proxy keeps the reasoning for such a client, as it does for a Chat
Completions client (tests/e2e/test_codex_reasoning_replay.py): per caller API key, put back
in front of the call it belongs to. Before, only Claude and Chat clients were kept, and a
Gemini client's second turn reached Codex with the call alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.conftest import matrix_config
from tests.e2e.tool_loop import PROMPT, kinds
from tests.fakes.openai_responses import ENCRYPTED

OTHER_KEY = "sk-proxy-other-caller"
MODEL = "codex-model"


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    text = matrix_config(fakes).replace(f'api-keys: ["{KEY}"]', f'api-keys: ["{KEY}", "{OTHER_KEY}"]')
    p = await start_proxy(text)
    p.fakes = fakes
    return p


def gemini_client(url: str, key: str) -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
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
    thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=4096),
)


async def _turn(
    client: genai.Client, contents: list[Any], stream: bool, model: str = MODEL
) -> list[gtypes.Part]:
    if stream:
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(
                model=model, contents=contents, config=CONFIG
            )
        ]
    else:
        chunks = [await client.aio.models.generate_content(model=model, contents=contents, config=CONFIG)]
    return [
        p
        for c in chunks
        if c.candidates and c.candidates[0].content
        for p in c.candidates[0].content.parts or []
        # what Gemini CLI keeps of an answer: no empty text part
        if not (p.text == "" and not p.thought)
    ]


async def loop(url: str, key: str, stream: bool, model: str = MODEL) -> None:
    """Two turns of a tool loop, sent back as Gemini CLI keeps them."""
    client = gemini_client(url, key)
    try:
        contents: list[Any] = [gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)])]
        parts = await _turn(client, contents, stream, model)
        calls = [p.function_call for p in parts if p.function_call]
        assert calls and calls[0].name == "bash"
        contents.append(gtypes.Content(role="model", parts=parts))
        answers = [
            gtypes.Part(
                function_response=gtypes.FunctionResponse(
                    id=c.id, name=c.name, response={"output": "FAKE_TOOL_OK"}
                )
            )
            for c in calls
        ]
        contents.append(gtypes.Content(role="user", parts=answers))
        await _turn(client, contents, stream, model)
    finally:
        await client.aio.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_client_tool_loop_gets_its_reasoning_back(proxy: Any, stream: bool) -> None:
    await loop(proxy.url, KEY, stream)
    sent: list[dict[str, Any]] = proxy.fakes.responses.last.json["input"]
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1]["encrypted_content"] == ENCRYPTED
    assert sent[2]["call_id"] == sent[3]["call_id"]


async def test_another_caller_never_gets_it(proxy: Any) -> None:
    """The reasoning is kept per caller API key: a second key's loop of the same shape
    reaches Codex without the first one's reasoning (its own, once it has some)."""
    client = gemini_client(proxy.url, OTHER_KEY)
    try:
        contents: list[Any] = [gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)])]
        await loop(proxy.url, KEY, False)
        # the other caller sends the first caller's history: nothing of the first caller's is put in
        first_input = proxy.fakes.responses.last.json["input"]
        call = next(i for i in first_input if i.get("type") == "function_call")
        contents += [
            gtypes.Content(
                role="model",
                parts=[
                    gtypes.Part(
                        function_call=gtypes.FunctionCall(
                            id=call["call_id"], name="bash", args={"command": "x"}
                        )
                    )
                ],
            ),
            gtypes.Content(
                role="user",
                parts=[
                    gtypes.Part(
                        function_response=gtypes.FunctionResponse(
                            id=call["call_id"], name="bash", response={"output": "FAKE_TOOL_OK"}
                        )
                    )
                ],
            ),
        ]
        await client.aio.models.generate_content(model=MODEL, contents=contents, config=CONFIG)
    finally:
        await client.aio.aclose()
    assert "reasoning" not in kinds(proxy.fakes.responses.last.json["input"])
