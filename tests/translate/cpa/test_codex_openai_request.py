"""Ported from CPA internal/translator/codex/openai/chat-completions/codex_openai_request_test.go:
a Chat Completions client's body for the Codex (Responses) upstream."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError

from ._run import CODEX, OPENAI, get, req

CPA = "codex_openai_request_test.go"


def _codex(body: dict[str, Any], model: str = "gpt-5") -> dict[str, Any]:
    body = {"model": model, **body}
    return req(OPENAI, CODEX, body, model)


def _fn(name: str, desc: str = "d", params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": params or {"type": "object", "properties": {}},
        },
    }


def _call(cid: str, name: str, args: str = "{}") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def _turn(calls: list[dict[str, Any]], content: Any = None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": calls}


def _tool(cid: str, content: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": cid, "content": content}


def _types(out: dict[str, Any]) -> list[str]:
    return [i.get("type", "message") for i in out["input"]]


def test_tool_call_simple() -> None:
    """codex_openai_request_test.go TestToolCallSimple."""
    out = _codex(
        {
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the weather in Paris?"},
                _turn([_call("call_1", "get_weather", '{"city":"Paris"}')]),
                _tool("call_1", "sunny, 22C"),
            ],
            "tools": [
                _fn(
                    "get_weather",
                    "Get weather for a city",
                    {"type": "object", "properties": {"city": {"type": "string"}}},
                )
            ],
        }
    )
    items = out["input"]
    assert len(items) == 4
    assert (items[0]["type"], items[0]["role"]) == ("message", "developer")
    assert (items[1]["type"], items[1]["role"]) == ("message", "user")
    assert items[2]["type"] == "function_call" and items[2]["call_id"] == "call_1"
    assert items[2]["name"] == "get_weather" and items[2]["arguments"] == '{"city":"Paris"}'
    assert items[3] == {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 22C"}


def test_tool_call_with_content() -> None:
    """codex_openai_request_test.go TestToolCallWithContent."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "What is the weather?"},
                _turn([_call("call_abc", "get_weather")], "Let me check the weather for you."),
                _tool("call_abc", "rainy, 15C"),
            ],
            "tools": [_fn("get_weather")],
        }
    )
    items = out["input"]
    assert len(items) == 4
    assert items[0]["role"] == "user"
    assert items[1]["type"] == "message" and items[1]["role"] == "assistant" and items[1]["content"]
    assert items[2]["type"] == "function_call" and items[2]["call_id"] == "call_abc"
    assert items[3]["type"] == "function_call_output" and items[3]["call_id"] == "call_abc"


