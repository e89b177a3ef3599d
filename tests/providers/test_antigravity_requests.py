"""What a Claude or OpenAI client's request becomes for Antigravity, through a running proxy.

Calls and results carry their ids to Antigravity (CPA's antigravity translators write
``functionCall.id`` / ``functionResponse.id``), so parallel calls of one tool are paired with
their own results whatever order the client answers them in; Gemini's own API gets no ids,
as from CPA. A Claude model's output is capped at its catalog limit (CPA). Tool parameters
keep their declared types for Antigravity, enums going into the description (CPA's
CleanJSONSchemaForAntigravityTool), where Gemini's API gets string enums."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import antigravity_auth

READ = {"name": "read", "description": "read a file", "input_schema": {"type": "object"}}
CLAUDE_HISTORY = [
    {"role": "user", "content": "read one and two"},
    {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_one", "name": "read", "input": {"path": "one"}},
            {"type": "tool_use", "id": "toolu_two", "name": "read", "input": {"path": "two"}},
        ],
    },
    {
        "role": "user",
        "content": [  # answered in the other order
            {"type": "tool_result", "tool_use_id": "toolu_two", "content": "TWO"},
            {"type": "tool_result", "tool_use_id": "toolu_one", "content": "ONE"},
        ],
    },
]


async def post(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(url + path, json=body, headers=headers) as resp,
    ):
        if resp.content_type == "text/event-stream":
            return resp.status, await resp.text()
        return resp.status, await resp.json()


async def with_gemini_key(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    """A proxy with an Antigravity account and a Gemini API key (model ``plain-gemini``),
    both on the fake."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    return await start_proxy(f"""
api-keys: ["{KEY}"]
gemini-api-key:
  - api-key: "gk"
    base-url: "{fakes.gemini.base_url}"
    models: [{{name: "gemini-2.5-flash", alias: "plain-gemini"}}]
