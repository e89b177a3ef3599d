"""Tool names sent to Antigravity (``providers.antigravity_names``), through a running proxy
and the official SDK of each client format: the fake Antigravity gets every function once,
under a name Gemini accepts and no other function shares (CPA's
``SanitizedFunctionNameMap``), and the client gets its own names back, whole and streamed.

The two tools below are CPA's test pair: longer than Gemini's 64 characters and the same
in their first 64, so a plain cut would send both as one name."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.providers.antigravity_names import rename_tools
from cliproxy.translate.gemini.names import disambiguated
from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth

FIRST = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build"
SECOND = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build_logs"
SENT = disambiguated([FIRST, SECOND, "lookup"])
MODEL = "gemini-3-flash"
# the fake calls the declared tool it is named (tests/fakes/dialog.py)
PROMPT = f"FAKE_TOOL={SENT[SECOND]} please"


# ---- the body rewrite on its own


def test_the_clients_body_is_never_edited() -> None:
    client = {
        "contents": [{"role": "model", "parts": [{"functionCall": {"name": SECOND, "args": {}}}]}],
        "tools": [{"functionDeclarations": [{"name": FIRST}, {"name": SECOND}, {"name": FIRST}]}],
        "toolConfig": {"functionCallingConfig": {"allowedFunctionNames": [FIRST]}},
    }
    before = copy.deepcopy(client)
    body = {**client}
    names = rename_tools(body)
    assert client == before
    assert names is not None and names.back == {SENT[FIRST]: FIRST, SENT[SECOND]: SECOND}
    assert body["tools"] == [{"functionDeclarations": [{"name": SENT[FIRST]}, {"name": SENT[SECOND]}]}]
    assert rename_tools(body) is None  # once renamed, nothing left to rename


def test_an_undeclared_history_name_is_sanitized_and_not_restored() -> None:
    """CPA's MapSanitizedFunctionName: a call of a tool this request no longer declares is
    sent with a valid name; no answer can call it, so nothing maps it back."""
    body: dict[str, Any] = {
        "contents": [{"role": "model", "parts": [{"function_call": {"name": "old/tool", "args": {}}}]}],
        "tools": [{"functionDeclarations": [{"name": "read"}]}],
    }
    assert rename_tools(body) is None
    assert body["contents"][0]["parts"][0]["function_call"]["name"] == "old_tool"


def test_empty_tool_entries_go_and_other_tools_stay() -> None:
    """removeEmptyGeminiFunctionTools: an empty declaration list goes, then an entry left
    empty; a provider tool stays; a ``tools`` list left empty goes."""
    body: dict[str, Any] = {"tools": [{"functionDeclarations": []}, {}, {"googleSearch": {}}]}
    rename_tools(body)
    assert body["tools"] == [{"googleSearch": {}}]
    body = {"tools": [{"function_declarations": []}]}
    rename_tools(body)
    assert "tools" not in body


# ---- through the proxy


async def _proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\n')


def _sent_request(fakes: Any) -> dict[str, Any]:
    return fakes.gemini.last.json["request"]  # type: ignore[no-any-return]


def _declared(request: dict[str, Any]) -> list[str]:
    return [d["name"] for tool in request["tools"] for key in tool for d in tool[key]]


def _genai(url: str) -> genai.Client:
    return genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )


def _gemini_tools() -> list[gtypes.Tool]:
    def decl(name: str) -> gtypes.FunctionDeclaration:
        return gtypes.FunctionDeclaration(name=name, parameters_json_schema=TOOL_SCHEMA)

    return [
        gtypes.Tool(function_declarations=[decl("lookup"), decl(FIRST)]),
        gtypes.Tool(function_declarations=[decl("lookup"), decl(SECOND)]),
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_gemini_client_gets_its_names_back(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    client = _genai(proxy.url)
    config = gtypes.GenerateContentConfig(tools=_gemini_tools())
    try:
        if stream:
            chunks = [
                c
                async for c in await client.aio.models.generate_content_stream(
                    model=MODEL, contents=PROMPT, config=config
                )
            ]
        else:
            chunks = [await client.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config)]
        calls = [
            p.function_call for c in chunks for p in c.candidates[0].content.parts or () if p.function_call
        ]
        assert [c.name for c in calls] == [SECOND]
        assert _declared(_sent_request(fakes)) == ["lookup", SENT[FIRST], SENT[SECOND]]
        # the next turn: the history's call and result go under the name sent before
        history = [
            gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)]),
            gtypes.Content(role="model", parts=[gtypes.Part(function_call=calls[0])]),
            gtypes.Content(
                role="user",
                parts=[gtypes.Part.from_function_response(name=SECOND, response={"result": "ok"})],
            ),
        ]
        answer = await client.aio.models.generate_content(model=MODEL, contents=history, config=config)
    finally:
        await client.aio.aclose()
    assert answer.text and "ok" in answer.text
    turns = _sent_request(fakes)["contents"]
    names = [
        p[k]["name"]
        for c in turns
        for p in c["parts"]
        for k in ("functionCall", "functionResponse")
        if k in p
    ]
    assert names == [SENT[SECOND], SENT[SECOND]]


async def test_a_gemini_stream_without_sse_gets_its_names_back(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """``streamGenerateContent`` without ``alt=sse``: the JSON array the proxy reframes
    from the upstream's SSE carries the client's names too."""
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    body = {
        "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
        "tools": [{"functionDeclarations": [{"name": FIRST}, {"name": SECOND}, {"name": SECOND}]}],
    }
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(
            f"{proxy.url}/v1beta/models/{MODEL}:streamGenerateContent",
            json=body,
            headers={"x-goog-api-key": KEY},
        ) as resp,
    ):
        assert resp.status == 200
        chunks = orjson.loads(await resp.read())
    names = [
        p["functionCall"]["name"]
        for c in chunks
        for p in c["candidates"][0]["content"]["parts"]
        if "functionCall" in p
    ]
    assert names == [SECOND]
    assert _declared(_sent_request(fakes)) == [SENT[FIRST], SENT[SECOND]]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_client_gets_its_names_back(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    tools: list[Any] = [
        {"type": "function", "function": {"name": name, "parameters": TOOL_SCHEMA}}
        for name in ("lookup", FIRST, "lookup", SECOND)
    ]
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": tools,
    }
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.chat.completions.stream(**kwargs) as s:
                done = await s.get_final_completion()
        else:
            done = await client.chat.completions.create(**kwargs)
    assert [c.function.name for c in done.choices[0].message.tool_calls or ()] == [SECOND]
    assert _declared(_sent_request(fakes)) == ["lookup", SENT[FIRST], SENT[SECOND]]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_claude_client_gets_its_names_back(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    proxy = await _proxy(start_proxy, fakes, tmp_path)
    tools: list[Any] = [{"name": name, "input_schema": TOOL_SCHEMA} for name in (FIRST, SECOND, FIRST)]
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": tools,
    }
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                done = await s.get_final_message()
        else:
            done = await client.messages.create(**kwargs)
    assert [b.name for b in done.content if b.type == "tool_use"] == [SECOND]
    assert _declared(_sent_request(fakes)) == [SENT[FIRST], SENT[SECOND]]