def test_tool_call_output_with_multimodal_content() -> None:
    """codex_openai_request_test.go TestToolCallOutputWithMultimodalContent (the parts our Chat
    parser accepts: an ``image_url`` needs a ``url`` and a file a ``file_data`` or ``file_id``)."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Show me the generated result."},
                _turn([_call("call_output_1", "render_output")]),
                _tool(
                    "call_output_1",
                    [
                        {"type": "text", "text": "Rendered result attached."},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/generated.png", "detail": "high"},
                        },
                        {"type": "file", "file": {"file_id": "file-doc-123", "filename": "doc.pdf"}},
                        {"type": "file", "file": {"file_data": "SGVsbG8=", "filename": "inline.txt"}},
                    ],
                ),
            ],
            "tools": [_fn("render_output", "Render output")],
        }
    )
    parts = get(out, "input.2.output")
    assert isinstance(parts, list) and len(parts) == 4
    assert parts[0] == {"type": "input_text", "text": "Rendered result attached."}
    assert parts[1]["type"] == "input_image" and parts[1]["image_url"] == "https://example.com/generated.png"
    assert parts[1]["detail"] == "high"
    assert parts[2]["type"] == "input_file" and parts[2]["file_id"] == "file-doc-123"
    assert parts[2]["filename"] == "doc.pdf"
    assert parts[3]["type"] == "input_file" and "SGVsbG8=" in parts[3]["file_data"]


@pytest.mark.parametrize(
    ("content", "index", "url", "text", "detail"),
    [
        (
            '[{"type":"input_text","text":"Captured screenshot."},{"detail":"original","image_url":"data:image/png;base64,AA==","type":"input_image"}]',
            1,
            "data:image/png;base64,AA==",
            "Captured screenshot.",
            "original",
        ),
        (
            '[{"type":"image_url","image_url":{"url":"https://example.com/generated.png","detail":"high"}}]',
            0,
            "https://example.com/generated.png",
            "",
            "high",
        ),
    ],
    ids=["Codex input image", "OpenAI image URL"],
)
def test_tool_call_output_with_stringified_image_content(
    content: str, index: int, url: str, text: str, detail: str
) -> None:
    """codex_openai_request_test.go TestToolCallOutputWithStringifiedImageContent (issue 15: JSON
    text of an image array in a tool output is sent as real image parts)."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Inspect the screenshot."},
                _turn([_call("call_screenshot", "view_image")]),
                _tool("call_screenshot", content),
            ],
            "tools": [_fn("view_image")],
        },
        "gpt-5.6-sol",
    )
    parts = get(out, "input.2.output")
    assert isinstance(parts, list) and len(parts) > index
    image = parts[index]
    assert image["type"] == "input_image" and image["image_url"] == url and image["detail"] == detail
    if text:
        assert parts[0] == {"type": "input_text", "text": text}


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ("plain output", "plain output"),
        ('{"status":"ok"}', '{"status":"ok"}'),
        ('[{"type":"input_text","text":"still text"}]', '[{"type":"input_text","text":"still text"}]'),
        ('[{"type":"input_image","detail":"low"}]', '[{"type":"input_image","detail":"low"}]'),
    ],
    ids=["plain text", "JSON object", "text-only array", "invalid image array"],
)
def test_tool_call_output_keeps_non_image_strings(content: str, want: str) -> None:
    """codex_openai_request_test.go TestToolCallOutputKeepsNonImageStrings."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Check tool output."},
                _turn([_call("call_output", "inspect")]),
                _tool("call_output", content),
            ],
            "tools": [_fn("inspect")],
        }
    )
    assert get(out, "input.2.output") == want


def test_tool_call_output_invalid_structured_parts_rejected() -> None:
    """codex_openai_request_test.go TestToolCallOutputFallsBackForInvalidStructuredParts: CPA sends
    malformed parts as their JSON text; we answer 400 naming the bad part (a client mistake
    gets a clear error, never a silently changed prompt)."""
    with pytest.raises(RequestError):
        _codex(
            {
                "messages": [
                    {"role": "user", "content": "Check tool output."},
                    _turn([_call("call_invalid_parts", "inspect")]),
                    _tool("call_invalid_parts", [{"type": "image_url", "image_url": {"detail": "low"}}]),
                ],
                "tools": [_fn("inspect")],
            }
        )


def test_preserves_input_audio() -> None:
    """codex_openai_request_test.go TestConvertOpenAIRequestToCodexPreservesInputAudio (issue 15
    defect 9: input audio was dropped)."""
    out = _codex(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe this audio verbatim."},
                        {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}},
                    ],
                }
            ]
        },
        "gpt-5.5",
    )
    parts = get(out, "input.0.content")
    assert len(parts) == 2
    assert parts[0] == {"type": "input_text", "text": "Transcribe this audio verbatim."}
    assert parts[1]["type"] == "input_audio"
    audio = parts[1].get("input_audio", parts[1])
    assert audio["data"] == "SUQzBA==" and audio["format"] == "mp3"


def test_multiple_tool_calls() -> None:
    """codex_openai_request_test.go TestMultipleToolCalls."""
    ids = ["call_paris", "call_london", "call_tokyo"]
    outs = ["sunny, 22C", "cloudy, 14C", "humid, 28C"]
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Compare weather in Paris, London and Tokyo"},
                _turn(
                    [
                        _call(i, "get_weather", orjson.dumps({"city": c}).decode())
                        for i, c in zip(ids, ["Paris", "London", "Tokyo"], strict=True)
                    ]
                ),
                *[_tool(i, o) for i, o in zip(ids, outs, strict=True)],
            ],
            "tools": [_fn("get_weather")],
        }
    )
    items = out["input"]
    assert len(items) == 7 and items[0]["role"] == "user"
    assert [(i["type"], i["call_id"]) for i in items[1:4]] == [("function_call", c) for c in ids]
    assert [(i["type"], i["call_id"], i["output"]) for i in items[4:]] == [
        ("function_call_output", c, o) for c, o in zip(ids, outs, strict=True)
    ]


def test_no_spurious_empty_assistant_message() -> None:
    """codex_openai_request_test.go TestNoSpuriousEmptyAssistantMessage."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Call a tool"},
                _turn([_call("call_x", "do_thing")]),
                _tool("call_x", "done"),
            ],
            "tools": [_fn("do_thing")],
        }
    )
    assert _types(out) == ["message", "function_call", "function_call_output"]


