"""CPA cases of claude_executor_test.go and claude_executor_request_remap_test.go that no
test of ours named, on :mod:`cliproxy.providers.claude_tools`.

``TestApplyClaudeToolPrefix`` and the two ``TestStripClaudeToolPrefix*`` cases pin CPA's old
``proxy_`` prefix; a cloaked request's custom tools now go as ``mcp__`` aliases (CPA does
the same since its Claude Code 2.1.220 alignment, see test_claude_cpa_tool_prefix.py), so
"prefixed" reads "aliased" here. ``TestRemapOAuthToolNamesWithBatchedEditsMatchesLegacyBytes``
compares two Go implementations byte for byte; its inputs are ported for what the upstream
and the client see.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.providers.claude_tools import ToolNames, alias_tools, is_mcp_tool_name, tool_alias

SECRET = "differential-caller"


def _alias(body: dict[str, Any]) -> ToolNames:
    names = alias_tools(body, seed=SECRET)
    assert names is not None
    return names


def test_custom_tools_and_a_choice_of_one_get_aliases() -> None:
    """CPA: TestApplyClaudeToolPrefix. Declared custom tools, a ``tool_choice`` of one and
    the history's ``tool_use`` of one get the same alias; a name already in the aliased
    shape (CPA: ``proxy_bravo``; here an ``mcp__`` name) is left alone. Where CPA prefixed
    an undeclared ``tool_choice`` too, an alias is only made for a declared tool (so the
    answer maps back), as CPA's remap does today."""
    body: dict[str, Any] = {
        "tools": [{"name": "alpha"}, {"name": "mcp__bravo__tool"}, {"name": "delta"}],
        "tool_choice": {"type": "tool", "name": "alpha"},
        "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "name": "delta", "id": "t1", "input": {}}]}
        ],
    }
    names = _alias(body)
    alpha, bravo, delta = (t["name"] for t in body["tools"])
    assert is_mcp_tool_name(alpha) and is_mcp_tool_name(delta) and alpha != delta
    assert bravo == "mcp__bravo__tool"
    assert body["tool_choice"] == {"type": "tool", "name": alpha}
    assert body["messages"][0]["content"][0]["name"] == delta
    assert names.reverse[alpha] == "alpha" and names.reverse[delta] == "delta"
    undeclared: dict[str, Any] = {
        "tools": [{"name": "alpha"}],
        "tool_choice": {"type": "tool", "name": "charlie"},
    }
    _alias(undeclared)
    assert undeclared["tool_choice"]["name"] == "charlie"


def test_the_answer_gets_the_clients_names_back() -> None:
    """CPA: TestStripClaudeToolPrefixFromResponse, TestStripClaudeToolPrefixFromStreamLine.
    A whole answer's ``tool_use`` and a streamed ``content_block_start`` get the client's
    names; a name this request did not alias passes as it is."""
    body: dict[str, Any] = {"tools": [{"name": "alpha"}, {"name": "bravo"}]}
    names = _alias(body)
    alpha = body["tools"][0]["name"]
    answer = orjson.dumps(
        {
            "content": [
                {"type": "tool_use", "name": alpha, "id": "t1", "input": {}},
                {"type": "tool_use", "name": "bravo", "id": "t2", "input": {}},
            ]
        }
    )
    content = orjson.loads(names.restore_body(answer))["content"]
    assert [c["name"] for c in content] == ["alpha", "bravo"]
    event = {
        "type": "content_block_start",
        "content_block": {"type": "tool_use", "name": alpha, "id": "t1"},
        "index": 0,
    }
    line = names.restore_lines(b"data: " + orjson.dumps(event))
    assert orjson.loads(line.strip()[len(b"data:") :])["content_block"]["name"] == "alpha"


