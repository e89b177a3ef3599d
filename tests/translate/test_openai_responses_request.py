"""Responses request parse/build: golden Codex CLI capture, errors, cross-format builds."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.openai_responses import ADAPTER, CODEX_ADAPTER
from tests.calls import calls_made

DATA = Path(__file__).parent / "data" / "openai_responses"


def codex_cli_body() -> dict:
    return json.loads((DATA / "codex_cli_0169_request.json").read_text())


# --------------------------------------------------------------------------- golden


def test_codex_cli_capture_round_trips():
    body = codex_cli_body()
    req = ADAPTER.parse_request(copy.deepcopy(body))
    assert [m.role for m in req.messages] == ["developer", "developer", "user", "user", "assistant", "tool"]
    thinking, call = req.messages[4].content
    assert isinstance(thinking, ir.Thinking) and thinking.family == "openai"
    assert thinking.signature == "ZmFrZS1lbmNyeXB0ZWQtcmVhc29uaW5n"
    assert thinking.summary == ["**Thinking** about the request."]
    assert thinking.id == "rs_471baeb66a864a5d97de9009d61c5c76"
    assert isinstance(call, ir.ToolCall) and call.id == "call_9f9dc444ac664608b4c2157d"
    assert call.name == "exec_command" and json.loads(call.arguments) == {"cmd": "echo FAKE_TOOL_OK"}
    result = req.messages[5].content[0]
    assert isinstance(result, ir.ToolResult) and result.name == "exec_command"
    ns_tools = [t for t in req.tools if t.namespace]
    assert [t.name for t in ns_tools] == ["spawn_agent", "send_input", "wait"]
    assert ns_tools[0].namespace == "multi_agent_v1"
    builtin = req.tools[-1]
    assert builtin.kind == "builtin" and builtin.name == "web_search"
    assert req.reasoning == {"effort": "high", "summary": "auto"}
    assert req.extras["client_metadata"]["x-codex-window-id"].endswith(":0")
    assert ADAPTER.build_request(req) == body


def test_codex_cli_capture_codex_dialect():
    body = codex_cli_body()
    out = CODEX_ADAPTER.build_request(ADAPTER.parse_request(body))
    assert out["instructions"] == ""
    assert out["store"] is False and out["stream"] is True
    assert out["include"] == ["reasoning.encrypted_content"]
    assert out["parallel_tool_calls"] is True
    assert out["input"] == body["input"]
    assert out["tools"] == body["tools"]
    for key in ("max_output_tokens", "temperature", "top_p", "user", "previous_response_id"):
        assert key not in out


def test_codex_dialect_strips_rejected_fields():
    body = {
        "model": "gpt-5",
        "input": "hi",
        "instructions": "Be brief.",
        "max_output_tokens": 10,
        "temperature": 0.5,
        "top_p": 0.9,
        "truncation": "auto",
        "user": "u1",
        "store": True,
        "previous_response_id": "resp_1",
        "safety_identifier": "s",
        "prompt_cache_retention": "24h",
        "stream_options": {"include_obfuscation": False, "reasoning_summary_delivery": "x"},
        "service_tier": "flex",
        "include": ["file_search_call.results"],
        "metadata": {"a": "b"},
        "context_management": [{"type": "compaction"}],
        "tools": [{"type": "web_search_preview"}],
        "tool_choice": {"type": "web_search_preview"},
    }
    out = CODEX_ADAPTER.build_request(ADAPTER.parse_request(body))
    assert out["instructions"] == "Be brief."
    assert out["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]
    # CPA sends exactly this include list (codex_openai-responses_request_test.go)
    assert out["include"] == ["reasoning.encrypted_content"]
    assert out["stream_options"] == {"reasoning_summary_delivery": "x"}
    assert out["tools"] == [{"type": "web_search"}]
    assert out["tool_choice"] == {"type": "web_search"}
    assert out["store"] is False and out["stream"] is True
    for key in (
        "max_output_tokens",
        "temperature",
        "top_p",
        "truncation",
        "user",
        "previous_response_id",
        "safety_identifier",
        "prompt_cache_retention",
        "service_tier",
        "context_management",
        "metadata",  # CPA keeps it, the backend refuses it (CPA issue 5112; test_sub_codex_metadata.py)
    ):
        assert key not in out, key


def test_codex_dialect_system_role_becomes_developer_and_priority_tier_kept():
    body = {
        "model": "m",
        "service_tier": "priority",
        "input": [{"role": "system", "content": "sys"}, {"role": "user", "content": "u"}],
    }
    out = CODEX_ADAPTER.build_request(ADAPTER.parse_request(body))
    assert out["input"][0]["role"] == "developer"
    assert out["service_tier"] == "priority"
    assert out["parallel_tool_calls"] is True  # CPA sets it with or without tools


# --------------------------------------------------------------------------- parse details


def test_instructions_become_marked_system_message_and_round_trip():
    body = {"model": "m", "instructions": "You are terse.", "input": "Hello"}
    req = ADAPTER.parse_request(body)
    assert req.messages[0].role == "system" and req.messages[0].extras == {"_instructions": True}
    assert req.messages[1].content[0].text == "Hello"
    assert ADAPTER.build_request(req) == body


def test_consecutive_assistant_items_merge_into_one_message():
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "summary": [], "encrypted_content": "e"},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "a", "annotations": []}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "g", "input": "raw text"},
            {"type": "function_call_output", "call_id": "c1", "output": "r1"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "r2"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
        ],
    }
    req = ADAPTER.parse_request(copy.deepcopy(body))
    roles = [m.role for m in req.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    kinds = [type(b).__name__ for b in req.messages[1].content]
    assert kinds == ["Thinking", "Text", "ToolCall", "ToolCall"]
    assert req.messages[1].content[3].kind == "custom"
    assert req.messages[1].content[3].arguments == "raw text"
    assert isinstance(req.messages[4].content[0], ir.ServerTool)
    assert ADAPTER.build_request(req) == body


def test_images_and_files_parse():
    body = {
        "model": "m",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
                    {"type": "input_image", "image_url": "https://x/y.jpg", "detail": "auto"},
                    {"type": "input_image", "file_id": "file_1", "detail": "low"},
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,JVBE",
                        "filename": "a.pdf",
                    },
                    {"type": "input_file", "file_id": "file_2"},
                    {"type": "input_file", "file_url": "https://x/doc.pdf"},
                ],
            }
        ],
    }
    req = ADAPTER.parse_request(copy.deepcopy(body))
    blocks = req.messages[0].content
    assert blocks[0] == ir.Image(
        data="AAAA", media_type="image/png", detail="high", extras={"type": "input_image"}
    )
    assert blocks[1].url == "https://x/y.jpg"
    assert blocks[2].file_id == "file_1"
    assert (blocks[3].data, blocks[3].media_type, blocks[3].filename) == ("JVBE", "application/pdf", "a.pdf")
    assert blocks[5].url == "https://x/doc.pdf"
    assert ADAPTER.build_request(req) == body


def test_tools_tool_choice_text_and_params():
    body = {
        "model": "m",
        "input": "x",
        "tools": [
            {
                "type": "function",
                "name": "f",
                "description": "d",
                "parameters": {"type": "object"},
                "strict": True,
            },
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "p",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
            },
            {
                "type": "namespace",
                "name": "crm",
                "description": "CRM tools",
                "tools": [
                    {"type": "function", "name": "lookup", "parameters": {"type": "object"}},
                    {"type": "custom", "name": "note"},
                ],
            },
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "max_output_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.5,
        "text": {
            "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True},
            "verbosity": "low",
        },
        "reasoning": {"effort": "low", "summary": "detailed"},
        "user": "u",
        "metadata": {"k": "v"},
        "store": False,
        "previous_response_id": "resp_1",
        "service_tier": "auto",
        "truncation": "auto",
    }
    req = ADAPTER.parse_request(copy.deepcopy(body))
    assert req.tool_choice == {"name": "f"}
    assert [t.kind for t in req.tools] == ["function", "custom", "function", "custom", "builtin"]
    assert req.tools[2].namespace == "crm" and req.tools[3].namespace == "crm"
    assert req.max_tokens == 50 and req.temperature == 0.2 and req.top_p == 0.5
    assert req.response_format["type"] == "json_schema"
    assert req.user == "u" and req.metadata == {"k": "v"}
    assert ADAPTER.build_request(req) == body


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role: unknown role 'robot'"),
        (
            {"model": "m", "input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]},
            "input[0].call_id",
        ),
        ({"model": "m", "input": 5}, "input"),
        ({"model": "m", "input": [{"role": "user", "content": 3}]}, "input[0].content"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
        ),
        (
            {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "m", "input": "x", "tools": {"a": 1}}, "tools"),
        ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "input": "x", "max_output_tokens": "many"}, "max_output_tokens"),
        ({"model": "m", "input": "x", "instructions": ["a"]}, "instructions"),
        ({"model": 3}, "model"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0]",
        ),
    ],
)
def test_malformed_requests_raise_request_error(body, where):
    with pytest.raises(RequestError) as err:
        ADAPTER.parse_request(body)
    assert where in err.value.message


def test_orphan_output_allowed_with_previous_response_id():
    body = {
        "model": "m",
        "previous_response_id": "resp_1",
        "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}],
    }
    assert ADAPTER.build_request(ADAPTER.parse_request(body)) == body


def test_codex_parse_is_responses_parse():
    body = codex_cli_body()
    a, b = ADAPTER.parse_request(copy.deepcopy(body)), CODEX_ADAPTER.parse_request(copy.deepcopy(body))
    assert a.messages == b.messages and a.tools == b.tools
    assert CODEX_ADAPTER.build_request(b)["input"] == body["input"]


# --------------------------------------------------------------------------- cross-format (IR from others)


def claude_like_request() -> ir.Request:
    return ir.Request(
        model="claude-x",
        source=Format.CLAUDE.value,
        max_tokens=1000,
        temperature=0.7,
        stop=["END"],
        reasoning={"budget": 4096, "mode": "enabled"},
        messages=[
            ir.Message(
                "system",
                [ir.Text("You are helpful.", extras={"cache_control": {"type": "ephemeral"}})],
                extras={"_system": "blocks"},  # the body's system prompt, as the Claude parser marks it
            ),
            ir.Message(
                "user",
                [
                    ir.Text("look"),
                    ir.Image(data="iVBO", media_type="image/png"),
                    ir.File(data="JVBE", media_type="application/pdf"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("hmm", signature="claude-sig", family="claude"),
                    ir.Thinking("", signature="opaque", family="claude", redacted=True),
                    ir.Text("Calling."),
                    ir.ToolCall("toolu_1", "get", '{"a":1}'),
                    ir.ToolCall("toolu_2", "put", '{"b":2}'),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResult("toolu_1", [ir.Text("ok"), ir.Image(data="iVBO", media_type="image/png")]),
                    ir.ToolResult("toolu_2", [ir.Text("fine")], is_error=True),
                    ir.Text("continue"),
                ],
            ),
            ir.Message("system", [ir.Text("mid-conversation note")]),
        ],
        tools=[
            ir.Tool("get", "g", {"type": "object"}),
            ir.Tool("put", None, None),
            ir.Tool(
                "web_search",
                kind="builtin",
                extras={"raw": {"type": "web_search_20250305"}, "family": "claude"},
            ),
        ],
        tool_choice={"name": "get"},
        parallel_tool_calls=False,
        response_format={"type": "json_schema", "schema": {"type": "object"}, "name": "r", "strict": True},
        extras={"context_management": {"edits": []}},
    )


def test_build_from_claude_like_ir():
    out = ADAPTER.build_request(claude_like_request())
    inp = out["input"]
    assert inp[0] == {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "You are helpful."}],
    }
    assert inp[1]["content"][1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,iVBO",
        "detail": "auto",
    }
    assert inp[1]["content"][2]["file_data"] == "data:application/pdf;base64,JVBE"
    # foreign thinking dropped, text + two separate calls
    assert inp[2] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Calling.", "annotations": []}],
    }
    assert [i["call_id"] for i in inp[3:5]] == ["toolu_1", "toolu_2"]
    assert inp[5]["type"] == "function_call_output"
    assert inp[5]["output"] == [
        {"type": "input_text", "text": "ok"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"},
    ]
    assert inp[6] == {
        "type": "function_call_output",
        "call_id": "toolu_2",
        "output": "fine",
        "status": "incomplete",
    }
    assert inp[7]["role"] == "user" and inp[7]["content"][0]["text"] == "continue"
    # a Claude client's mid-conversation system text: a user reminder (CPA, codex_claude_request_test.go)
    assert inp[8]["role"] == "user"
    assert inp[8]["content"][0]["text"] == "<system-reminder>\nmid-conversation note\n</system-reminder>"
    assert out["tools"] == [
        {
            "type": "function",
            "name": "get",
            "description": "g",
            "parameters": {"type": "object"},
            "strict": False,
        },
        {
            "type": "function",
            "name": "put",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        },
        {"type": "web_search"},  # Claude's web search server tool, as CPA maps it
    ]
    assert out["tool_choice"] == {"type": "function", "name": "get"}
    assert out["parallel_tool_calls"] is False
    assert out["max_output_tokens"] == 1000 and out["temperature"] == 0.7
    assert out["reasoning"] == {"effort": "medium"}
    assert out["text"] == {
        "format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}
    }
    assert "context_management" not in out and "stop" not in out


def test_build_codex_from_claude_like_ir():
    out = CODEX_ADAPTER.build_request(claude_like_request())
    assert out["instructions"] == ""
    assert out["input"][0]["role"] == "developer"
    assert "max_output_tokens" not in out and "temperature" not in out
    assert out["parallel_tool_calls"] is False
    assert out["store"] is False and out["include"] == ["reasoning.encrypted_content"]


def test_openai_thinking_from_other_source_kept_and_namespaces_flattened():
    req = ir.Request(
        model="m",
        source=Format.OPENAI.value,
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("t", signature="enc", family="openai", summary=["s"], id="rs_1"),
                    ir.Thinking("plain", family="openai"),
                    ir.ToolCall("c1", "lookup", "{}", namespace="crm"),
                ],
            ),
            ir.Message("tool", [ir.ToolResult("c1", [ir.Text("r")])]),
        ],
        tools=[
            ir.Tool("lookup", parameters={"type": "object"}, namespace="crm"),
            ir.Tool("patch", kind="custom"),
        ],
    )
    out = ADAPTER.build_request(req)
    assert out["input"][1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "s"}],
        "encrypted_content": "enc",
    }
    assert out["input"][2]["name"] == "crm__lookup"
    assert out["tools"][0]["name"] == "crm__lookup"
    assert out["tools"][1] == {"type": "custom", "name": "patch"}


def test_custom_call_output_type_follows_the_call():
    req = ir.Request(
        model="m",
        source=Format.CLAUDE.value,
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall("c1", "patch", "*** Begin", kind="custom")]),
            ir.Message("user", [ir.ToolResult("c1", [ir.Text("done")])]),
        ],
    )
    out = ADAPTER.build_request(req)
    assert out["input"][1] == {
        "type": "custom_tool_call",
        "call_id": "c1",
        "name": "patch",
        "input": "*** Begin",
    }
    assert out["input"][2] == {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"}


def _claude_history(turns: int) -> ir.Request:
    """A Claude-sourced conversation of ``turns`` rounds: a user turn, an assistant turn
    with foreign reasoning (dropped on the way to Responses) and a call, its result."""
    messages = [ir.Message("system", [ir.Text("be brief")])]
    for i in range(turns):
        messages.append(ir.Message("user", [ir.Text(f"step {i}")]))
        messages.append(
            ir.Message(
                "assistant",
                [
                    ir.Thinking("hmm", signature="sig", family="claude"),
                    ir.ToolCall(f"call_{i}", "Bash", '{"command": "ls"}'),
                ],
            )
        )
        messages.append(ir.Message("user", [ir.ToolResult(f"call_{i}", [ir.Text("ok")], name="Bash")]))
    req = ir.Request("gpt-5", messages)
    req.source = "claude"
    return req


def test_empty_message_items_go_up_to_the_last_assistant_message():
    """A message item left with no content (an empty user turn, a turn whose only
    blocks were dropped) is dropped when an assistant turn follows it, and kept after
    the last one, as a sweep after every assistant turn left it."""
    req = _claude_history(2)
    req.messages.insert(2, ir.Message("user", []))  # early: dropped
    req.messages.insert(5, ir.Message("assistant", [ir.Thinking("only", signature="s", family="claude")]))
    req.messages.append(ir.Message("user", []))  # after the last assistant turn: kept
    body = ADAPTER.build_request(req)
    empty = [
        i for i, item in enumerate(body["input"]) if item.get("type") == "message" and item["content"] == []
    ]
    assert empty == [len(body["input"]) - 1]
    kinds = [item["type"] for item in body["input"]]
    assert kinds.count("function_call") == 2 and kinds.count("function_call_output") == 2
    assert "reasoning" not in kinds  # Claude's reasoning is never handed to another family


def test_a_long_history_costs_in_proportion_to_its_length():
    """The items are built in one pass: four times the turns, about four times the calls
    (a sweep over the whole history after every assistant turn made it sixteen)."""

    def calls(turns: int) -> int:
        req = _claude_history(turns)
        return calls_made(lambda: ADAPTER.build_request(req))

    small, large = calls(50), calls(200)
    assert 3.5 < large / small < 4.5
