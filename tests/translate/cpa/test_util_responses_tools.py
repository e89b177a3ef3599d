"""Ported from CPA internal/util/responses_tools_test.go: Responses tool declarations
(top-level ``tools`` and Responses Lite ``additional_tools`` input items, namespaces,
custom tools) as other upstreams see them, and the way back.

CPA tests its helpers directly; here each case goes through the hub (Responses client ->
Gemini / Claude / Chat upstream, and the Gemini answer back), asserting the same facts."""

from __future__ import annotations

import orjson
import pytest

from ._run import CLAUDE, CODEX, GEMINI, OPENAI, RESPONSES, get, req, resp

CPA = "responses_tools_test.go"

LITE = {
    "model": "m",
    "tools": [{"type": "function", "name": "top_fn", "description": "top function"}],
    "input": [
        {
            "type": "additional_tools",
            "tools": [
                {
                    "type": "namespace",
                    "name": "ns1",
                    "tools": [
                        {"type": "function", "name": "child_fn", "description": "child function"},
                        {"type": "custom", "name": "child_custom", "description": "child custom"},
                    ],
                },
                {"type": "custom", "name": "direct_custom"},
            ],
        },
        {"type": "message", "role": "user", "content": "hi"},
    ],
}


def _decls(body: dict) -> list[dict]:
    return get(req(RESPONSES, GEMINI, body, "gemini-2.5-pro"), "tools.0.functionDeclarations")


def _gemini_call(body: dict, name: str, args: dict) -> list[dict]:
    answer = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}}]},
                "finishReason": "STOP",
            }
        ],
        "modelVersion": "gemini-2.5-pro",
    }
    return resp(GEMINI, RESPONSES, answer, body)["output"]


def test_collect_descriptors_priority_and_namespace() -> None:
    """responses_tools_test.go TestCollectResponsesToolDescriptors_PriorityAndNamespace: four
    tools, namespace children qualified ``ns1__child_fn``, identities restored."""
    decls = _decls(LITE)
    assert [d["name"] for d in decls] == ["top_fn", "ns1__child_fn", "ns1__child_custom", "direct_custom"]
    call = _gemini_call(LITE, "ns1__child_custom", {"input": "x"})[0]
    assert call["type"] == "custom_tool_call"
    assert (call["name"], call.get("namespace")) == ("child_custom", "ns1")
    top = _gemini_call(LITE, "top_fn", {})[0]
    assert top["type"] == "function_call" and top["name"] == "top_fn" and top.get("namespace") is None


@pytest.mark.parametrize("target", [CLAUDE, OPENAI, GEMINI], ids=["claude", "openai", "gemini"])
def test_additional_tools_reach_other_upstreams(target: str) -> None:
    """responses_tools_test.go TestCollectResponsesToolDescriptors_PriorityAndNamespace (issue 15
    defect 8: the additional_tools item's tools were dropped for Claude, Chat and Gemini)."""
    out = req(RESPONSES, target, LITE, "model-x")
    blob = orjson.dumps(out.get("tools")).decode()
    for name in ("top_fn", "ns1__child_fn", "ns1__child_custom", "direct_custom"):
        assert name in blob, (target, name)
    assert "additional_tools" not in orjson.dumps(out).decode()


def test_additional_tools_item_kept_for_codex() -> None:
    """responses_tools_test.go (CPA passes a Responses body to Codex with its input items as
    they are): the item stays in ``input`` and its tools do not join top-level ``tools``."""
    out = req(RESPONSES, CODEX, LITE, "gpt-5")
    assert [t["name"] for t in out["tools"]] == ["top_fn"]
    assert out["input"][0]["type"] == "additional_tools"
    assert out["input"][0]["tools"] == LITE["input"][0]["tools"]


def test_winners_top_level_beats_additional_tools() -> None:
    """responses_tools_test.go TestResponsesToolWinners_TopLevelBeatsAdditionalTools."""
    body = {
        "model": "m",
        "tools": [{"type": "function", "name": "shared_fn", "description": "top level"}],
        "input": [
            {
                "type": "additional_tools",
                "tools": [{"type": "function", "name": "shared_fn", "description": "additional"}],
            },
            {"type": "message", "role": "user", "content": "hi"},
        ],
    }
    decls = _decls(body)
    assert [(d["name"], d.get("description")) for d in decls] == [("shared_fn", "top level")]