def test_multi_turn_tool_calling() -> None:
    """codex_openai_request_test.go TestMultiTurnToolCalling."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                _turn([_call("call_r1", "get_weather", '{"city":"Paris"}')]),
                _tool("call_r1", "sunny"),
                {"role": "assistant", "content": "It is sunny in Paris."},
                {"role": "user", "content": "And London?"},
                _turn([_call("call_r2", "get_weather", '{"city":"London"}')]),
                _tool("call_r2", "rainy"),
            ],
            "tools": [_fn("get_weather")],
        }
    )
    assert _types(out) == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert [i.get("call_id") for i in out["input"] if "call_id" in i] == [
        "call_r1",
        "call_r1",
        "call_r2",
        "call_r2",
    ]


def test_tool_name_shortening() -> None:
    """codex_openai_request_test.go TestToolNameShortening (issue 15: names over 64 characters)."""
    long = "a_very_long_tool_name_that_exceeds_sixty_four_characters_limit_here_test"
    assert len(long) > 64
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Do it"},
                _turn([_call("call_long", long)]),
                _tool("call_long", "ok"),
            ],
            "tools": [_fn(long, "A tool with a very long name")],
        }
    )
    call = next(i for i in out["input"] if i.get("type") == "function_call")
    assert call["call_id"] == "call_long"
    assert call["name"] != long and len(call["name"]) <= 64
    assert out["tools"][0]["name"] == call["name"]


def test_custom_tool_name_shortening() -> None:
    """codex_openai_request_test.go TestCustomToolNameShortening."""
    long = "a_very_long_custom_tool_name_that_exceeds_sixty_four_characters_limit_test"
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Apply the patch."},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_custom_long",
                            "type": "custom",
                            "custom": {"name": long, "input": "patch"},
                        }
                    ],
                },
                _tool("call_custom_long", "patched"),
            ],
            "tools": [{"type": "custom", "custom": {"name": long, "description": "Apply a patch."}}],
            "tool_choice": {"type": "custom", "custom": {"name": long}},
        },
        "gpt-5.6-sol",
    )
    items = out["input"]
    assert len(items) == 3
    assert items[1]["type"] == "custom_tool_call"
    short = items[1]["name"]
    assert short != long and len(short) <= 64
    assert out["tools"][0]["name"] == short
    assert out["tool_choice"]["type"] == "custom" and out["tool_choice"]["name"] == short
    assert items[2]["type"] == "custom_tool_call_output"


def test_short_name_collision_keeps_names_distinct() -> None:
    """codex_openai_request_test.go TestCustomToolShortNameCollisionPreservesFunctionFamily: a long
    name whose cut equals another tool's name gets a distinct name."""
    long = "a_very_long_custom_tool_name_that_exceeds_sixty_four_characters_limit_test"
    cut = long[:64]
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "go"},
                _turn([_call("call_function", cut)]),
                _tool("call_function", "done"),
            ],
            "tools": [{"type": "custom", "custom": {"name": long, "description": "Custom tool."}}, _fn(cut)],
            "tool_choice": {"type": "function", "function": {"name": cut}},
        },
        "gpt-5.6-sol",
    )
    names = [t["name"] for t in out["tools"]]
    assert names[1] == cut and names[0] != cut and len(names[0]) <= 64
    assert get(out, "input.1.type") == "function_call" and get(out, "input.2.type") == "function_call_output"
    assert out["tool_choice"] == {"type": "function", "name": cut}


