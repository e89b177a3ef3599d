"""Claude request parsing and building: goldens, errors, and IRs from other formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER
from cliproxy.translate.claude.ids import sanitize_tool_id

DATA = Path(__file__).parent / "data" / "claude"
GOLDENS = sorted(DATA.glob("*.json"))


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_golden_round_trip(path):
    body = json.loads(path.read_text())
    assert ADAPTER.build_request(ADAPTER.parse_request(body)) == body


def test_claude_code_capture_parses_into_ir():
    body = json.loads((DATA / "claude_code_2.1.330_messages.json").read_text())
    req = ADAPTER.parse_request(body)
    assert req.source == "claude" and req.stream and req.max_tokens == 128000
    assert req.reasoning == {"mode": "adaptive", "display": "updates", "effort": "medium"}
    assert req.user.startswith('{"device_id"')
    assert req.extras["context_management"] == body["context_management"]
    top = req.messages[0]
    assert top.role == "system" and len(top.content) == 3
    assert top.content[1].extras == {"cache_control": {"type": "ephemeral"}}
    mid = req.messages[2]
    assert mid.role == "system" and mid.extras["output_config"] == {"effort": "medium"}
    assistant = req.messages[4]
    thinking, text, call = assistant.content
    assert text == ir.Text("Calling a tool.")
    assert isinstance(thinking, ir.Thinking) and thinking.family == "claude" and thinking.signature
    assert isinstance(call, ir.ToolCall) and json.loads(call.arguments)["command"] == "echo FAKE_TOOL_OK"
    result = req.messages[5].content[0]
    assert isinstance(result, ir.ToolResult) and result.name == "Bash" and not result.is_error
    assert result.content == [ir.Text("FAKE_TOOL_OK")]
    deferred = req.tools[-1]
    assert deferred.extras == {"defer_loading": True}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "hologram"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": 7, "content": "hi"}],
                    }
                ],
            },
            "messages[0].content[0].tool_use_id",
        ),
        ({"model": "m", "messages": "hello"}, "messages"),
        ({"model": 3, "messages": []}, "model"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text",
        ),
        ({"model": "m", "messages": [], "max_tokens": "lots"}, "max_tokens"),
        ({"model": "m", "messages": [], "max_tokens": 64.5}, "max_tokens"),
        ({"model": "m", "messages": [], "temperature": True}, "temperature"),
        ({"model": "m", "messages": [], "top_p": "high"}, "top_p"),
        ({"model": "m", "messages": [], "top_k": 2.5}, "top_k"),
        ({"model": "m", "messages": [], "top_k": "a", "max_tokens": "b"}, "max_tokens"),  # the first in order
        ({"model": "m", "messages": [], "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"model": "m", "messages": [], "thinking": {"type": "deep"}}, "thinking.type"),
        (
            {
                "model": "m",
                "messages": [],
                "system": [{"type": "image", "source": {"type": "url", "url": "u"}}],
            },
            "system[0].type",
        ),
        ({"model": "m", "messages": [], "tools": [{"description": "no name"}]}, "tools[0].name"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {"x": 2**70}}],
                    }
                ],
            },
            "messages[0].content[0].input",
        ),
        ({"model": "m", "messages": [], "tool_choice": "auto"}, "tool_choice"),
        ({"model": "m", "messages": [], "metadata": 3}, "metadata"),
    ],
)
def test_bad_requests_raise_request_error_with_path(body, where):
    with pytest.raises(RequestError) as info:
        ADAPTER.parse_request(body)
    assert str(info.value).startswith(where + ":")
    assert info.value.param == where


def test_claude_only_blocks_and_tools_are_kept():
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
                        "title": "notes",
                        "context": "ctx",
                        "citations": {"enabled": True},
                    },
                    {
                        "type": "search_result",
                        "source": "s",
                        "title": "t",
                        "content": [{"type": "text", "text": "x"}],
                    },
                    {"type": "text", "text": "search please", "citations": None},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "opaque"},
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "q"},
                    },
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                    {
                        "type": "text",
                        "text": "found",
                        "citations": [{"type": "web_search_result_location", "url": "u"}],
                    },
                ],
            },
        ],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {
                "type": "custom",
                "name": "f",
                "input_schema": {"type": "object"},
                "strict": True,
                "input_examples": [{}],
            },
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "output_format": {"type": "json_schema", "schema": {"type": "object"}},
        "service_tier": "auto",
        "container": "c1",
        "mcp_servers": [{"type": "url", "url": "u", "name": "n"}],
        "top_k": 5,
        "top_p": 0.9,
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "stream": False,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    req = ADAPTER.parse_request(body)
    assert req.tool_choice == "required" and req.parallel_tool_calls is False
    assert req.tools[0].kind == "builtin" and req.tools[0].extras["family"] == "claude"
    assert req.tools[1].strict is True
    assert req.reasoning == {"mode": "enabled", "budget": 2048}
    assert req.response_format == {"type": "json_schema", "schema": {"type": "object"}}
    doc = req.messages[0].content[2]
    assert isinstance(doc, ir.File) and base64.b64decode(doc.data) == b"hello" and doc.filename == "notes"
    redacted = req.messages[1].content[0]
    assert redacted.redacted and redacted.signature == "opaque"
    assert isinstance(req.messages[1].content[1], ir.ServerTool)
    assert ADAPTER.build_request(req) == body


def test_foreign_ir_builds_valid_claude_body():
    req = ir.Request(
        model="claude-sonnet-4-6",
        source="openai",
        stream=True,
        temperature=0.2,
        top_k=40,
        stop=["x"],
        user="u1",
        parallel_tool_calls=True,
        tool_choice="auto",
        reasoning={"effort": "high"},
        response_format={"type": "json_schema", "schema": {"type": "object"}, "name": "out"},
        messages=[
            ir.Message("system", [ir.Text("be brief")]),
            ir.Message("developer", [ir.Text("dev rules")]),
            ir.Message(
                "user",
                [
                    ir.Text("hi"),
                    ir.Text(""),
                    ir.Image(url="data:image/jpeg;base64,/9j/"),
                    ir.Image(url="https://x/a.png"),
                    ir.File(
                        data=base64.b64encode(b"plain").decode(), media_type="text/plain", filename="a.txt"
                    ),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("gemini thoughts", signature="gsig", family="gemini"),
                    ir.Thinking("openai reasoning", signature="enc", family="openai"),
                    ir.ToolCall("call.1:a", "shell", '{"cmd": "ls"}'),
                    ir.ToolCall("call_2", "look", "not json"),
                ],
            ),
            ir.Message("tool", [ir.ToolResult("call.1:a", [ir.Text("out")])]),
            ir.Message(
                "tool",
                [
                    ir.ToolResult(
                        "call_2",
                        [ir.Text("bad"), ir.Image(data="AAA", media_type="image/png")],
                        is_error=True,
                    )
                ],
            ),
            ir.Message("system", [ir.Text("late system")]),
            ir.Message("user", [ir.Text("next")]),
        ],
        tools=[
            ir.Tool(
                "shell", "run", {"type": "object", "properties": {"cmd": {"type": "string"}}}, strict=False
            ),
            ir.Tool("look"),
            ir.Tool("web_search", kind="builtin", extras={"raw": {"type": "web_search"}, "family": "openai"}),
        ],
    )
    body = ADAPTER.build_request(req)
    assert body["system"] == [{"type": "text", "text": t} for t in ("be brief", "dev rules", "late system")]
    assert body["max_tokens"] == 32000
    # a Chat reasoning_effort asks to see the reasoning (CPA's summary rule)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576, "display": "summarized"}
    assert "top_k" not in body and "temperature" not in body  # refused with thinking
    assert body["stop_sequences"] == ["x"] and body["metadata"] == {"user_id": "u1"}
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": {"type": "object", "additionalProperties": False}}
    }
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": False}
    # an OpenAI web_search becomes Claude's own web search tool (CPA's mapping)
    assert [t["name"] for t in body["tools"]] == ["shell", "look", "web_search"]
    assert body["tools"][2] == {"type": "web_search_20250305", "name": "web_search"}
    assert body["tools"][1]["input_schema"] == {"type": "object", "properties": {}}
    assert "strict" not in body["tools"][0]
    user, assistant, results = body["messages"]
    assert user["content"] == [
        {"type": "text", "text": "hi"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
            "title": "a.txt",
        },
    ]
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1_a", "name": "shell", "input": {"cmd": "ls"}},
        {"type": "tool_use", "id": "call_2", "name": "look", "input": {}},
    ]
    assert results["role"] == "user"
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1_a", "content": "out"},
        {
            "type": "tool_result",
            "tool_use_id": "call_2",
            "is_error": True,
            "content": [
                {"type": "text", "text": "bad"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
            ],
        },
        {"type": "text", "text": "next"},
    ]


def test_foreign_reasoning_variants():
    def thinking(**kw):
        base = dict(model="m", source="gemini", messages=[ir.Message("user", [ir.Text("q")])])
        return ADAPTER.build_request(ir.Request(**(base | kw))).get("thinking")

    assert thinking(reasoning={"budget": 0}) is None
    assert thinking(reasoning={"effort": "none"}) is None
    assert thinking(reasoning={"budget": 5000}) == {"type": "enabled", "budget_tokens": 5000}
    assert thinking(reasoning={"budget": -1}) == {"type": "enabled", "budget_tokens": 8192}
    assert thinking(reasoning={"mode": "adaptive", "display": "omitted"}) == {
        "type": "adaptive",
        "display": "omitted",
    }
    assert thinking(reasoning={"effort": "max"}) == {"type": "enabled", "budget_tokens": 31999}
    assert thinking(reasoning={"effort": "max"}, max_tokens=200000) == {
        "type": "enabled",
        "budget_tokens": 128000,
    }
    assert thinking(reasoning={"effort": "low"}, max_tokens=500) is None
    assert thinking(reasoning={"effort": "high"}, tool_choice={"name": "f"}, tools=[ir.Tool("f")]) is None


def test_tool_ids_sanitized_consistently():
    long_id = "x" * 100
    assert sanitize_tool_id("toolu_01abc") == "toolu_01abc"
    assert sanitize_tool_id("call.1/2") == "call_1_2"
    assert len(sanitize_tool_id(long_id)) <= 64
    assert sanitize_tool_id(long_id) == sanitize_tool_id(long_id) != sanitize_tool_id("y" * 100)
    req = ir.Request(
        model="m",
        source="openai",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall(long_id, "f", "{}")]),
            ir.Message(
                "user", [ir.ToolResult(long_id, [ir.Text("r")]), ir.ToolResult(long_id, [ir.Text("dup")])]
            ),
        ],
    )
    body = ADAPTER.build_request(req)
    call_id = body["messages"][1]["content"][0]["id"]
    results = body["messages"][2]["content"]
    assert [r["tool_use_id"] for r in results] == [call_id]


def test_consecutive_roles_merge_and_empty_messages_drop():
    req = ir.Request(
        model="m",
        source="openai",
        messages=[
            ir.Message("user", [ir.Text("a")]),
            ir.Message("user", [ir.Text("b")]),
            ir.Message("assistant", [ir.Text("")]),
            ir.Message("assistant", [ir.Text("c")]),
            ir.Message("assistant", [ir.Thinking("t")]),
        ],
    )
    body = ADAPTER.build_request(req)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}]},
    ]
    assert "system" not in body


def _turns() -> list[dict]:
    return [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("fault", "where"),
    [
        (lambda b: b["messages"][1]["content"][1].pop("id"), "messages[1].content[1].id"),
        (lambda b: b["messages"][1]["content"].append({"type": "nope"}), "messages[1].content[2].type"),
        (
            lambda b: b["messages"][2]["content"][0]["content"].append({"type": "text", "text": 3}),
            "messages[2].content[0].content[1].text",
        ),
        (
            lambda b: b["messages"][2]["content"][0].update(tool_use_id=["t1"]),
            "messages[2].content[0].tool_use_id",
        ),
        (lambda b: b["tools"][1].update(name=5), "tools[1].name"),
        (
            lambda b: b["messages"][0].update(content=[{"type": "image", "source": 1}]),
            "messages[0].content[0].source",
        ),
    ],
)
def test_a_fault_is_named_where_it_is(fault, where):
    """Paths are written out only to name a fault (the request is parsed again for it):
    the error says exactly where, as a parse that writes every path would."""
    body = {
        "model": "claude-x",
        "messages": _turns(),
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}, {"name": "Read"}],
    }
    assert ADAPTER.parse_request(body).messages  # well formed before the fault
    fault(body)
    with pytest.raises(RequestError) as info:
        ADAPTER.parse_request(body)
    assert info.value.param == where
    assert str(info.value).startswith(where + ":")


@pytest.mark.parametrize(
    ("call_id", "name"),
    [
        ("get_weather-call-123", "get_weather"),
        ("bash-5f3a9c01-2", "bash"),  # the ids made for Gemini's calls
        ("toolu_01AbC", "toolu_01AbC"),
        ("a-b", "a-b"),
    ],
)
def test_a_result_whose_call_was_trimmed_gets_a_name_from_its_id(call_id, name):
    """A client that trimmed its history sends a tool_result whose tool_use is gone: CPA
    derives the name (the id without its last two dash-separated pieces, else the id)
    instead of refusing the request."""
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "ok"}]}
        ],
    }
    (result,) = ADAPTER.parse_request(body).messages[0].content
    assert isinstance(result, ir.ToolResult) and (result.call_id, result.name) == (call_id, name)


def test_sampling_values_are_carried_as_given():
    # an integer temperature is a number; absent values stay None
    req = ADAPTER.parse_request(
        {"model": "m", "messages": [], "max_tokens": 64, "temperature": 1, "top_p": 0.5}
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.top_k) == (64, 1, 0.5, None)
    req = ADAPTER.parse_request({"model": "m", "messages": [], "top_k": 3, "temperature": None})
    assert (req.max_tokens, req.temperature, req.top_p, req.top_k) == (None, None, None, 3)
