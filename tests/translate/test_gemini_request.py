from __future__ import annotations

import copy
import pathlib

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.formats.gemini import SKIP_SIGNATURE
from cliproxy.translate import ir
from cliproxy.translate.gemini import ADAPTER
from cliproxy.translate.gemini.names import NameMap, sanitize

DATA = pathlib.Path(__file__).parent / "data" / "gemini"
GOLDENS = ["gemini_cli_tool_turn.json", "opencode_google_tool_turn.json"]


def load(name: str) -> dict:
    return orjson.loads((DATA / name).read_bytes())


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_round_trip_exact(name):
    body = load(name)
    original = copy.deepcopy(body)
    out = ADAPTER.build_request(ADAPTER.parse_request(body))
    assert out == original
    assert body == original  # parse does not mutate the client's body


def test_gemini_cli_golden_ir():
    req = ADAPTER.parse_request(load("gemini_cli_tool_turn.json"))
    assert req.source == "gemini"
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "user"]
    call = req.messages[2].content[0]
    assert isinstance(call, ir.ToolCall)
    assert call.id == "run_shell_command_1795291925307_0"
    assert call.signature == "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ=="
    assert call.family == "gemini"
    assert orjson.loads(call.arguments) == {"command": "echo FAKE_TOOL_OK", "description": "Print a marker"}
    result = req.messages[3].content[0]
    assert isinstance(result, ir.ToolResult)
    assert result.call_id == call.id
    assert orjson.loads(result.content[0].text)["output"].startswith("<untrusted_context>")
    assert req.reasoning == {"include_thoughts": True, "budget": 8192}
    assert (req.temperature, req.top_p, req.top_k) == (1, 0.95, 64)
    assert [t.name for t in req.tools] == ["update_topic", "list_directory", "run_shell_command"]
    assert req.tools[0].parameters["required"] == ["strategic_intent"]


def test_opencode_golden_ir_synthesizes_ids_and_pairs_by_name():
    req = ADAPTER.parse_request(load("opencode_google_tool_turn.json"))
    thinking, call = req.messages[2].content
    assert isinstance(thinking, ir.Thinking) and thinking.family == "gemini"
    assert thinking.text == "**Considering** the request." and thinking.signature is None
    assert call.id == "bash-0"
    result = req.messages[3].content[0]
    assert result.call_id == "bash-0" and result.name == "bash"
    assert req.tool_choice == "auto"
    assert req.max_tokens == 32000


def test_snake_case_is_read_and_written_camel():
    body = {
        "system_instruction": {"parts": [{"text": "sys"}]},
        "contents": [
            {"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AAAA"}}]},
            {
                "role": "model",
                "parts": [{"function_call": {"name": "f", "args": {"a": 1}}, "thought_signature": "sig"}],
            },
            {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"result": "ok"}}}]},
        ],
        "generation_config": {"max_output_tokens": 10, "thinking_config": {"thinking_level": "LOW"}},
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}},
        "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object"}}]}],
        "safety_settings": [],
    }
    req = ADAPTER.parse_request(body)
    assert isinstance(req.messages[1].content[0], ir.Image)
    assert req.messages[2].content[0].signature == "sig"
    assert req.tool_choice == {"name": "f"}
    assert req.reasoning == {"effort": "low"}
    out = ADAPTER.build_request(req)
    assert out == {
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "contents": [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}],
            },
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "ok"}}}]},
        ],
        "generationConfig": {"maxOutputTokens": 10, "thinkingConfig": {"thinkingLevel": "LOW"}},
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}],
        "safetySettings": [],
    }