def test_empty_string_content() -> None:
    """codex_openai_request_test.go TestEmptyStringContent."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Do something"},
                _turn([_call("call_empty", "action")], ""),
                _tool("call_empty", "result"),
            ],
            "tools": [_fn("action")],
        }
    )
    assert _types(out) == ["message", "function_call", "function_call_output"]


def test_call_ids_match_between_call_and_output() -> None:
    """codex_openai_request_test.go TestCallIDsMatchBetweenCallAndOutput."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Multi-tool"},
                _turn([_call("id_a", "tool_a"), _call("id_b", "tool_b")]),
                _tool("id_a", "res_a"),
                _tool("id_b", "res_b"),
            ],
            "tools": [_fn("tool_a", "A"), _fn("tool_b", "B")],
        }
    )
    calls = {i["call_id"] for i in out["input"] if i.get("type") == "function_call"}
    outputs = {i["call_id"] for i in out["input"] if i.get("type") == "function_call_output"}
    assert calls == outputs == {"id_a", "id_b"}


def test_tools_definition_translated() -> None:
    """codex_openai_request_test.go TestToolsDefinitionTranslated."""
    params = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    out = _codex(
        {
            "messages": [{"role": "user", "content": "search"}],
            "tools": [_fn("search", "Search the web", params)],
        }
    )
    tool = out["tools"][0]
    assert tool["type"] == "function" and tool["name"] == "search"
    assert tool["description"] == "Search the web"
    assert tool["parameters"] == params


def test_custom_tool_call_history() -> None:
    """codex_openai_request_test.go TestCustomToolCallHistory."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "patch it"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_patch",
                            "type": "custom",
                            "custom": {"name": "apply_patch", "input": "*** Begin Patch"},
                        }
                    ],
                },
                _tool("call_patch", "Done"),
            ],
            "tools": [{"type": "custom", "custom": {"name": "apply_patch", "description": "Apply a patch"}}],
        }
    )
    items = out["input"]
    assert items[1] == {
        "type": "custom_tool_call",
        "call_id": "call_patch",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    assert items[2] == {"type": "custom_tool_call_output", "call_id": "call_patch", "output": "Done"}
    assert out["tools"][0]["type"] == "custom" and out["tools"][0]["name"] == "apply_patch"


# ---------------------------------------------------------------------- history repairs (CPA)

PATCH_CALL = {"type": "custom", "custom": {"name": "apply_patch", "input": "patch"}}  # no id


def test_custom_tool_call_history_synthesizes_missing_call_id() -> None:
    """TestCustomToolCallHistorySynthesizesMissingCallID: an orphan output is dropped; a call
    without an id gets one, and the id-less output after it answers it."""
    out = _codex(
        {
            "messages": [
                {"role": "tool", "content": "orphan"},
                _turn([PATCH_CALL]),
                {"role": "tool", "content": "patched"},
            ]
        },
        "gpt-5.6-sol",
    )
    items = out["input"]
    assert [i["type"] for i in items] == ["custom_tool_call", "custom_tool_call_output"]
    assert items[0]["call_id"] and items[1]["call_id"] == items[0]["call_id"]
    assert items[0]["call_id"] == "call_m1_0"  # the same id for the same place when the history comes again


def test_tool_call_output_without_id_uses_pending_call() -> None:
    """TestToolCallOutputWithoutIDUsesPendingCall: id-less outputs answer the turn's calls in order."""
    out = _codex(
        {
            "messages": [
                _turn([_call("call_explicit", "lookup"), PATCH_CALL]),
                {"role": "tool", "content": "found"},
                {"role": "tool", "content": "patched"},
            ]
        },
        "gpt-5.6-sol",
    )
    items = out["input"]
    assert [i["type"] for i in items] == [
        "function_call",
        "custom_tool_call",
        "function_call_output",
        "custom_tool_call_output",
    ]
    assert items[2]["call_id"] == "call_explicit"
    assert items[3]["call_id"] == items[1]["call_id"] != ""


