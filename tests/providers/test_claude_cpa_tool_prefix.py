"""CPA's ``TestApplyClaudeToolPrefix_*`` and ``TestStripClaudeToolPrefixFromResponse_*`` cases
on :mod:`cliproxy.providers.claude_tools`.

CPA once sent a Claude OAuth request's custom tools as ``proxy_<name>``
(``applyClaudeToolPrefix``) and took the prefix off the answer
(``stripClaudeToolPrefixFromResponse``). Those functions are still in CPA with their
tests, but nothing calls them any more: since CPA's Claude Code 2.1.220 alignment, a
cloaked request's custom tools go out as opaque MCP aliases (``mcp__<server>__<tool>``),
and that is what cliproxy does. So each case is ported with its input and asserted facts
and "prefixed" read as "aliased": which names change, which keep theirs (Anthropic's
built-ins, the caller's MCP tools, string tool results), and that the answer's names,
``tool_reference`` blocks included, come back as the client wrote them.

One difference follows from the aliases, on purpose and as CPA does today: a name in the
history that no tool of the request declares is left as it is (the prefix would have
prefixed it). An alias is only made for a declared tool, so that the answer can be mapped
back; CPA's ``remapOAuthToolNames`` works the same way.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.providers.claude_tools import ToolNames, alias_tools, is_mcp_tool_name

SEED = "tool-prefix-caller"
BUILTINS = ["web_search", "code_execution", "text_editor", "computer"]


def aliased(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` after the rename, and each original name's alias."""
    names = alias_tools(body, seed=SEED)
    assert names is not None
    forward = {original: alias for alias, original in names.reverse.items() if alias != original}
    for alias in forward.values():
        assert is_mcp_tool_name(alias)
    return body, forward


def test_tool_reference_blocks_are_renamed() -> None:
    """A declared tool's ``tool_reference`` gets its alias; a name that already is an
    aliased shape (CPA: already ``proxy_``; here an MCP name) is left alone; an undeclared
    name too (the difference in the module docstring: CPA's prefix renamed ``beta``).

    CPA: TestApplyClaudeToolPrefix_WithToolReference"""
    body, forward = aliased(
        {
            "tools": [{"name": "alpha"}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_reference", "tool_name": "alpha"},
                        {"type": "tool_reference", "tool_name": "beta"},
                        {"type": "tool_reference", "tool_name": "mcp__srv__gamma"},
                    ],
                }
            ],
        }
    )
    content = body["messages"][0]["content"]
    assert [c["tool_name"] for c in content] == [forward["alpha"], "beta", "mcp__srv__gamma"]


def test_typed_builtin_tools_keep_their_names() -> None:
    """CPA: TestApplyClaudeToolPrefix_SkipsBuiltinTools"""
    body, forward = aliased(
        {
            "tools": [
                {"type": "web_search_20250305", "name": "web_search"},
                {"name": "my_custom_tool", "input_schema": {"type": "object"}},
            ]
        }
    )
    assert body["tools"][0] == {"type": "web_search_20250305", "name": "web_search"}
    assert body["tools"][1]["name"] == forward["my_custom_tool"]
    assert set(forward) == {"my_custom_tool"}


def test_a_builtin_only_in_the_history_keeps_its_name() -> None:
    """CPA: TestApplyClaudeToolPrefix_KnownBuiltinInHistoryOnly"""
    body, forward = aliased(
        {
            "tools": [{"name": "Read"}],
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "tool_use", "name": "web_search", "id": "ws1", "input": {}}],
                }
            ],
        }
    )
    assert body["messages"][0]["content"][0]["name"] == "web_search"
    assert body["tools"][0]["name"] == forward["Read"]


def test_custom_tools_are_renamed_in_declarations_and_history() -> None:
    """CPA: TestApplyClaudeToolPrefix_CustomToolsPrefixed"""
    body, forward = aliased(
        {
            "tools": [{"name": "Read"}, {"name": "Write"}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_use", "name": "Read", "id": "r1", "input": {}},
                        {"type": "tool_use", "name": "Write", "id": "w1", "input": {}},
                    ],
                }
            ],
        }
    )
    assert forward["Read"] != forward["Write"]
    assert [t["name"] for t in body["tools"]] == [forward["Read"], forward["Write"]]
    assert [c["name"] for c in body["messages"][0]["content"]] == [forward["Read"], forward["Write"]]


def test_a_tool_choice_of_a_builtin_keeps_its_name() -> None:
    """CPA: TestApplyClaudeToolPrefix_ToolChoiceBuiltin"""
    body, forward = aliased(
        {
            "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "Read"}],
            "tool_choice": {"type": "tool", "name": "web_search"},
        }
    )
    assert body["tool_choice"] == {"type": "tool", "name": "web_search"}
    assert body["tools"][1]["name"] == forward["Read"]