def test_parts_of_every_kind_round_trip():
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "look"},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/doc.pdf"}},
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                    {
                        "fileData": {"mimeType": "image/jpeg", "fileUri": "https://x/y.jpg"},
                        "videoMetadata": {"fps": 1},
                    },
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "hmm", "thought": True, "thoughtSignature": "t1"},
                    {"text": "answer", "thoughtSignature": "t2"},
                    {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                    {"functionCall": {"name": "a", "args": {}}},
                    {"functionCall": {"name": "a", "args": {"x": [1, {"y": None}]}}},
                    {"functionCall": {"name": "b"}},
                ],
            },
            {
                "role": "function",
                "parts": [
                    {"functionResponse": {"name": "a", "response": {"error": "boom"}}},
                    {"functionResponse": {"name": "a", "response": {"result": {"nested": True}}}},
                    {"functionResponse": {"name": "b", "response": {"result": "{not json"}}},
                ],
            },
            {"parts": [{"text": "no role"}]},
        ],
        "tools": [
            {"googleSearch": {}},
            {
                "codeExecution": {},
                "functionDeclarations": [
                    {
                        "name": "a",
                        "description": "A",
                        "parameters": {"type": "OBJECT"},
                        "response": {"type": "STRING"},
                    },
                    {"name": "b"},
                ],
            },
        ],
        "cachedContent": "cachedContents/abc",
        "labels": {"team": "x"},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT"},
            "stopSequences": ["END"],
            "candidateCount": 2,
            "seed": 7,
            "presencePenalty": 0.5,
            "frequencyPenalty": -0.5,
            "responseModalities": ["TEXT"],
        },
    }
    req = ADAPTER.parse_request(copy.deepcopy(body))
    user, model, fn, _last = req.messages[1:] if req.messages[0].role == "system" else req.messages
    assert isinstance(user.content[1], ir.File) and user.content[1].url == "gs://b/doc.pdf"
    assert isinstance(user.content[3], ir.Image)
    assert isinstance(model.content[0], ir.Thinking) and model.content[0].signature == "t1"
    assert isinstance(model.content[1], ir.Text) and model.content[1].extras == {"thoughtSignature": "t2"}
    assert isinstance(model.content[2], ir.ServerTool) and model.content[2].family == "gemini"
    ids = [b.id for b in model.content if isinstance(b, ir.ToolCall)]
    assert ids == ["a-0", "a-1", "b-2"]
    results = fn.content
    assert [r.call_id for r in results] == ["a-0", "a-1", "b-2"]
    assert results[0].is_error and results[0].content[0].text == "boom"
    # other formats read JSON Schema; a Gemini upstream gets the schema back as sent
    assert req.response_format == {"type": "json_schema", "schema": {"type": "object"}}
    assert req.stop == ["END"] and req.n == 2 and req.seed == 7
    builtins = [t for t in req.tools if t.kind == "builtin"]
    assert [t.name for t in builtins] == ["googleSearch", "codeExecution"]
    assert ADAPTER.build_request(req) == body


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([], "body"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "robot", "parts": []}]}, "contents[0].role"),
        ({"contents": [{"role": "user", "parts": [{"text": 5}]}]}, "contents[0].parts[0].text"),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}]},
            "functionCall.args",
        ),
        ({"contents": [], "generationConfig": {"temperature": "hot"}}, "generationConfig.temperature"),
        (
            {"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]},
            "functionDeclarations[0].name",
        ),
        ({"contents": [{"role": "user", "parts": ["text"]}]}, "contents[0].parts[0]"),
    ],
)
def test_malformed_requests_raise_request_error(body, where):
    with pytest.raises(RequestError) as exc:
        ADAPTER.parse_request(body)
    assert where in exc.value.message


def test_orphan_responses_get_fallback_ids():
    """A functionResponse with no call before it (a second answer to one call, or an id
    no call has) is forwarded as CPA forwards it: a position-made id, or its own id."""
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "response": {}}},
                    {"functionResponse": {"name": "f", "response": {}}},
                    {"functionResponse": {"id": "zzz", "name": "f", "response": {}}},
                ],
            },
        ]
    }
    req = ADAPTER.parse_request(body)
    call = req.messages[0].content[0]
    ids = [b.call_id for b in req.messages[1].content]
    assert ids[0] == call.id and ids[1] not in (call.id, "") and ids[2] == "zzz"
    assert ADAPTER.parse_request(body).messages[1].content[1].call_id == ids[1]


# ---------------------------------------------------------------- building from other formats


