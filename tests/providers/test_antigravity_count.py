"""Token counts through Antigravity are taken on the request its generation would send
(CPA ``AntigravityExecutor.CountTokens``: the same translated body, its reasoning replay
put back), through a running proxy with the official SDKs against the fake Cloud Code
server (tests/fakes/gemini.py, its calls named as Cloud Code names them).

Each case plays a tool turn, then sends one history twice: counted, and generated. The
``request.contents`` Cloud Code receives must be the same both times, and hold what the
reasoning replay (:mod:`cliproxy.providers.antigravity_replay`) puts back: the call a
compacted history left out, the signature a client dropped. Before, a count sent the
client's history as it came, so a compacted conversation was counted short.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"
PROMPT = "FAKE_TOOL=bash run it"
CALL = {"name": "bash", "args": {"command": "echo FAKE_TOOL_OK"}}


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    p = await start_proxy(f'api-keys: ["{KEY}"]\n')
    fakes.gemini.call_ids = True
    p.fake = fakes.gemini
    return p


def sent(fake: Any, action: str, last: int = 1) -> list[Any]:
    """The contents of the ``last``-th latest ``action`` request Cloud Code received."""
    recs = [r for r in fake.requests if r.path.endswith(":" + action)]
    rec = recs[-last]
    contents: list[Any] = rec.json["request"]["contents"]
    return contents


def gemini_client(proxy: Any) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


async def test_a_compacted_gemini_history_is_counted_with_its_call(proxy: Any) -> None:
    """TestAntigravityExecutorCountTokensReconstructsCompactedClaudeToolCall, from a
    Gemini client: its history keeps the function response and leaves the model turn that
    called it out; the count puts the call back before its response as a generation does,
    under Cloud Code's own id and name and with the signature it gave, the responses
    paired, and the client reads the larger count. The turns go through ``google-genai``;
    the count is the REST API's ``generateContentRequest`` form, the one that carries
    tools (the SDK refuses tools in a Developer API count, and without the tools of the
    turn that called, neither CPA nor we match the call to the history).

    Deliberate difference: CPA's case is a Claude client whose tool ids encode the native
    call (``cpa_gemini_...``, which we do not make); a Claude client cannot leave a
    tool_use out under Anthropic's rules, and the Claude side is the next case."""
    fake = proxy.fake
    client = gemini_client(proxy)
    declaration = gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
    config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[declaration])])
    response = gtypes.FunctionResponse(id="native-call-1", name="bash", response={"result": "ok"})
    compacted = [
        gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)]),
        gtypes.Content(role="user", parts=[gtypes.Part(function_response=response)]),
    ]
    try:
        turn = await client.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config)
        call = turn.function_calls[0] if turn.function_calls else None
        assert call is not None and (call.id, call.name) == ("native-call-1", "bash")
        await client.aio.models.generate_content(model=MODEL, contents=compacted, config=config)
    finally:
        await client.aio.aclose()
    tools = [{"functionDeclarations": [{"name": "bash", "parametersJsonSchema": TOOL_SCHEMA}]}]
    history = [c.model_dump(mode="json", exclude_none=True, by_alias=True) for c in compacted]
    counted = await count(proxy, {"contents": history, "tools": tools})
    alone = await count(proxy, {"contents": history[:1], "tools": tools})
    assert sent(fake, "generateContent") == (contents := sent(fake, "countTokens", 2))
    assert [c["role"] for c in contents] == ["user", "model", "model"]
    assert contents[1]["parts"] == [
        {"functionCall": {**CALL, "id": "native-call-1"}, "thoughtSignature": fake.issued[0]}
    ]
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "native-call-1"
    assert counted > alone


async def count(proxy: Any, request: dict[str, Any]) -> int:
    """``totalTokens`` of a Gemini REST ``countTokens`` in its ``generateContentRequest`` form."""
    url = f"{proxy.url}/v1beta/models/{MODEL}:countTokens"
    body = {"generateContentRequest": {"model": f"models/{MODEL}", **request}}
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(url, json=body, headers={"x-goog-api-key": KEY}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        total: int = (await resp.json())["totalTokens"]
    return total


async def test_a_claude_history_without_its_signature_is_counted_signed(proxy: Any) -> None:
    """TestAntigravityExecutorCountTokensReconstructsCompactedClaudeToolCall, from a
    Claude client (``anthropic``, the session named by ``session_id`` as in CPA's case):
    the client sends its tool turn back without the thinking block that carried Gemini's
    signature; the count sends the call signed with it, as the generation does, and the
    leading turn is the client's own user turn."""
    fake = proxy.fake
    tools: Any = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
    extra = {"session_id": "count-token-replay"}
    prompt = {"role": "user", "content": PROMPT}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        turn = await client.messages.create(
            model=MODEL, max_tokens=64, tools=tools, messages=[prompt], extra_body=extra
        )
        use = next(b for b in turn.content if b.type == "tool_use")
        history: Any = [
            prompt,
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "ok"}]},
        ]
        await client.messages.count_tokens(model=MODEL, tools=tools, messages=history, extra_body=extra)
        await client.messages.create(
            model=MODEL, max_tokens=64, tools=tools, messages=history, extra_body=extra
        )
    contents = sent(fake, "countTokens")
    assert contents == sent(fake, "generateContent")
    assert contents[0] == {"role": "user", "parts": [{"text": PROMPT}]}
    assert contents[1]["parts"] == [
        {"functionCall": {**CALL, "id": use.id}, "thoughtSignature": fake.issued[0]}
    ]
