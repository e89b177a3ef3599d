"""Tool histories of Antigravity's Gemini models that CPA refuses, repairs or reads, through
a running proxy (``anthropic`` and ``google-genai`` as clients; raw REST where only a hand
written client sends snake_case) against the fake Cloud Code server (tests/fakes/gemini.py,
its calls named ``native-call-<n>`` as Cloud Code names them).

* A Claude ``tool_result`` whose ``tool_use`` is not in the request is named from its id
  (CPA's translator: ``native-call-1`` gives ``native``). For a Gemini-family model CPA then
  checks the final history (``prepareAntigravityGeminiReasoningReplayPayload``,
  ``ValidateGeminiFunctionCallPairing``): when the reasoning replay puts the call back, the
  result takes the call's id and name; else the request is refused with 400, a count too.
* A Gemini REST client's snake_case parts are read as camelCase ones (a deliberate
  difference, see ``providers.antigravity_turns.camel_parts``).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"
PROMPT = "FAKE_TOOL=bash run it"
CALL = {"name": "bash", "args": {"command": "echo FAKE_TOOL_OK"}, "id": "native-call-1"}
TOOLS: Any = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
GEMINI_TOOLS = [{"functionDeclarations": [{"name": "bash", "parametersJsonSchema": TOOL_SCHEMA}]}]
REFUSED = "invalid Gemini function call history"


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    p = await start_proxy(f'api-keys: ["{KEY}"]\n')
    fakes.gemini.call_ids = True
    p.fake = fakes.gemini
    return p


def sent(fake: Any, action: str) -> list[Any]:
    """The contents of the latest ``action`` request Cloud Code received."""
    rec = [r for r in fake.requests if r.path.endswith(":" + action)][-1]
    contents: list[Any] = rec.json["request"]["contents"]
    return contents


def orphan(call_id: str) -> list[Any]:
    return [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "ok"}]}]


async def test_a_claude_result_without_its_call_is_refused_for_a_gemini_model(proxy: Any) -> None:
    """CPA TestPrepareAntigravityGeminiReasoningReplayStillRejectsBrokenPairing, from a
    Claude client: nothing in the session puts the call back, so a generation, a stream and
    a count are refused with a 400 in Anthropic's shape before Cloud Code is asked. Before,
    the result went as a response named ``native`` with no call before it.

    TestConvertClaudeRequestToAntigravity_ToolResultName_NoMatchingToolUse_Heuristic: a
    Claude model behind Antigravity still gets the result, named from its id."""
    fake = proxy.fake
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for ask in (
            client.messages.create(model=MODEL, max_tokens=32, messages=orphan("native-call-1")),
            client.messages.create(model=MODEL, max_tokens=32, messages=orphan("native-call-1"), stream=True),
            client.messages.count_tokens(model=MODEL, messages=orphan("native-call-1")),
        ):
            with pytest.raises(anthropic.BadRequestError) as caught:
                await ask
            assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
            assert REFUSED in caught.value.message and "without a functionCall" in caught.value.message
        assert not fake.requests
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=32, messages=orphan("get_weather-call-123")
        )
    (part,) = sent(fake, "generateContent")[0]["parts"]
    assert part["functionResponse"]["name"] == "get_weather"


async def test_a_claude_result_whose_call_the_replay_puts_back_takes_its_name(proxy: Any) -> None:
    """TestAntigravityExecutorCountTokensReconstructsCompactedClaudeToolCall, from a Claude
    client (its session named by ``session_id``): the assistant turn keeps its text and
    leaves its ``tool_use`` out, the result is kept. The reasoning replay puts Cloud Code's
    call back into that turn, signed, and the result, named ``native`` from its id, takes
    the call's name ``bash`` (CPA ``restoreAntigravityFunctionResponseReplayIdentity``); the
    count sends the same. Before, the put-back call and its result did not pair, so the
    replay was dropped and the orphan result sent.

    Deliberate difference: a result in the very message after the prompt (two user
    messages in a row are one turn, as Anthropic reads them) gets no call put back (CPA
    keeps the two messages apart and puts the call between them); it is refused as the
    case above."""
    fake = proxy.fake
    extra = {"session_id": "compacted-claude"}
    prompt = {"role": "user", "content": PROMPT}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        turn = await client.messages.create(
            model=MODEL, max_tokens=64, tools=TOOLS, messages=[prompt], extra_body=extra
        )
        assert [b.id for b in turn.content if b.type == "tool_use"] == ["native-call-1"]
        said = {"role": "assistant", "content": "Running it."}
        compacted: Any = [prompt, said, *orphan("native-call-1")]
        await client.messages.count_tokens(model=MODEL, tools=TOOLS, messages=compacted, extra_body=extra)
        answer = await client.messages.create(
            model=MODEL, max_tokens=64, tools=TOOLS, messages=compacted, extra_body=extra
        )
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(
                model=MODEL,
                max_tokens=64,
                tools=TOOLS,
                messages=[prompt, *orphan("native-call-1")],
                extra_body=extra,
            )
    assert answer.content[0].type == "text"
    contents = sent(fake, "generateContent")
    assert contents == sent(fake, "countTokens")
    signed = {"functionCall": CALL, "thoughtSignature": fake.issued[0]}
    assert contents[1] == {"role": "model", "parts": [{"text": "Running it."}, signed]}
    response = contents[2]["parts"][0]["functionResponse"]
    assert (response["id"], response["name"]) == ("native-call-1", "bash")


def gemini_client(proxy: Any) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


async def test_a_result_of_another_name_than_the_put_back_call_is_refused(proxy: Any) -> None:
    """CPA TestPrepareAntigravityGeminiReasoningReplayRejectsUnmatchedNonPlaceholderResponseName,
    from a Gemini client: the call ``bash`` the replay would put back is answered by a
    response of the client's own name ``Write``; the name is the client's, so it stays, and
    the history is refused (400 INVALID_ARGUMENT) before Cloud Code is asked."""
    fake = proxy.fake
    client = gemini_client(proxy)
    declaration = gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
    config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[declaration])])
    response = gtypes.FunctionResponse(id="native-call-1", name="Write", response={"result": "ok"})
    compacted = [
        gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)]),
        gtypes.Content(role="user", parts=[gtypes.Part(function_response=response)]),
    ]
    try:
        turn = await client.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config)
        assert turn.function_calls and turn.function_calls[0].id == "native-call-1"
        asked = len(fake.requests)
        with pytest.raises(gerrors.ClientError) as caught:
            await client.aio.models.generate_content(model=MODEL, contents=compacted, config=config)
    finally:
        await client.aio.aclose()
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert REFUSED in str(caught.value.message)
    assert len(fake.requests) == asked


async def rest(proxy: Any, action: str, request: dict[str, Any]) -> dict[str, Any]:
    """A Gemini REST call as a hand-written client makes it (snake_case members)."""
    url = f"{proxy.url}/v1beta/models/{MODEL}:{action}"
    body = (
        request
        if action != "countTokens"
        else {"generateContentRequest": {"model": f"models/{MODEL}", **request}}
    )
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(url, json=body, headers={"x-goog-api-key": KEY}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
    return answer


async def test_snake_case_parts_are_read_as_camel_case_ones(proxy: Any) -> None:
    """A Gemini REST client writing snake_case parts (the API takes either spelling): its
    compacted history's ``function_response`` gets its call put back by the reasoning
    replay, as a camelCase one does (the compacted case above), and its full history's
    ``function_call`` / ``thought_signature`` / ``function_response`` / ``inline_data``
    go as camelCase parts, the image inside the response (CPA
    TestFixCLIToolResponse_AttachesSiblingInlineDataToNearestFunctionResponse's snake_case
    row), the count alike.

    Deliberate difference: CPA reads these parts in camelCase only (signatures in both), so
    nothing is put back for the snake_case response, and a snake_case response to a
    camelCase call is refused by its pairing check."""
    fake = proxy.fake
    prompt = {"role": "user", "parts": [{"text": PROMPT}]}
    first = await rest(proxy, "generateContent", {"contents": [prompt], "tools": GEMINI_TOOLS})
    assert first["candidates"][0]["content"]["parts"][0]["functionCall"]["id"] == "native-call-1"
    answer = {"function_response": {"id": "native-call-1", "name": "bash", "response": {"result": "ok"}}}
    image = {"inline_data": {"mime_type": "image/png", "data": "QUJD"}}
    await rest(
        proxy,
        "generateContent",
        {"contents": [prompt, {"role": "user", "parts": [answer]}], "tools": GEMINI_TOOLS},
    )
    contents = sent(fake, "generateContent")
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": CALL, "thoughtSignature": fake.issued[0]}],
    }
    assert contents[2]["parts"] == [{"functionResponse": answer["function_response"]}]

    call = {"function_call": CALL, "thought_signature": fake.issued[0]}
    history = [prompt, {"role": "model", "parts": [call]}, {"role": "user", "parts": [answer, image]}]
    await rest(proxy, "countTokens", {"contents": history, "tools": GEMINI_TOOLS})
    await rest(proxy, "generateContent", {"contents": history, "tools": GEMINI_TOOLS})
    contents = sent(fake, "generateContent")
    assert contents == sent(fake, "countTokens")
    assert contents[1]["parts"] == [{"functionCall": CALL, "thoughtSignature": fake.issued[0]}]
    nested = {
        **answer["function_response"],
        "parts": [{"inlineData": {"mimeType": "image/png", "data": "QUJD"}}],
    }
    assert contents[2] == {"role": "model", "parts": [{"functionResponse": nested}]}