def foreign_request() -> ir.Request:
    return ir.Request(
        model="gpt-x",
        source="openai",
        messages=[
            ir.Message("system", [ir.Text("be brief")]),
            ir.Message("developer", [ir.Text("and kind")]),
            ir.Message(
                "user",
                [
                    ir.Text("hi"),
                    ir.Image(url="data:image/png;base64,QUJD"),
                    ir.Image(url="https://example.com/cat.jpg"),
                    ir.File(data="JVBERi0=", media_type="application/pdf", filename="a.pdf"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("claude thoughts", signature="claude-sig", family="claude"),
                    ir.Thinking("gemini thoughts", signature="g-sig", family="gemini"),
                    ir.Text("calling"),
                    ir.ToolCall("call_1", "mcp server/read file", '{"path": "/a"}'),
                    ir.ToolCall("call_2", "shell", '{"cmd": "ls"}', signature="g2", family="gemini"),
                    ir.ToolCall("call_3", "x" * 80, "not json"),
                ],
            ),
            ir.Message("tool", [ir.ToolResult("call_1", [ir.Text('{"lines": 3}')])]),
            ir.Message("tool", [ir.ToolResult("call_2", [ir.Text("boom")], is_error=True)]),
            ir.Message(
                "tool",
                [ir.ToolResult("call_3", [ir.Text("ok"), ir.Image(data="SU1H", media_type="image/jpeg")])],
            ),
            ir.Message("system", [ir.Text("mid system")]),
            ir.Message("user", [ir.Text("next")]),
            ir.Message("assistant", [ir.ToolCall("call_4", "shell", "{}")]),
            ir.Message("user", [ir.ToolResult("call_4", [ir.Text("done")])]),
        ],
        tools=[
            ir.Tool(
                "mcp server/read file",
                "reads",
                {"type": "object", "properties": {"path": {"type": "string"}}, "additionalProperties": False},
            ),
            ir.Tool(
                "shell", None, {"type": "object", "properties": {"cmd": {"type": "string", "const": "ls"}}}
            ),
            ir.Tool("x" * 80, "long", None),
            ir.Tool("web_search", kind="builtin", extras={"raw": {"type": "web_search"}, "family": "openai"}),
            ir.Tool("googleSearch", kind="builtin", extras={"raw": {"googleSearch": {}}, "family": "gemini"}),
        ],
        tool_choice={"name": "shell"},
        max_tokens=100,
        temperature=0.2,
        top_p=0.9,
        stop=["X"],
        n=1,
        reasoning={"effort": "high"},
        response_format={"type": "json_schema", "schema": {"type": "object"}, "name": "r"},
        extras={"some_openai_key": 1},
    )


def test_build_from_foreign_ir():
    pytest.importorskip("cliproxy.translate.schema")
    out = ADAPTER.build_request(foreign_request())
    assert out["systemInstruction"] == {"parts": [{"text": "be brief"}, {"text": "and kind"}]}
    roles = [c["role"] for c in out["contents"]]
    assert roles == ["user", "model", "user", "model", "user"]  # merged, alternating
    user = out["contents"][0]["parts"]
    assert user[1] == {"inlineData": {"data": "QUJD", "mimeType": "image/png"}}
    assert user[2] == {"fileData": {"fileUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}}
    assert user[3] == {"inlineData": {"data": "JVBERi0=", "mimeType": "application/pdf"}}
    model = out["contents"][1]["parts"]
    assert model[0] == {"text": "gemini thoughts", "thought": True, "thoughtSignature": "g-sig"}
    assert model[1] == {"text": "calling"}
    long_name = sanitize("x" * 80)
    assert len(long_name) == 64
    assert model[2] == {
        "functionCall": {"name": "mcp_server_read_file", "args": {"path": "/a"}},
        "thoughtSignature": SKIP_SIGNATURE,
    }
    assert model[3] == {"functionCall": {"name": "shell", "args": {"cmd": "ls"}}, "thoughtSignature": "g2"}
    assert model[4] == {"functionCall": {"name": long_name, "args": {}}}
    results = out["contents"][2]["parts"]
    assert results[0] == {"functionResponse": {"name": "mcp_server_read_file", "response": {"lines": 3}}}
    assert results[1] == {"functionResponse": {"name": "shell", "response": {"error": "boom"}}}
    assert results[2] == {"functionResponse": {"name": long_name, "response": {"result": "ok"}}}
    assert results[3] == {"inlineData": {"data": "SU1H", "mimeType": "image/jpeg"}}
    assert results[4] == {"text": "<system-reminder>\nmid system\n</system-reminder>"}  # as CPA wraps it
    assert results[5] == {"text": "next"}
    assert out["contents"][3]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    decls = out["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in decls] == ["mcp_server_read_file", "shell", long_name]
    assert "additionalProperties" not in decls[0]["parameters"]
    assert "const" not in str(decls[1]["parameters"])
    assert "parameters" not in decls[2]
    assert out["tools"][1:] == [{"googleSearch": {}}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["shell"]}}
    gen = out["generationConfig"]
    assert gen == {
        "maxOutputTokens": 100,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["X"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"thinkingLevel": "HIGH", "includeThoughts": True},
    }
    assert len(out["safetySettings"]) >= 4
    assert all(s["category"].startswith("HARM_CATEGORY_") for s in out["safetySettings"])
    assert "some_openai_key" not in out
    for c in out["contents"]:
        for p in c["parts"]:
            assert "id" not in p.get("functionCall", {}) and "id" not in p.get("functionResponse", {})


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        ({"mode": "enabled", "budget": 1024}, {"thinkingBudget": 1024}),
        ({"mode": "enabled", "budget": 0}, {"thinkingBudget": 0}),
        ({"mode": "adaptive"}, {"thinkingLevel": "high"}),
        ({"mode": "auto"}, {"thinkingLevel": "high"}),
        ({"mode": "adaptive", "effort": " LOW"}, {"thinkingLevel": "low"}),
        ({"mode": "enabled"}, None),
        ({"mode": "enabled", "budget": -1}, {"thinkingBudget": -1}),
        (
            {"mode": "enabled", "budget": 1024, "display": "summarized"},
            {"thinkingBudget": 1024, "includeThoughts": True},
        ),
        ({"mode": "disabled"}, None),
        ({"effort": "low"}, None),
    ],
)
def test_foreign_reasoning(reasoning, expected):
    """A Claude client's thinking as CPA's Claude-to-Gemini translator writes it
    (gemini_claude_request.go; TestThinkingE2EMatrix_Body 24): a numeric budget as is, an
    adaptive (or ``auto``) effort lower-cased, else level high; nothing for disabled
    thinking, enabled thinking without a budget or an effort alone (the thinking step
    reads those from the client's body); ``includeThoughts`` only for a stated summary
    intent. Before, the body held budget 0 or -1, an upper-case level and a level for an
    effort alone."""
    req = ir.Request(
        model="m", source="claude", messages=[ir.Message("user", [ir.Text("x")])], reasoning=reasoning
    )
    assert (ADAPTER.build_request(req).get("generationConfig") or {}).get("thinkingConfig") == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
    ],
)
def test_foreign_tool_choice(choice, expected):
    req = ir.Request(model="m", source="openai", tool_choice=choice)
    assert ADAPTER.build_request(req)["toolConfig"] == {"functionCallingConfig": expected}


