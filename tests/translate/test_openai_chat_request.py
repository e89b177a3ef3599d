"""Chat Completions requests: parse, build, round trip, cross-format."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.openai_chat import ADAPTER
from cliproxy.translate.openai_chat.build import claude_effort, effort_for

PNG = "iVBORw0KGgo="


def roundtrip(body: dict) -> dict:
    return ADAPTER.build_request(ADAPTER.parse_request(copy.deepcopy(body)))


# --------------------------------------------------------------------------- parse


def test_parse_real_opencode_tool_turn():
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 32000,
        "tool_choice": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "run it"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": '{"command":"ls"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "OK\n"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "bash",
                    "description": "d",
                    "parameters": {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "type": "object",
                    },
                },
            }
        ],
    }
    req = ADAPTER.parse_request(body)
    assert req.source == "openai" and req.stream and req.max_tokens == 32000 and req.tool_choice == "auto"
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "tool"]
    call = req.messages[2].content[0]
    assert isinstance(call, ir.ToolCall) and call.name == "bash" and call.arguments == '{"command":"ls"}'
    result = req.messages[3].content[0]
    assert isinstance(result, ir.ToolResult) and result.call_id == "call_1" and result.name == "bash"
    assert result.content[0].text == "OK\n"
    assert req.extras["stream_options"] == {"include_usage": True}
    assert req.tools[0].parameters["type"] == "object"
    assert roundtrip(body) == body


def test_parse_parts_images_files_audio():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"},
                    },
                    {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}},
                    {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                    },
                    {"type": "file", "file": {"file_data": "JVBE", "filename": "b.pdf"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            }
        ],
    }
    req = ADAPTER.parse_request(body)
    blocks = req.messages[0].content
    assert isinstance(blocks[1], ir.Image) and blocks[1].data == PNG and blocks[1].media_type == "image/png"
    assert blocks[1].detail == "high"
    assert blocks[2].url == "https://x/y.jpg" and blocks[2].data is None
    # input_audio is an audio file block (CPA maps it to Gemini inlineData / Codex input_audio)
    assert isinstance(blocks[3], ir.File) and blocks[3].media_type == "audio/wav" and blocks[3].data == "AAA"
    assert (
        isinstance(blocks[4], ir.File)
        and blocks[4].media_type == "application/pdf"
        and blocks[4].data == "JVBE"
    )
    assert (
        blocks[5].data == "JVBE" and blocks[5].media_type == "application/pdf"
    )  # bare base64, typed by name
    assert blocks[6].file_id == "file-1"
    assert roundtrip(body) == body


def test_parse_reasoning_custom_and_refusal():
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
            {"role": "user", "content": "hi", "name": "bob"},
            {"role": "assistant", "reasoning": "hmm", "content": [{"type": "refusal", "refusal": "no"}]},
            {
                "role": "assistant",
                "reasoning_content": "think",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "custom", "custom": {"name": "patch", "input": "*** Begin"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "done"}]},
        ],
    }
    req = ADAPTER.parse_request(body)
    m = req.messages
    assert m[0].role == "developer" and m[1].name == "bob"
    assert isinstance(m[2].content[0], ir.Thinking) and m[2].content[0].text == "hmm"
    assert m[2].content[0].family == "openai" and m[2].content[0].signature is None
    assert m[2].content[1].text == "no"
    assert m[3].content[1].kind == "custom" and m[3].content[1].arguments == "*** Begin"
    assert roundtrip(body) == body


def test_legacy_functions():
    body = {
        "model": "m",
        "functions": [{"name": "f", "parameters": {"type": "object"}}],
        "function_call": {"name": "f"},
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": "42"},
        ],
    }
    req = ADAPTER.parse_request(body)
    assert req.tools[0].name == "f" and req.tool_choice == {"name": "f"}
    call = req.messages[1].content[0]
    res = req.messages[2].content[0]
    assert req.messages[2].role == "tool" and res.call_id == call.id and res.name == "f"
    assert roundtrip(body) == body
    req.source = "claude"  # another format's builder view: modern tools
    out = ADAPTER.build_request(req)
    assert out["tools"][0]["function"]["name"] == "f"
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert out["messages"][1]["tool_calls"][0]["id"] == out["messages"][2]["tool_call_id"]


def test_params_into_ir():
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "max_completion_tokens": 5,
        "temperature": 0.5,
        "top_p": 1,
        "stop": "END",
        "seed": 3,
        "n": 2,
        "presence_penalty": 0.1,
        "frequency_penalty": -0.2,
        "reasoning_effort": "high",
        "user": "u",
        "metadata": {"a": "b"},
        "parallel_tool_calls": False,
        "stream": False,
        "logprobs": True,
        "logit_bias": {"1": 2},
        "service_tier": "flex",
        "prompt_cache_key": "k",
        "store": False,
        "modalities": ["text"],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
        },
        "temperature_extra": None,
    }
    req = ADAPTER.parse_request(body)
    assert req.max_tokens == 5 and req.stop == ["END"] and req.reasoning == {"effort": "high"}
    assert req.response_format == {
        "type": "json_schema",
        "name": "x",
        "schema": {"type": "object"},
        "strict": True,
    }
    assert req.n == 2 and req.seed == 3 and req.user == "u" and req.parallel_tool_calls is False
    assert req.extras["service_tier"] == "flex" and req.extras["logit_bias"] == {"1": 2}
    assert roundtrip(body) == body


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "x"}]},
            "messages[1].role: unknown role 'robot'",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 3}]}],
            },
            "messages[0].content[0].image_url",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": 5, "content": "x"}]},
            "messages[0].tool_call_id: expected a string",
        ),
        ({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].name"),
        (
            {
                "model": "m",
                "messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function"}]}],
            },
            "messages[0].tool_calls[0].function",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "a", "type": "function", "function": {"name": "f", "arguments": {}}}
                        ],
                    }
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
            "tools[0].function",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}],
            },
            "tools[0].function.parameters",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "maybe"},
            "tool_choice",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
def test_bad_input_raises_request_error(body, where):
    with pytest.raises(RequestError) as e:
        ADAPTER.parse_request(body)
    assert where in e.value.message


# --------------------------------------------------------------------------- build from other sources


def claude_like_request() -> ir.Request:
    return ir.Request(
        model="claude-x",
        source="claude",
        stream=True,
        max_tokens=1000,
        reasoning={"budget": 2048, "mode": "enabled"},
        tools=[
            ir.Tool("read", "reads", {"type": "object"}),
            ir.Tool("search", "ns tool", None, namespace="mcp"),
            ir.Tool(
                "web_search",
                kind="builtin",
                extras={"raw": {"type": "web_search_20250305"}, "family": "claude"},
            ),
        ],
        tool_choice={"name": "search", "namespace": "mcp"},
        parallel_tool_calls=True,
        response_format={"type": "json_schema", "schema": {"type": "object"}, "name": "out"},
        messages=[
            ir.Message(
                "system",
                [ir.Text("sys1"), ir.Text("sys2", extras={"cache_control": {"type": "ephemeral"}})],
                extras={"_system": "blocks"},  # the body's system prompt, as the Claude parser marks it
            ),
            ir.Message("user", [ir.Text("hello"), ir.Image(data=PNG, media_type="image/png")]),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("secret", signature="sig", family="claude"),
                    ir.Thinking("plain"),
                    ir.Text("calling"),
                    ir.ToolCall("toolu_1", "read", '{"p":1}'),
                    ir.ToolCall("toolu_2", "search", "{}", namespace="mcp"),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResult("toolu_1", [ir.Text("file"), ir.Image(url="https://i/x.png")]),
                    ir.ToolResult("toolu_2", [ir.Text("a"), ir.Text("b")], is_error=True),
                    ir.Text("continue"),
                ],
            ),
            ir.Message("developer", [ir.Text("mid rule")]),
        ],
        extras={"context_management": {"x": 1}},
    )


def test_build_from_claude_ir():
    out = ADAPTER.build_request(claude_like_request())
    assert out["stream_options"] == {"include_usage": True} and out["stream"] is True
    assert out["max_tokens"] == 1000 and out["reasoning_effort"] == "medium"
    assert "context_management" not in out
    assert [t["function"]["name"] for t in out["tools"]] == ["read", "mcp__search"]
    assert out["tools"][1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert out["tool_choice"] == {"type": "function", "function": {"name": "mcp__search"}}
    assert out["parallel_tool_calls"] is True
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"schema": {"type": "object"}, "name": "out"},
    }
    msgs = out["messages"]
    # several system blocks stay apart (CPA); a mid-conversation Claude system turn is a reminder
    assert msgs[0] == {"role": "system", "content": [{"type": "text", "text": t} for t in ("sys1", "sys2")]}
    assert msgs[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}"},
    }
    asst = msgs[2]
    assert asst["reasoning_content"] == "plain" and asst["content"] == "calling"
    assert [c["function"]["name"] for c in asst["tool_calls"]] == ["read", "mcp__search"]
    assert msgs[3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "file"}
    assert msgs[4] == {
        "role": "tool",
        "tool_call_id": "toolu_2",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }
    assert msgs[5] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "https://i/x.png"}}],
    }
    assert msgs[6] == {"role": "user", "content": "continue"}
    assert msgs[7] == {
        "role": "user",
        "content": [{"type": "text", "text": "<system-reminder>\nmid rule\n</system-reminder>"}],
    }
    assert len(msgs) == 8


def test_build_tool_role_results_and_media_after_run():
    req = ir.Request(
        model="m",
        source="openai-response",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall("a", "f"), ir.ToolCall("b", "f")]),
            ir.Message("tool", [ir.ToolResult("a", [ir.Image(data=PNG, media_type="image/png")])]),
            ir.Message("tool", [ir.ToolResult("b", [ir.Text("ok")])]),
        ],
        tools=[ir.Tool("f")],
    )
    msgs = ADAPTER.build_request(req)["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            # a call without arguments goes as "{}", valid JSON (issue 15 defect 6)
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        ],
    }
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool", "user"]
    assert msgs[2]["content"] == "" and msgs[4]["content"][0]["type"] == "image_url"


def test_build_drops_foreign_builtin_but_keeps_own_on_roundtrip():
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "web_search_preview", "search_context_size": "low"}],
    }
    assert roundtrip(body) == body
    req = ADAPTER.parse_request(body)
    req.source = "gemini"
    assert "tools" not in ADAPTER.build_request(req)


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        ({"budget": 0}, "none"),
        ({"budget": 512}, "minimal"),
        ({"budget": 513}, "low"),
        ({"budget": 1024}, "low"),
        ({"budget": 8192}, "medium"),
        ({"budget": 24576}, "high"),
        ({"budget": 24577}, "xhigh"),
        ({"budget": -1}, None),
        ({"effort": "max"}, "xhigh"),
        ({"effort": "low", "budget": 99999}, "low"),
        (None, None),
    ],
)
def test_effort_mapping(reasoning, effort):
    assert effort_for(reasoning) == effort


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        ({}, None),
        ({"effort": "low"}, None),
        ({"mode": "enabled"}, "auto"),
        ({"mode": "enabled", "effort": "low"}, "auto"),
        ({"mode": "enabled", "budget": -1}, "auto"),
        ({"mode": "enabled", "budget": -2}, None),
        ({"mode": "enabled", "budget": 0}, "none"),
        ({"mode": "enabled", "budget": 1024, "effort": "high"}, "low"),
        ({"mode": "enabled", "budget": 64000}, "xhigh"),
        ({"mode": "adaptive"}, "xhigh"),
        ({"mode": "adaptive", "effort": " LOW"}, "low"),
        ({"mode": "adaptive", "effort": "max"}, "max"),
        ({"mode": "adaptive", "effort": " "}, "xhigh"),
        ({"mode": "auto", "effort": "medium"}, "medium"),
        ({"mode": "disabled"}, "none"),
        ({"mode": "disabled", "effort": "high"}, "none"),
    ],
)
def test_claude_thinking_as_reasoning_effort(reasoning, effort):
    """openai_claude_request.go (Claude -> Chat Completions): only the thinking type writes
    reasoning_effort: enabled is ConvertBudgetToLevel(budget_tokens, or -1 without one),
    nothing below -1; adaptive or auto is output_config.effort lower-cased and trimmed (none:
    xhigh); disabled is none. An effort with no thinking, or beside enabled or disabled
    thinking, is not read (before, it was sent as reasoning_effort)."""
    assert claude_effort(reasoning, "auto") == effort


def test_build_file_variants_cross_format():
    req = ir.Request(
        model="m",
        source="claude",
        messages=[
            ir.Message(
                "user",
                [
                    ir.File(data="JVBE", media_type="application/pdf", filename="a.pdf"),
                    ir.File(url="https://x/doc.pdf"),
                    ir.Image(file_id="file-9"),
                ],
            )
        ],
    )
    parts = ADAPTER.build_request(req)["messages"][0]["content"]
    assert parts[0] == {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
    }
    assert parts[1] == {"type": "text", "text": "https://x/doc.pdf"}
    assert parts[2] == {"type": "file", "file": {"file_id": "file-9"}}


# --------------------------------------------------------------------------- property: round trip

_text = st.text(max_size=12)
_name = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
_text_part = st.builds(lambda t: {"type": "text", "text": t}, _text)
_image_part = st.one_of(
    st.builds(
        lambda u, d: {"type": "image_url", "image_url": {"url": u, **({"detail": d} if d else {})}},
        st.sampled_from([f"data:image/png;base64,{PNG}", "https://e.com/a.png"]),
        st.sampled_from([None, "low", "high", "auto"]),
    ),
)
_file_part = st.builds(
    lambda d: {"type": "file", "file": d},
    st.sampled_from(
        [
            {"file_data": "data:application/pdf;base64,JVBE", "filename": "x.pdf"},
            {"file_id": "file-1"},
            {"file_data": "JVBE"},
        ]
    ),
)
_audio_part = st.just({"type": "input_audio", "input_audio": {"data": "AAA", "format": "mp3"}})
_user_content = st.one_of(
    _text, st.none(), st.lists(st.one_of(_text_part, _image_part, _file_part, _audio_part), max_size=4)
)
_sys_content = st.one_of(_text, st.lists(_text_part, min_size=1, max_size=3))
_args = st.dictionaries(_name, st.integers(-1000, 1000), max_size=2).map(lambda d: orjson.dumps(d).decode())


@st.composite
def chat_requests(draw):
    messages = [
        draw(
            st.builds(
                lambda r, c: {"role": r, "content": c}, st.sampled_from(["system", "developer"]), _sys_content
            )
        )
    ]
    n = 0
    for _ in range(draw(st.integers(1, 3))):
        user = {"role": "user", "content": draw(_user_content)}
        if draw(st.booleans()):
            user["name"] = draw(_name)
        messages.append(user)
        asst: dict = {"role": "assistant", "content": draw(st.one_of(st.none(), _text))}
        if draw(st.booleans()):
            asst["reasoning_content"] = draw(_text)
        calls = []
        for _ in range(draw(st.integers(0, 2))):
            n += 1
            calls.append(
                {
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": draw(_name), "arguments": draw(_args)},
                }
            )
        if calls:
            asst["tool_calls"] = calls
        messages.append(asst)
        for c in calls:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": c["id"],
                    "content": draw(st.one_of(_text, st.lists(_text_part, min_size=1, max_size=2))),
                }
            )
    body = {"model": draw(_name), "messages": messages}
    optional = {
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "seed": st.integers(0, 99),
        "n": st.integers(1, 3),
        "max_tokens": st.integers(1, 9999),
        "max_completion_tokens": st.integers(1, 9999),
        "stop": st.one_of(_text, st.lists(_text, max_size=3)),
        "stream": st.booleans(),
        "reasoning_effort": st.sampled_from(["minimal", "low", "medium", "high"]),
        "parallel_tool_calls": st.booleans(),
        "user": _text,
        "metadata": st.dictionaries(_name, _text, max_size=2),
        "tool_choice": st.one_of(
            st.sampled_from(["auto", "none", "required"]),
            _name.map(lambda x: {"type": "function", "function": {"name": x}}),
        ),
        "stream_options": st.just({"include_usage": True}),
        "logprobs": st.booleans(),
        "store": st.booleans(),
        "service_tier": st.sampled_from(["auto", "flex"]),
        "presence_penalty": st.floats(-2, 2),
        "response_format": st.sampled_from(
            [
                {"type": "json_object"},
                {"type": "text"},
                {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
                },
            ]
        ),
        "tools": st.lists(
            st.builds(
                lambda nm, d, s: {
                    "type": "function",
                    "function": {
                        "name": nm,
                        **({"description": d} if d else {}),
                        "parameters": {"type": "object"},
                        **({"strict": s} if s is not None else {}),
                    },
                },
                _name,
                _text,
                st.one_of(st.none(), st.booleans()),
            ),
            min_size=1,
            max_size=3,
        ),
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        body[key] = draw(optional[key])
    return body


@settings(max_examples=150, deadline=None)
@given(chat_requests())
def test_roundtrip_property(body):
    assert roundtrip(body) == body


def test_thinking_families_from_other_sources():
    req = ir.Request(
        model="m",
        source="openai-response",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("resp summary", signature="enc", family="openai"),
                    ir.Thinking("gem", signature="ts", family="gemini"),
                    ir.Thinking("", redacted=True, signature="x", family="claude"),
                    ir.Text("answer"),
                ],
            ),
        ],
    )
    asst = ADAPTER.build_request(req)["messages"][1]
    assert asst == {"role": "assistant", "reasoning_content": "resp summary", "content": "answer"}
    req.source = "gemini"
    req.messages[1].content = [ir.Thinking("gem", signature="ts", family="gemini"), ir.Text("answer")]
    assert "reasoning_content" not in ADAPTER.build_request(req)["messages"][1]


def test_other_api_spellings_are_blocks_and_come_back_as_sent():
    """``input_text`` / ``input_image`` / ``audio`` / ``input_file`` / ``document`` parts
    (the spellings CPA's Chat to Interactions reader takes) are IR blocks, so every
    format gets them; a Chat upstream gets each part back exactly as sent, next to a part
    of a type nobody knows, and one of those spellings that holds nothing to send."""
    parts = [
        {"type": "input_text", "text": "hi"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
        {"type": "image", "data": PNG, "mime_type": "image/png"},
        {"type": "audio", "data": "AAA", "format": "mp3"},
        {"type": "input_file", "file_url": "https://x/a.pdf"},
        {"type": "document", "mime_type": "application/pdf", "data": "JVBE", "filename": "a.pdf"},
        {"type": "mystery", "x": 1},
        {"type": "document", "note": "no data"},
    ]
    body = {"model": "m", "messages": [{"role": "user", "content": parts}]}
    req = ADAPTER.parse_request(copy.deepcopy(body))
    blocks = req.messages[0].content
    assert [type(b).__name__ for b in blocks] == ["Text", "Image", "Image", "File", "File", "File"]
    assert (blocks[2].data, blocks[3].media_type, blocks[4].url) == (PNG, "audio/mpeg", "https://x/a.pdf")
    assert (blocks[5].media_type, blocks[5].data, blocks[5].filename) == ("application/pdf", "JVBE", "a.pdf")
    # a part of another API's spelling that holds nothing to send is an unknown part too
    assert req.extras["_source_only"] == [
        ("messages[0].content[6]", "mystery"),
        ("messages[0].content[7]", "document"),
    ]
    assert roundtrip(body) == body
