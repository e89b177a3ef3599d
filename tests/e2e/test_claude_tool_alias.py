"""Tool names of cloaked Claude requests, through the proxy into the fake Claude upstream.

A cloaked request to a Claude Code credential (here an API key with
``fingerprint-profile: claude-code-cli``, which CPA treats as a Claude Code OAuth
credential on the wire) sends each custom tool as an opaque ``mcp__<server>__<tool>``
alias; the answer's tool calls come back under the client's own names, whole and
streamed, whatever the client's format.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA

OTHER_KEY = "sk-proxy-other-caller"
ALIAS = re.compile(r"mcp__[a-z]+_[a-z]+__[a-z]+_[A-Za-z0-9_-]+")


def config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}", "{OTHER_KEY}"]
claude-api-key:
  - api-key: "sk-ant-cloaked"
    base-url: "{fakes.claude.base_url}"
    fingerprint-profile: claude-code-cli
    cloak:
      mode: always
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-cloaked"
  - api-key: "sk-ant-plain"
    base-url: "{fakes.claude.base_url}"
    fingerprint-profile: claude-code-cli
    cloak:
      mode: never
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-plain"
  - api-key: "sk-ant-cloak-no-profile"
    base-url: "{fakes.claude.base_url}"
    cloak:
      mode: always
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-cloak-api"
"""


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    p = await start_proxy(config(fakes))
    p.fakes = fakes
    return p


def upstream_tools(fakes: Any) -> list[str]:
    return [t["name"] for t in fakes.claude.last.json["tools"]]


def server_of(alias: str) -> str:
    return alias.split("__")[1]


# ---------------------------------------------------------------------- OpenAI Chat client

CHAT_TOOLS = [
    {"type": "function", "function": {"name": "shell.exec", "parameters": TOOL_SCHEMA}},
    {"type": "function", "function": {"name": "read_file", "parameters": TOOL_SCHEMA}},
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_round_trip(proxy: Any, stream: bool) -> None:
    """CPA: TestClaudeExecutor_ExecuteOpenAINonStreamRestoresOAuthToolNames."""
    kwargs: dict[str, Any] = {
        "model": "claude-cloaked",
        "messages": [{"role": "user", "content": "FAKE_TOOL run it"}],
        "tools": CHAT_TOOLS,
    }
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.chat.completions.stream(**kwargs) as s:
                done = await s.get_final_completion()
        else:
            done = await client.chat.completions.create(**kwargs)
    calls = done.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["shell.exec"]
    assert json.loads(calls[0].function.arguments) == {"command": "echo FAKE_TOOL_OK"}
    sent = proxy.fakes.claude.last
    names = upstream_tools(proxy.fakes)
    assert all(ALIAS.fullmatch(n) for n in names), names
    assert names[0].endswith("_shell_exec") and names[1].endswith("_read_file")
    assert b"shell.exec" not in sent.body and b'"read_file"' not in sent.body


# ---------------------------------------------------------------------- Claude client (not Claude Code)

OPENCODE_TOOLS = [
    {"name": "bash", "description": "Executes a given bash command", "input_schema": TOOL_SCHEMA},
    {"name": "edit", "description": "Performs exact string replacements", "input_schema": TOOL_SCHEMA},
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_client_round_trip(proxy: Any, stream: bool) -> None:
    """CPA: TestClaudeExecutor_ExecuteOAuthCustomToolMCPAliasRoundTrip."""
    kwargs: dict[str, Any] = {
        "model": "claude-cloaked",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "FAKE_TOOL=bash run it"}],
        "tools": OPENCODE_TOOLS,
    }
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                done = await s.get_final_message()
        else:
            done = await client.messages.create(**kwargs)
    assert [(b.name, b.input) for b in done.content if b.type == "tool_use"] == [
        ("bash", {"command": "echo FAKE_TOOL_OK"})
    ]
    names = upstream_tools(proxy.fakes)
    assert all(ALIAS.fullmatch(n) for n in names), names
    assert names[0].endswith("__" + names[0].split("__")[2].split("_")[0] + "_bash")


