"""CPA's ``helps/claude_builtin_tools_test.go`` on :mod:`cliproxy.providers.claude_tools`:
which tools are Anthropic's own (never aliased, their names never taken by an alias)."""

from __future__ import annotations

import pytest

from cliproxy.providers import claude_tools


@pytest.mark.parametrize(
    "kind",
    [
        "web_search_20250305",
        "code_execution_20250522",
        "tool_search_tool_regex_20251119",
        "advisor_20260301",
        "agent_toolset_20260401",
        "bash_20250124",
        "text_editor_20250728",
        "memory_20250818",
        "computer_20241022",
        "web_fetch_20260209",
    ],
)
def test_anthropics_typed_tools_are_server_tools(kind: str) -> None:
    """CPA: TestIsClaudeServerToolType"""
    assert claude_tools.is_server_tool_type(kind)


@pytest.mark.parametrize("kind", ["", "custom", "custom_builtin_20250401", None])
def test_other_types_are_the_clients(kind: object) -> None:
    """CPA: TestIsClaudeServerToolType"""
    assert not claude_tools.is_server_tool_type(kind)


def test_a_typed_builtin_keeps_its_name_and_client_tools_are_aliased() -> None:
    """A known typed built-in is kept under its name; a ``custom`` tool, an unknown typed
    one and an untyped one are the client's and go under aliases, none of which takes a
    default built-in name.

    CPA: TestClaudeBuiltinToolRegistry_AugmentsKnownTypedBuiltinsFromBody,
    TestClaudeBuiltinToolRegistry_DefaultSeedFallback"""
    body = {
        "tools": [
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "custom", "name": "client_custom"},
            {"type": "custom_builtin_20250401", "name": "unknown_typed"},
            {"name": "Read"},
        ],
        "messages": [{"role": "user", "content": "hi"}],
    }
    names = claude_tools.alias_tools(body, seed="builtin-registry")
    assert names is not None
    sent = [t["name"] for t in body["tools"]]
    assert sent[0] == "web_search"
    assert all(name.startswith("mcp__") for name in sent[1:])
    assert not {"web_search", "code_execution", "text_editor", "computer"} & set(sent[1:])
    assert {names.resolve(name) for name in sent[1:]} == {"client_custom", "unknown_typed", "Read"}