def test_winners_direct_beats_namespace_child() -> None:
    """responses_tools_test.go TestResponsesToolWinners_DirectBeatsNamespaceChild."""
    body = {
        "model": "m",
        "input": [
            {
                "type": "additional_tools",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "n",
                        "tools": [{"type": "function", "name": "x", "description": "namespace child"}],
                    },
                    {"type": "custom", "name": "n__x", "description": "direct"},
                ],
            },
            {"type": "message", "role": "user", "content": "hi"},
        ],
    }
    decls = _decls(body)
    assert [(d["name"], d.get("description")) for d in decls] == [("n__x", "direct")]
    call = _gemini_call(body, "n__x", {"input": "raw"})[0]
    assert call["type"] == "custom_tool_call" and call["input"] == "raw"


_NS_TOOLS = [
    {"type": "namespace", "name": "my_ns", "tools": [{"type": "function", "name": "my_fn"}]},
    {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]},
]


@pytest.mark.parametrize(
    ("choice", "mode", "names"),
    [
        ("auto", "AUTO", None),
        ("none", "NONE", None),
        ("required", "ANY", None),
        ({"type": "function", "name": "my_fn", "namespace": "my_ns"}, "ANY", ["my_ns__my_fn"]),
        ({"type": "custom", "name": "exec", "namespace": "functions"}, "ANY", ["functions__exec"]),
    ],
    ids=["auto string", "none string", "required string", "function object with namespace", "custom object"],
)
def test_tool_choice_to_gemini(choice: object, mode: str, names: list[str] | None) -> None:
    """responses_tools_test.go TestConvertResponsesToolChoiceToGemini."""
    body = {"model": "m", "tools": _NS_TOOLS, "tool_choice": choice, "input": "hi"}
    out = req(RESPONSES, GEMINI, body, "gemini-2.5-pro")
    fcc = get(out, "toolConfig.functionCallingConfig")
    assert fcc["mode"] == mode
    if names:
        assert fcc["allowedFunctionNames"] == names


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ({"input": "pwd"}, "pwd"),
        ({"input": {"cmd": "ls"}}, '{"cmd":"ls"}'),
        ({}, ""),
    ],
    ids=["string input", "object input", "empty object"],
)
def test_unwrap_custom_tool_input(args: dict, want: str) -> None:
    """responses_tools_test.go TestUnwrapResponsesCustomToolInput (the inputs a Gemini call can
    carry: ``args`` is always an object there, so the bare-string and empty cases of the
    Go table have no Gemini form)."""
    body = {"model": "m", "tools": [{"type": "custom", "name": "exec"}], "input": "hi"}
    call = _gemini_call(body, "exec", args)[0]
    assert call["type"] == "custom_tool_call"
    assert call["input"] == want


def test_declarations_disambiguation_and_long_names() -> None:
    """responses_tools_test.go TestBuildGeminiFunctionDeclarations_DisambiguationAndLongNames."""
    long = (
        "mcp__very_very_very_very_very_very_long_namespace_name__very_very_very_long_custom_tool_name"
        "_that_exceeds_sixty_four_chars"
    )
    body = {
        "model": "m",
        "tools": [
            {"type": "function", "name": "read/file", "description": "tool with slash"},
            {"type": "function", "name": "read_file", "description": "tool with underscore"},
            {"type": "custom", "name": long},
        ],
        "input": "hi",
    }
    decls = _decls(body)
    assert len(decls) == 3
    by_desc = {d.get("description"): d["name"] for d in decls}
    slash, under = by_desc["tool with slash"], by_desc["tool with underscore"]
    assert slash != under
    long_name = next(d["name"] for d in decls if d.get("description") is None)
    assert len(long_name) <= 64
    assert _gemini_call(body, slash, {})[0]["name"] == "read/file"
    assert _gemini_call(body, under, {})[0]["name"] == "read_file"
    back = _gemini_call(body, long_name, {"input": "go"})[0]
    assert back["type"] == "custom_tool_call" and back["name"] == long


def test_additional_tools_only_adds_no_top_level_tools_for_codex() -> None:
    """responses_tools_test.go (CPA forwards a Responses body to Codex as it came): tools declared
    only in an additional_tools item do not make up a top-level ``tools`` key."""
    body = {"model": "m", "input": [LITE["input"][0], {"type": "message", "role": "user", "content": "hi"}]}
    out = req(RESPONSES, CODEX, body, "gpt-5")
    assert "tools" not in out
    assert out["input"][0]["type"] == "additional_tools"