""")


def sent_turns(fake: Any) -> list[dict[str, Any]]:
    body = fake.last.json
    return (body.get("request") or body)["contents"]


def pairs(contents: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    calls = [p["functionCall"] for c in contents for p in c["parts"] if "functionCall" in p]
    results = [p["functionResponse"] for c in contents for p in c["parts"] if "functionResponse" in p]
    return calls, results


async def test_a_claude_clients_parallel_results_are_paired_by_id(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    body = {"model": "gemini-3-flash", "max_tokens": 256, "tools": [READ], "messages": CLAUDE_HISTORY}
    status, answer = await post(proxy.url, "/v1/messages", body, {"x-api-key": KEY})
    assert status == 200, answer
    calls, results = pairs(sent_turns(fakes.gemini))
    assert [(c["id"], c["args"]) for c in calls] == [
        ("toolu_one", {"path": "one"}),
        ("toolu_two", {"path": "two"}),
    ]
    # each result under its call's id, put in call order (antigravity_turns pairs them by id)
    assert [(r["id"], r["name"], r["response"]["result"]) for r in results] == [
        ("toolu_one", "read", "ONE"),
        ("toolu_two", "read", "TWO"),
    ]


async def test_an_openai_clients_calls_carry_ids_and_gemini_api_keys_get_none(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    proxy = await with_gemini_key(start_proxy, fakes, tmp_path)
    messages = [
        {"role": "user", "content": "read one"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"path":"one"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ONE"},
    ]
    tools = [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}]
    headers = {"Authorization": f"Bearer {KEY}"}
    for model, ids in (("gemini-3-flash", True), ("plain-gemini", False)):
        status, answer = await post(
            proxy.url, "/v1/chat/completions", {"model": model, "messages": messages, "tools": tools}, headers
        )
        assert status == 200, answer
        calls, results = pairs(sent_turns(fakes.gemini))
        if ids:
            assert calls[0]["id"] == results[0]["id"] == "call_1"
        else:
            assert "id" not in calls[0] and "id" not in results[0]


@pytest.mark.parametrize("stream", [False, True])
async def test_the_next_turns_ids_are_the_ones_antigravity_gave(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    """A call Antigravity answers with its own id reaches the Claude client under it, and
    goes back with it."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    first = [{"role": "user", "content": "FAKE_TOOL=read please"}]
    body = {"model": "gemini-3-flash", "max_tokens": 256, "tools": [READ], "messages": first}
    status, answer = await post(proxy.url, "/v1/messages", body, {"x-api-key": KEY})
    assert status == 200, answer
    use = next(b for b in answer["content"] if b["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "done"}
    history = [
        *first,
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [result]},
    ]
    status, answer = await post(
        proxy.url, "/v1/messages", {**body, "messages": history, "stream": stream}, {"x-api-key": KEY}
    )
    assert status == 200 and (not stream or "message_stop" in answer), answer
    calls, results = pairs(sent_turns(fakes.gemini))
    assert calls[0]["id"] == results[0]["id"] == use["id"]


async def test_a_claude_models_output_is_capped_at_its_catalog_limit(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA caps ``maxOutputTokens`` at the model's registered limit for Antigravity's Claude
    models (claude-sonnet-4-6: 64,000); a Gemini model has none sent at all (CPA)."""
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    headers = {"Authorization": f"Bearer {KEY}"}
    for asked, sent in ((100_000, 64_000), (2_000, 2_000)):
        body = {
            "model": "claude-sonnet-4-6",
            "max_tokens": asked,
            "messages": [{"role": "user", "content": "hi"}],
        }
        status, answer = await post(proxy.url, "/v1/chat/completions", body, headers)
        assert status == 200, answer
        assert fakes.gemini.last.json["request"]["generationConfig"]["maxOutputTokens"] == sent
    body = {"model": "gemini-3-flash", "max_tokens": 100_000, "messages": [{"role": "user", "content": "hi"}]}
    status, answer = await post(proxy.url, "/v1/chat/completions", body, headers)
    assert status == 200, answer
    assert "maxOutputTokens" not in fakes.gemini.last.json["request"].get("generationConfig", {})


# a tool parameter the client validates as a number: {"level": 2}, never {"level": "2"}
LEVEL = {
    "type": "object",
    "properties": {"level": {"type": "integer", "enum": [1, 2, 3], "description": "how deep"}},
    "required": ["level"],
}


def level_param(fake: Any) -> dict[str, Any]:
    body = fake.last.json
    decl = (body.get("request") or body)["tools"][0]["functionDeclarations"][0]
    return decl["parameters"]["properties"]["level"]


async def test_integer_enum_parameters_keep_their_type_for_antigravity(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """An OpenAI, Claude or Responses client's integer enum reached Antigravity as a string
    enum, so the model answered ``"2"`` where the client's tool wants ``2`` (Claude Code
    rejects the call); it now goes as an integer with its values in the description.
    Gemini's own API still gets its string enum."""
    proxy = await with_gemini_key(start_proxy, fakes, tmp_path)
    bearer = {"Authorization": f"Bearer {KEY}"}
    hello = [{"role": "user", "content": "hi"}]
    clients = (
        (
            "/v1/chat/completions",
            {
                "messages": hello,
                "tools": [{"type": "function", "function": {"name": "dig", "parameters": LEVEL}}],
            },
            bearer,
        ),
        (
            "/v1/messages",
            {"max_tokens": 256, "messages": hello, "tools": [{"name": "dig", "input_schema": LEVEL}]},
            {"x-api-key": KEY},
        ),
        (
            "/v1/responses",
            {"input": "hi", "tools": [{"type": "function", "name": "dig", "parameters": LEVEL}]},
            bearer,
        ),
    )
    for path, body, headers in clients:
        for model in ("gemini-3-flash", "claude-sonnet-4-6"):
            status, answer = await post(proxy.url, path, {**body, "model": model}, headers)
            assert status == 200, answer
            assert level_param(fakes.gemini) == {
                "type": "integer",
                "description": "how deep (Allowed: 1, 2, 3)",
            }, (
                path,
                model,
            )
        status, answer = await post(proxy.url, path, {**body, "model": "plain-gemini"}, headers)
        assert status == 200, answer
        assert level_param(fakes.gemini) == {
            "type": "STRING",
            "enum": ["1", "2", "3"],
            "description": "how deep",
        }, path