async def test_history_and_tool_choice_are_renamed(proxy: Any) -> None:
    """opencode's second turn (real-clients capture): the earlier tool_use goes under the
    same alias as the declaration, tool_choice too; the tool_result is untouched."""
    body = {
        "model": "claude-cloaked",
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You are OpenCode.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "FAKE_TOOL=bash run it"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Calling a tool."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01d21ca38f0cfc44a2af19bad5",
                        "name": "bash",
                        "input": {"command": "echo FAKE_TOOL_OK"},
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01d21ca38f0cfc44a2af19bad5",
                        "content": "FAKE_TOOL_OK\n",
                        "cache_control": {"type": "ephemeral"},
                    }
                ],
            },
        ],
        "tools": OPENCODE_TOOLS,
        "tool_choice": {"type": "auto"},
        "stream": False,
    }
    headers = {
        "x-api-key": KEY,
        "anthropic-version": "2023-06-01",
        "user-agent": "opencode/1.18.33 ai-sdk/provider-utils/4.0.46 runtime/bun/1.3.14",
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
        body["tool_choice"] = {"type": "tool", "name": "edit"}
        async with s.post(proxy.url + "/v1/messages", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
    assert answer["content"][0]["text"].startswith("Tool result received")
    sent = proxy.fakes.claude.last.json
    bash, edit = (t["name"] for t in sent["tools"])
    history = next(m for m in sent["messages"] if m["role"] == "assistant")["content"]
    assert [b["name"] for b in history if b["type"] == "tool_use"] == [bash]
    results = [
        b
        for m in sent["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    assert results[0]["tool_use_id"] == "toolu_01d21ca38f0cfc44a2af19bad5"
    assert sent["tool_choice"] == {"type": "tool", "name": edit}


async def test_stream_name_arrives_in_content_block_start(proxy: Any) -> None:
    """The raw stream a Claude client reads: the tool's name (in content_block_start) is
    the client's, and no alias is left anywhere in it.

    CPA: TestClaudeExecutor_ExecuteStreamOAuthCustomToolMCPAliasRoundTrip."""
    body = {
        "model": "claude-cloaked",
        "max_tokens": 1024,
        "stream": True,
        "messages": [{"role": "user", "content": "FAKE_TOOL run it"}],
        "tools": [{"name": "search.网页/tool", "input_schema": TOOL_SCHEMA}],
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r:
            assert r.status == 200
            raw = await r.read()
    assert b"mcp__" not in raw
    starts = [
        json.loads(line[6:])
        for line in raw.split(b"\n")
        if line.startswith(b"data: ") and b"content_block_start" in line
    ]
    tool_blocks = [e["content_block"] for e in starts if e["content_block"]["type"] == "tool_use"]
    assert [b["name"] for b in tool_blocks] == ["search.网页/tool"]
    assert b"event: content_block_start\n" in raw  # the framing is the upstream's
    (name,) = upstream_tools(proxy.fakes)
    assert ALIAS.fullmatch(name) and name.endswith("_search_tool")


# ---------------------------------------------------------------------- stability and collisions


async def _aliases(proxy: Any, key: str, tools: list[dict[str, Any]]) -> list[str]:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=key, max_retries=0) as client:
        await client.messages.create(
            model="claude-cloaked", max_tokens=64, messages=[{"role": "user", "content": "hi"}], tools=tools
        )
    return upstream_tools(proxy.fakes)


async def test_alias_is_stable_per_caller(proxy: Any) -> None:
    first = await _aliases(proxy, KEY, OPENCODE_TOOLS)
    again = await _aliases(proxy, KEY, list(reversed(OPENCODE_TOOLS)))
    assert again == list(reversed(first))  # per tool, not per position
    other = await _aliases(proxy, OTHER_KEY, OPENCODE_TOOLS)
    assert len({server_of(a) for a in first}) == 1  # one virtual server per caller
    assert server_of(other[0]) != server_of(first[0])
    assert other != first


async def test_name_collisions_get_distinct_aliases(proxy: Any) -> None:
    """Names that only differ in characters an alias cannot hold, and a declared name
    equal to another tool's alias, still get one alias each and come back apart."""
    taken = (await _aliases(proxy, KEY, [{"name": "fetch_url", "input_schema": TOOL_SCHEMA}]))[0]
    tools = [
        {"name": "tool.name", "input_schema": TOOL_SCHEMA},
        {"name": "tool/name", "input_schema": TOOL_SCHEMA},
        {"name": taken, "input_schema": TOOL_SCHEMA},
        {"name": "fetch_url", "input_schema": TOOL_SCHEMA},
    ]
    names = await _aliases(proxy, KEY, tools)
    assert len(set(names)) == 4
    assert names[2] == taken  # the caller's own MCP-shaped name is sent as it is
    assert names[3] != taken and names[3].endswith("_fetch_url")
    for index, original in enumerate(["tool.name", "tool/name"]):
        async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
            done = await client.messages.create(
                model="claude-cloaked",
                max_tokens=64,
                messages=[{"role": "user", "content": f"FAKE_TOOL={names[index]}"}],
                tools=tools,
            )
        assert [b.name for b in done.content if b.type == "tool_use"] == [original]


# ---------------------------------------------------------------------- no renaming


@pytest.mark.parametrize("model", ["claude-plain", "claude-cloak-api"])
async def test_no_aliases_when_cloaking_is_off(proxy: Any, model: str) -> None:
    """Cloak ``never``; and a cloaked API key without the CLI profile (CPA aliases tools
    only for the Claude Code OAuth / ``claude-code-cli`` wire profile)."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        done = await client.messages.create(
            model=model,
            max_tokens=64,
            messages=[{"role": "user", "content": "FAKE_TOOL run it"}],
            tools=OPENCODE_TOOLS,
        )
    assert upstream_tools(proxy.fakes) == ["bash", "edit"]
    assert [b.name for b in done.content if b.type == "tool_use"] == ["bash"]
    cloaked = b"You are Claude Code" in proxy.fakes.claude.last.body
    assert cloaked == (model == "claude-cloak-api")  # the request was (or was not) cloaked


async def test_real_claude_code_keeps_its_tool_names(proxy: Any) -> None:
    """A real Claude Code (its capture's headers at the baseline version) is never cloaked:
    its tools, including an MCP tool, reach the upstream under their own names.

    CPA: TestClaudeExecutor_ConfirmedVSCodeOAuthPreservesToolNames,
    TestClaudeExecutor_CountTokensUpstreamConfirmedVSCodePreservesCustomTool."""
    user_id = orjson.dumps(
        {"device_id": "37124ee7a0de20dc" * 4, "account_uuid": "", "session_id": str(uuid.uuid4())}
    ).decode()
    body = {
        "model": "claude-cloaked",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "FAKE_TOOL run it"}]}],
        "system": [
            {"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."}
        ],
        "tools": [
            {"name": "Bash", "input_schema": TOOL_SCHEMA},
            {"name": "mcp__context7__query-docs", "input_schema": TOOL_SCHEMA},
        ],
        "metadata": {"user_id": user_id},
        "stream": False,
    }
    headers = {
        "x-api-key": KEY,
        "user-agent": "claude-cli/2.1.220 (external, cli)",
        "x-app": "cli",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "anthropic-version": "2023-06-01",
        "x-stainless-lang": "js",
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages?beta=true", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
    assert upstream_tools(proxy.fakes) == ["Bash", "mcp__context7__query-docs"]
    assert [b["name"] for b in answer["content"] if b["type"] == "tool_use"] == ["Bash"]


# ---------------------------------------------------------------------- names the model garbled


def _message(name: str) -> dict[str, Any]:
    return {
        "id": "msg_01garbled",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": name, "input": {"command": "ls"}}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


def _sse(name: str) -> bytes:
    start = {**_message(name), "content": [], "stop_reason": None}
    block = {"type": "tool_use", "id": "toolu_01", "name": name, "input": {}}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(b"event: " + e.encode() + b"\ndata: " + orjson.dumps(d) + b"\n\n" for e, d in events)


async def _ask(proxy: Any, *, stream: bool) -> tuple[int, Any]:
    body = {
        "model": "claude-cloaked",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "FAKE_TOOL run it"}],
        "tools": OPENCODE_TOOLS,
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r:
            raw = await r.read()
            return r.status, (raw if stream and r.status == 200 else json.loads(raw))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_drifted_alias_is_restored(proxy: Any, stream: bool) -> None:
    """A model that repeats the virtual server part still calls the client's tool."""
    from tests.fakes.server import Behavior

    await _ask(proxy, stream=False)
    bash = upstream_tools(proxy.fakes)[0]
    drifted = f"mcp__{server_of(bash)}__{bash.split('__', 1)[1]}"
    body: Any = _sse(drifted) if stream else _message(drifted)
    headers = {"Content-Type": "text/event-stream"} if stream else {}
    proxy.fakes.claude.script(Behavior(status=200, body=body, headers=headers))
    status, answer = await _ask(proxy, stream=stream)
    assert status == 200
    if stream:
        assert b"mcp__" not in answer and b'"name":"bash"' in answer
    else:
        assert answer["content"][0]["name"] == "bash"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unknown_alias_is_refused_without_cooling_the_credential(proxy: Any, stream: bool) -> None:
    """A name in the caller's virtual server that matches no tool of the request is never
    handed to the client (it might run the wrong tool): a 502 in Anthropic's shape. The
    credential did nothing wrong: the next request on it goes through.

    CPA: TestReverseRemapOAuthToolNamesMarksTrailingMarkupFailureRequestScoped."""
    from tests.fakes.server import Behavior

    await _ask(proxy, stream=False)
    bash = upstream_tools(proxy.fakes)[0]
    unknown = f"mcp__{server_of(bash)}__zzzz_missing_tool"
    body: Any = _sse(unknown) if stream else _message(unknown)
    headers = {"Content-Type": "text/event-stream"} if stream else {}
    proxy.fakes.claude.script(Behavior(status=200, body=body, headers=headers))
    status, answer = await _ask(proxy, stream=stream)
    assert status == 502
    assert answer["type"] == "error"
    assert "missing_tool" in answer["error"]["message"]
    status, answer = await _ask(proxy, stream=False)
    assert status == 200
    assert answer["content"][0]["name"] == "bash"


# ---------------------------------------------------------------------- other entries


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_responses_client_round_trip(proxy: Any, stream: bool) -> None:
    kwargs: dict[str, Any] = {
        "model": "claude-cloaked",
        "input": "FAKE_TOOL run it",
        "tools": [{"type": "function", "name": "exec_command", "parameters": TOOL_SCHEMA, "strict": False}],
    }
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(**kwargs) as s:
                done = await s.get_final_response()
        else:
            done = await client.responses.create(**kwargs)
    assert [o.name for o in done.output if o.type == "function_call"] == ["exec_command"]
    (name,) = upstream_tools(proxy.fakes)
    assert ALIAS.fullmatch(name) and name.endswith("_exec_command")


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_count_tokens_counts_the_aliased_tools(proxy: Any) -> None:
    """count_tokens of a cloaked request counts what the Messages call will send: the
    same aliases (CPA: TestClaudeExecutor_ClaudeCodeCLIFingerprintCountTokensKeepsNativeShape)."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-cloaked",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            tools=OPENCODE_TOOLS,
        )
        sent = upstream_tools(proxy.fakes)
        counted = await client.messages.count_tokens(
            model="claude-cloaked", messages=[{"role": "user", "content": "hi"}], tools=OPENCODE_TOOLS
        )
    assert counted.input_tokens > 0
    assert proxy.fakes.claude.last.path.endswith("/count_tokens")
    assert upstream_tools(proxy.fakes) == sent