def test_json_object_format_and_no_extras_leak():
    req = ir.Request(
        model="m",
        source="claude",
        response_format={"type": "json_object"},
        messages=[ir.Message("user", [ir.Text("x", extras={"cache_control": {"type": "ephemeral"}})])],
    )
    out = ADAPTER.build_request(req)
    assert out["generationConfig"] == {"responseMimeType": "application/json"}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "x"}]}]


def test_gemini_ids_are_not_sent_for_synthesized_calls():
    req = ADAPTER.parse_request(load("opencode_google_tool_turn.json"))
    out = ADAPTER.build_request(req)
    assert "id" not in out["contents"][1]["parts"][1]["functionCall"]


def test_sanitize_rule():
    import re

    rule = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
    for name in ["ok_name", "9lives", "a b/c", "-dash", "é", "", "x" * 200, "ns.tool:1"]:
        s = sanitize(name)
        assert rule.match(s), (name, s)
    assert sanitize("ok_name") == "ok_name"
    assert sanitize("9lives") == "_9lives"
    assert sanitize("x" * 200) == sanitize("x" * 199) == "x" * 64  # cut, as CPA
    long = NameMap([ir.Tool("x" * 200), ir.Tool("x" * 199)])  # declared: told apart
    assert long.to_gemini("x" * 200) != long.to_gemini("x" * 199)


def test_name_map_restores_and_disambiguates():
    tools = [ir.Tool("a b"), ir.Tool("a_b"), ir.Tool("read", namespace="mcp"), ir.Tool("free", kind="custom")]
    names = NameMap(tools)
    ga, gb = names.to_gemini("a b"), names.to_gemini("a_b")
    # both sanitize to a_b: both get a hash (CPA), whatever their order
    assert ga != gb and ga.startswith("a_b_") and gb.startswith("a_b_")
    assert names.from_gemini(ga) == ("a b", None)
    assert names.from_gemini(gb) == ("a_b", None)
    assert names.from_gemini(names.to_gemini("read", "mcp")) == ("read", "mcp")
    assert names.is_custom("free")
    assert names.from_gemini("unknown") == ("unknown", None)


def test_custom_tools_become_one_string_functions():
    pytest.importorskip("cliproxy.translate.schema")
    req = ir.Request(
        model="m",
        source="openai-response",
        tools=[ir.Tool("apply_patch", "patch", kind="custom")],
        messages=[
            ir.Message("user", [ir.Text("go")]),
            ir.Message("assistant", [ir.ToolCall("c1", "apply_patch", "*** Begin", kind="custom")]),
            ir.Message("tool", [ir.ToolResult("c1", [ir.Text("done")])]),
        ],
    )
    out = ADAPTER.build_request(req)
    decl = out["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "apply_patch" and "input" in str(decl["parameters"])
    assert out["contents"][1]["parts"][0]["functionCall"]["args"] == {"input": "*** Begin"}
    resp = ADAPTER.parse_response(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"functionCall": {"name": "apply_patch", "args": {"input": "*** End"}}}]
                    }
                }
            ]
        },
        req,
    )
    call = resp.content[0]
    assert (call.kind, call.name, call.arguments) == ("custom", "apply_patch", "*** End")
    events = ADAPTER.stream_decoder(req).decode(
        b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"apply_patch","args":{"input":"x"}}}]}}]}\n\n'
    )
    start = next(e for e in events if isinstance(e, ir.BlockStart))
    assert start.tool_kind == "custom"
    assert [e.delta for e in events if isinstance(e, ir.ToolArgsDelta)] == ["x"]