def test_remap_edge_cases() -> None:
    """CPA: TestRemapOAuthToolNamesWithBatchedEditsMatchesLegacyBytes (its inputs)."""
    # every reference shape; case-distinct names are distinct tools; undeclared history stays
    body: dict[str, Any] = {
        "tools": [{"name": "search_web"}, {"name": "Search_Web"}],
        "tool_choice": {"type": "tool", "name": "search_web"},
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "search_web", "input": {}},
                    {"type": "tool_reference", "tool_name": "Search_Web"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "tool_reference", "tool_name": "search_web"}],
                    },
                    {"type": "tool_use", "id": "toolu_unknown", "name": "not_declared", "input": {}},
                ],
            }
        ],
    }
    names = _alias(body)
    lower, upper = (t["name"] for t in body["tools"])
    assert lower != upper and names.reverse == {lower: "search_web", upper: "Search_Web"}
    parts = body["messages"][0]["content"]
    assert body["tool_choice"]["name"] == lower and parts[0]["name"] == lower
    assert parts[1]["tool_name"] == upper and parts[2]["content"][0]["tool_name"] == lower
    assert parts[3]["name"] == "not_declared"

    # a typed custom tool and its duplicate share one alias; server and MCP tools keep theirs
    body = {
        "tools": [
            {"type": "custom", "name": "client_custom", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
            {"name": "mcp__context7__query-docs"},
            {"name": "client_custom"},
        ],
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "name": "client_custom", "id": "toolu_1", "input": {}},
                    {"type": "tool_reference", "tool_name": "web_search"},
                    {"type": "tool_reference", "tool_name": "mcp__context7__query-docs"},
                ],
            }
        ],
    }
    _alias(body)
    first, search, mcp, again = (t["name"] for t in body["tools"])
    assert is_mcp_tool_name(first) and first == again
    assert (search, mcp) == ("web_search", "mcp__context7__query-docs")
    assert [p.get("name") or p.get("tool_name") for p in body["messages"][0]["content"]] == [
        first,
        "web_search",
        "mcp__context7__query-docs",
    ]

    # a client tool already named like another's first alias: the other gets a fresh one
    taken = tool_alias(SECRET, "fetch_url", 0)
    body = {
        "tools": [{"name": taken}, {"name": "fetch_url"}],
        "tool_choice": {"type": "tool", "name": "fetch_url"},
    }
    names = _alias(body)
    mine, fetch = (t["name"] for t in body["tools"])
    assert mine == taken and fetch != taken and is_mcp_tool_name(fetch)
    assert body["tool_choice"]["name"] == fetch and names.resolve(fetch) == "fetch_url"
    # the client's own tool, though on the alias server, is its own: an answer calling it
    # is left as it is, not taken for a garbled alias
    answer = orjson.dumps({"content": [{"type": "tool_use", "name": taken, "id": "t1", "input": {}}]})
    assert names.resolve(taken) is None and names.restore_body(answer) is answer

    # a long non-ASCII name gets a bounded ASCII alias and comes back whole
    long = "读取_" + "very_long_tool_name_" * 8
    body = {
        "tools": [{"name": long}, {"name": "read_file"}],
        "messages": [
            {
                "content": [
                    {"name": long, "type": "tool_use"},
                    {"tool_name": "read_file", "type": "tool_reference"},
                ]
            }
        ],
    }
    names = _alias(body)
    alias = body["tools"][0]["name"]
    assert alias.isascii() and len(alias) <= 64 and names.resolve(alias) == long
    assert body["messages"][0]["content"][0]["name"] == alias

    # nothing to alias: no change at all
    body = {
        "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "mcp__server__existing"}],
        "messages": [{"content": [{"type": "tool_reference", "tool_name": "unknown"}]}],
    }
    before = orjson.dumps(body)
    assert alias_tools(body, seed=SECRET) is None and orjson.dumps(body) == before


def test_a_tool_name_that_is_no_string_is_left_as_sent() -> None:
    """CPA: TestRemapOAuthToolNamesWithBatchedEditsMatchesLegacyBytes ("non-string names
    follow legacy coercion"). Differs on purpose: CPA reads ``42`` as the name ``"42"`` and
    aliases it; here the body goes as the client sent it, so Anthropic's own 400 for a
    name that is no string reaches the client, rather than a request the client did not
    write."""
    body: dict[str, Any] = {
        "tools": [{"name": 42}],
        "tool_choice": {"type": "tool", "name": 42},
        "messages": [{"content": [{"type": "tool_reference", "tool_name": 42}]}],
    }
    before = orjson.dumps(body)
    assert alias_tools(body, seed=SECRET) is None and orjson.dumps(body) == before