@pytest.mark.parametrize("builtin", BUILTINS)
def test_known_builtins_keep_their_names_everywhere(builtin: str) -> None:
    """Not declared in this request, a built-in's name stays in ``tool_choice``, a
    ``tool_use``, a ``tool_reference`` and one nested in a ``tool_result``.

    CPA: TestApplyClaudeToolPrefix_KnownFallbackBuiltinsRemainUnprefixed"""
    body, forward = aliased(
        {
            "tools": [{"name": "Read"}],
            "tool_choice": {"type": "tool", "name": builtin},
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "name": builtin, "id": "toolu_1", "input": {}},
                        {"type": "tool_reference", "tool_name": builtin},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [{"type": "tool_reference", "tool_name": builtin}],
                        },
                    ],
                }
            ],
        }
    )
    content = body["messages"][0]["content"]
    assert body["tool_choice"]["name"] == builtin
    assert content[0]["name"] == builtin
    assert content[1]["tool_name"] == builtin
    assert content[2]["content"][0]["tool_name"] == builtin
    assert body["tools"][0]["name"] == forward["Read"]


def test_a_client_tool_named_like_a_builtin_is_renamed_everywhere() -> None:
    """Declared as the client's own (untyped) tool, ``web_search`` is a client tool: it gets
    an alias in the declaration, the choice and the history alike. CPA's prefix renamed only
    the declaration (its history and choice checks skip built-in names), which sent a
    history that named a tool the request no longer declared; CPA's aliases, like ours,
    rename all of them (remapOAuthToolNames: "names resembling Claude built-ins").

    CPA: TestApplyClaudeToolPrefix_KnownFallbackBuiltinsRemainUnprefixed (difference)"""
    body, forward = aliased(
        {
            "tools": [{"name": "web_search", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "web_search"},
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "name": "web_search", "id": "toolu_1", "input": {}}],
                }
            ],
        }
    )
    alias = forward["web_search"]
    assert body["tools"][0]["name"] == body["tool_choice"]["name"] == alias
    assert body["messages"][0]["content"][0]["name"] == alias


def test_a_nested_mcp_tool_reference_keeps_its_name() -> None:
    """CPA: TestApplyClaudeToolPrefix_PreservesNestedMCPToolReference"""
    body, forward = aliased(
        {
            "tools": [{"name": "Read"}, {"name": "mcp__nia__manage_resource"}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_123",
                            "content": [{"type": "tool_reference", "tool_name": "mcp__nia__manage_resource"}],
                        }
                    ],
                }
            ],
        }
    )
    nested = body["messages"][0]["content"][0]["content"][0]
    assert nested["tool_name"] == "mcp__nia__manage_resource"
    assert body["tools"][1] == {"name": "mcp__nia__manage_resource"}
    assert set(forward) == {"Read"}


def test_a_string_tool_result_is_left_alone() -> None:
    """CPA: TestApplyClaudeToolPrefix_NestedToolReferenceWithStringContent"""
    result = {"type": "tool_result", "tool_use_id": "toolu_123", "content": "plain string result"}
    body, _ = aliased({"tools": [{"name": "Read"}], "messages": [{"role": "user", "content": [result]}]})
    assert body["messages"][0]["content"][0] is result
    assert result["content"] == "plain string result"


def test_a_nested_builtin_tool_reference_keeps_its_name() -> None:
    """CPA: TestApplyClaudeToolPrefix_SkipsBuiltinToolReference"""
    body, forward = aliased(
        {
            "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "Read"}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [
                                {"type": "tool_reference", "tool_name": "web_search"},
                                {"type": "tool_reference", "tool_name": "Read"},
                            ],
                        }
                    ],
                }
            ],
        }
    )
    refs = body["messages"][0]["content"][0]["content"]
    assert [r["tool_name"] for r in refs] == ["web_search", forward["Read"]]


def test_tool_references_of_the_answer_come_back() -> None:
    """The answer's ``tool_reference`` blocks, top-level, nested in a ``tool_result`` and
    in a streamed ``content_block_start``, get the client's names back; a name this request
    did not alias passes as it is.

    CPA: TestStripClaudeToolPrefixFromResponse_WithToolReference,
    TestStripClaudeToolPrefixFromResponse_NestedToolReference,
    TestStripClaudeToolPrefixFromStreamLine_WithToolReference"""
    _, forward = aliased({"tools": [{"name": "alpha"}, {"name": "beta"}]})
    names = ToolNames({alias: original for original, alias in forward.items()})
    answer = orjson.dumps(
        {
            "content": [
                {"type": "tool_reference", "tool_name": forward["alpha"]},
                {"type": "tool_reference", "tool_name": "bravo"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_123",
                    "content": [{"type": "tool_reference", "tool_name": forward["beta"]}],
                },
            ]
        }
    )
    content = orjson.loads(names.restore_body(answer))["content"]
    assert [content[0]["tool_name"], content[1]["tool_name"]] == ["alpha", "bravo"]
    assert content[2]["content"][0]["tool_name"] == "beta"
    event = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_reference", "tool_name": forward["beta"]},
    }
    line = names.restore_lines(b"data: " + orjson.dumps(event) + b"\n")
    assert orjson.loads(line[6:])["content_block"]["tool_name"] == "beta"