def test_ambiguous_duplicate_tool_call_ids_are_dropped() -> None:
    """TestAmbiguousDuplicateToolCallIDsAreDropped: two calls under one id, and their outputs, go."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Run both tools."},
                _turn([_call("call_duplicate", "lookup"), {**PATCH_CALL, "id": "call_duplicate"}]),
                _tool("call_duplicate", "first"),
                _tool("call_duplicate", "second"),
            ]
        },
        "gpt-5.6-sol",
    )
    assert [(i.get("type", "message"), i.get("role")) for i in out["input"]] == [("message", "user")]


def test_orphan_and_duplicate_tool_call_outputs_are_dropped() -> None:
    """TestOrphanAndDuplicateToolCallOutputsAreDropped: an output no call took and a second
    output for one call go; the first output stays; the call, sent as a function for a tool
    declared custom (in the flat form), is the custom call it was."""
    out = _codex(
        {
            "messages": [
                _tool("call_orphan", "orphan"),
                _turn([_call("call_custom", "apply_patch", "patch")]),
                _tool("call_custom", "patched"),
                _tool("call_custom", "duplicate"),
            ],
            "tools": [{"type": "custom", "name": "apply_patch", "description": "Apply a patch."}],
        },
        "gpt-5.6-sol",
    )
    items = out["input"]
    assert [i["type"] for i in items] == ["custom_tool_call", "custom_tool_call_output"]
    assert items[1]["call_id"] == "call_custom" and items[1]["output"] == "patched"
    assert out["tools"][0]["type"] == "custom" and out["tools"][0]["name"] == "apply_patch"


def test_tool_call_history_clears_unmatched_call_at_new_batch() -> None:
    """TestToolCallHistoryClearsUnmatchedCallAtNewBatch: an id reused by a later turn's call
    is that call's; the output answers it."""
    out = _codex(
        {
            "messages": [
                _turn(
                    [{**PATCH_CALL, "id": "call_reused", "custom": {"name": "apply_patch", "input": "old"}}]
                ),
                _turn([_call("call_reused", "lookup")]),
                _tool("call_reused", "found"),
            ]
        },
        "gpt-5.6-sol",
    )
    assert [i["type"] for i in out["input"]] == ["custom_tool_call", "function_call", "function_call_output"]


def test_mixed_tool_call_history_preserves_call_families() -> None:
    """TestMixedToolCallHistoryPreservesCallFamilies: a call sent as a function for a tool
    declared custom goes back as a custom_tool_call (its arguments the input), its output
    as a custom_tool_call_output; the function call stays a function call."""
    out = _codex(
        {
            "messages": [
                {"role": "user", "content": "Run both tools."},
                _turn([_call("call_function", "lookup"), _call("call_custom", "apply_patch", "patch")]),
                _tool("call_custom", "patched"),
                _tool("call_function", "found"),
            ],
            "tools": [
                {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
                {"type": "custom", "name": "apply_patch", "description": "Apply a patch."},
            ],
        },
        "gpt-5.6-sol",
    )
    items = out["input"]
    assert [i.get("type", "message") for i in items] == [
        "message",
        "function_call",
        "custom_tool_call",
        "custom_tool_call_output",
        "function_call_output",
    ]
    assert items[2]["input"] == "patch"
    assert (items[3]["call_id"], items[4]["call_id"]) == ("call_custom", "call_function")


def test_same_name_custom_and_function_defaults_to_function_family() -> None:
    """TestSameNameCustomAndFunctionDefaultsToFunctionFamily: a name declared as both a custom
    tool and a function: the call, its output and a function tool_choice stay functions."""
    out = _codex(
        {
            "messages": [_turn([_call("call_shared", "shared_tool")]), _tool("call_shared", "done")],
            "tools": [
                {"type": "custom", "name": "shared_tool", "description": "Custom tool."},
                {"type": "function", "function": {"name": "shared_tool", "parameters": {"type": "object"}}},
            ],
            "tool_choice": {"type": "function", "function": {"name": "shared_tool"}},
        },
        "gpt-5.6-sol",
    )
    assert [i["type"] for i in out["input"]] == ["function_call", "function_call_output"]
    assert out["tool_choice"]["type"] == "function"
    assert out["tools"][0]["name"] == out["tools"][1]["name"]
