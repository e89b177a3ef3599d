"""Tool-name aliases of cloaked Claude requests (cliproxy.providers.claude_tools).

The cases follow CPA's own tests of its MCP aliases (helps/claude_mcp_alias_test.go and
claude_executor_request_remap_test.go): the same inputs, the same asserted facts.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from cliproxy.providers.base import RewriteError
from cliproxy.providers.claude_tools import (
    DEFAULT_SEED,
    ToolNames,
    alias_tools,
    allocate_alias,
    caller_seed,
    is_mcp_tool_name,
    tool_alias,
)
from cliproxy.providers.claude_words import WORDS

WORD_SET = frozenset(WORDS)


def parts(alias: str) -> tuple[str, str, str]:
    """(server, tool word, semantic) of an alias."""
    _, server, tool = alias.split("__", 2)
    word, _, semantic = tool.partition("_")
    return server, word, semantic


def assert_words(alias: str) -> None:
    pieces = alias.split("__")
    assert len(pieces) == 3, alias
    server_words = pieces[1].split("_")
    assert len(server_words) == 2, alias
    word, sep, _ = pieces[2].partition("_")
    assert sep, alias
    for w in (*server_words, word):
        assert w in WORD_SET, (alias, w)


def remap(body: dict[str, Any], seed: str) -> tuple[dict[str, Any], dict[str, str]]:
    names = alias_tools(body, seed=seed)
    return body, (names.reverse if names is not None else {})


def alias_of(reverse: dict[str, str], original: str) -> str:
    return next(k for k, v in reverse.items() if v == original and k != original)


def tool_use(name: str) -> bytes:
    return orjson.dumps({"content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}]})


def stream_line(block: dict[str, Any]) -> bytes:
    event = {"type": "content_block_start", "index": 0, "content_block": block}
    return b"data: " + orjson.dumps(event) + b"\n"


def restored_name(names: ToolNames, name: str) -> str:
    return orjson.loads(names.restore_body(tool_use(name)))["content"][0]["name"]


def restored_stream_name(names: ToolNames, name: str) -> str:
    line = stream_line({"type": "tool_use", "id": "toolu_1", "name": name, "input": {}})
    out = names.restore_lines(line)
    assert out.startswith(b"data: ") and out.endswith(b"\n")
    return orjson.loads(out[6:])["content_block"]["name"]


# ---------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name", ["mcp__context7__query-docs", "mcp__amber_cedar__quiet_harbor", "mcp__server__tool__variant"]
)
def test_mcp_names(name: str) -> None:
    """CPA: TestIsClaudeMCPToolName."""
    assert is_mcp_tool_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "context7__query-docs",
        "mcp____query-docs",
        "mcp__context7__",
        "mcp__context7__query.docs",
        "mcp__context7__" + "x" * 64,
    ],
)
def test_not_mcp_names(name: str) -> None:
    """CPA: TestIsClaudeMCPToolName."""
    assert not is_mcp_tool_name(name)


def test_wordlist_is_bip39_english() -> None:
    """CPA: TestClaudeMCPAliasWordlistIntegrity."""
    assert len(WORDS) == 2048 and WORDS[0] == "abandon" and WORDS[-1] == "zoo"
    assert len(WORD_SET) == 2048
    assert all(re.fullmatch(r"[a-z]{1,8}", w) for w in WORDS)


def test_alias_is_stable_per_caller_and_tool() -> None:
    """CPA: TestResolveClaudeMCPAliasOptions, TestClaudeMCPToolAlias."""
    first = tool_alias("credential-secret", "search_web")
    assert tool_alias("credential-secret", "search_web") == first
    case = tool_alias("credential-secret", "Search_Web")
    assert case != first
    retry = tool_alias("credential-secret", "search_web", 1)
    assert retry != first
    assert is_mcp_tool_name(first)
    assert re.fullmatch(r"mcp__[a-z]+_[a-z]+__[a-z]+_search_web", first), first
    assert_words(first)
    server = parts(first)[0]
    assert parts(case)[0] == server and parts(retry)[0] == server  # one virtual server per caller
    assert parts(tool_alias("other-caller", "search_web"))[0] != server


@pytest.mark.parametrize(
    ("original", "suffix"),
    [
        ("browser.open URL", "_browser_open_URL"),
        ("search.网页/tool with spaces", "_search_tool_with_spaces"),
        ("搜索网页", "_tool"),
    ],
)
def test_odd_characters_become_a_safe_suffix(original: str, suffix: str) -> None:
    """CPA: TestClaudeMCPToolAlias_SemanticSuffixIsSafeAndBounded."""
    alias = tool_alias("credential-secret", original)
    assert is_mcp_tool_name(alias) and len(alias) <= 64
    assert alias.endswith(suffix), alias


def test_long_name_is_cut_to_64() -> None:
    """CPA: TestClaudeMCPToolAlias_SemanticSuffixIsSafeAndBounded."""
    alias = tool_alias("credential-secret", "a" * 68)
    prefix = alias[: alias.rindex("_") + 1]
    assert alias[len(prefix) :] == "a" * (64 - len(prefix))
    assert len(alias) == 64


def test_64_chars_under_every_word() -> None:
    """CPA: TestClaudeMCPToolAlias_Strict64CharLimitUnderAllWordCombinations."""
    for i in range(len(WORDS)):
        alias = tool_alias(f"test-secret-{i}", f"tool_{i}_long_name_" * 50, i)
        assert len(alias) <= 64 and is_mcp_tool_name(alias), alias
        assert_words(alias)


def test_probing_covers_every_word_once() -> None:
    """CPA: TestClaudeMCPToolAlias_ProbesAllWordsWithoutDuplicates.

    With the two tests below this carries TestAllocateClaudeMCPToolAlias_AllocatesEveryDistinctWord:
    allocation is the single shot of the next free attempt, the attempts reach every word
    once, and none is left when all are taken (the 2048-step loop itself is quadratic)."""
    seen = {parts(tool_alias("test-secret", "tool.name", attempt))[1] for attempt in range(len(WORDS))}
    assert len(seen) == len(WORDS)


def test_allocation_stops_when_every_word_is_taken() -> None:
    """CPA: TestAllocateClaudeMCPToolAlias_StopsWhenAttemptsExhausted,
    TestAllocateClaudeMCPToolAlias_AllocatesEveryDistinctWord."""
    reserved = {tool_alias("exhaust-space", "tool.name", attempt) for attempt in range(len(WORDS))}
    assert allocate_alias("exhaust-space", "tool.name", reserved) is None
    assert allocate_alias("exhaust-space", "tool.name", set())


def test_allocation_matches_single_shot() -> None:
    """CPA: TestAllocateClaudeMCPToolAliasMatchesSingleShotConstruction (64 attempts, not
    2048, to stay fast)."""
    for original in ("Bash", "read_file", "long_tool_name_" * 9):
        reserved: set[str] = set()
        for attempt in range(64):
            got = allocate_alias("shared-construction", original, reserved)
            assert got == tool_alias("shared-construction", original, attempt)
            reserved.add(got)


def test_caller_seed_is_the_callers_key() -> None:
    """CPA: TestResolveClaudeMCPAliasOptions."""
    assert caller_seed({"Authorization": "Bearer sk-one"}) == "sk-one"
    assert caller_seed({"x-api-key": "sk-two"}) == "sk-two"
    assert caller_seed({"x-goog-api-key": "g-three"}) == "g-three"
    assert caller_seed({}) == DEFAULT_SEED


# ---------------------------------------------------------------------- the request


def test_every_reference_shape_is_renamed() -> None:
    """CPA: TestRemapOAuthToolNames_AllClientToolsAsMCP,
    TestPrepareClaudeOAuthToolNamesForUpstream_AllCustomToolsWithHistory.
    """
    body: dict[str, Any] = {
        "model": "claude-opus-5",
        "tools": [
            {"name": "search_web", "input_schema": {"type": "object"}},
            {"name": "Search_Web", "input_schema": {"type": "object"}},
        ],
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
    out, reverse = remap(body, "differential-caller")
    lower, upper = alias_of(reverse, "search_web"), alias_of(reverse, "Search_Web")
    assert lower != upper
    assert [t["name"] for t in out["tools"]] == [lower, upper]
    assert out["tool_choice"]["name"] == lower
    content = out["messages"][0]["content"]
    assert content[0]["name"] == lower
    assert content[1]["tool_name"] == upper
    assert content[2]["content"][0]["tool_name"] == lower
    assert content[3]["name"] == "not_declared"  # history of a tool not declared now: left alone


def test_server_tools_and_callers_mcp_tools_keep_their_names() -> None:
    """CPA: TestRemapOAuthToolNames_AllClientToolsAsMCP,
    TestPrepareClaudeOAuthToolNamesForUpstream_PreservesMCPConvention.
    """
    body: dict[str, Any] = {
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
    out, reverse = remap(body, "differential-caller")
    alias = alias_of(reverse, "client_custom")
    assert out["tools"][0] == {"name": alias, "input_schema": {"type": "object"}}  # "custom" type dropped
    assert out["tools"][1] == {"type": "web_search_20250305", "name": "web_search"}
    assert out["tools"][2] == {"name": "mcp__context7__query-docs"}
    assert out["tools"][3] == {"name": alias}  # a duplicate declaration: the same alias
    content = out["messages"][0]["content"]
    assert [content[0]["name"], content[1]["tool_name"], content[2]["tool_name"]] == [
        alias,
        "web_search",
        "mcp__context7__query-docs",
    ]
    assert reverse["mcp__context7__query-docs"] == "mcp__context7__query-docs"


def test_a_declared_name_equal_to_an_alias_takes_the_next_word() -> None:
    """CPA: TestRemapOAuthToolNames_MCPAliasAvoidsClientCollision."""
    collision = tool_alias("differential-caller", "fetch_url")
    body: dict[str, Any] = {
        "tools": [{"name": collision}, {"name": "fetch_url"}],
        "tool_choice": {"type": "tool", "name": "fetch_url"},
    }
    out, reverse = remap(body, "differential-caller")
    alias = alias_of(reverse, "fetch_url")
    assert alias == tool_alias("differential-caller", "fetch_url", 1)
    assert out["tools"][0]["name"] == collision  # the caller's own MCP-shaped tool
    assert out["tools"][1]["name"] == alias and out["tool_choice"]["name"] == alias


def test_unicode_and_long_names() -> None:
    long_name = "读取_" + "very_long_tool_name_" * 8
    body: dict[str, Any] = {
        "messages": [
            {
                "content": [
                    {"name": long_name, "type": "tool_use"},
                    {"tool_name": "read_file", "type": "tool_reference"},
                ]
            }
        ],
        "tools": [{"name": long_name}, {"name": "read_file"}],
    }
    out, reverse = remap(body, "differential-caller")
    alias = alias_of(reverse, long_name)
    assert len(alias) <= 64 and is_mcp_tool_name(alias)
    assert out["messages"][0]["content"][0]["name"] == alias
    assert out["messages"][0]["content"][1]["tool_name"] == alias_of(reverse, "read_file")


def test_nothing_to_rename_leaves_the_body() -> None:
    """CPA: TestRemapOAuthToolNamesWithBatchedEditsReturnsOriginalSliceWithoutEdits."""
    body: dict[str, Any] = {
        "tools": [{"type": "web_search_20250305", "name": "web_search"}, {"name": "mcp__server__existing"}],
        "messages": [{"content": [{"type": "tool_reference", "tool_name": "unknown"}]}],
    }
    before = orjson.dumps(body)
    assert alias_tools(body, seed="no-edits") is None
    assert orjson.dumps(body) == before
    assert alias_tools({"messages": []}, seed="no-tools") is None


def test_the_clients_request_is_not_changed() -> None:
    """The upstream body shares its lists with the client's request (failover starts
    from it again): renaming copies only the path to each changed name."""
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}, {"name": "mcp__own__tool"}]
    history = {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]}
    untouched = {"role": "user", "content": "hi"}
    client: dict[str, Any] = {
        "tools": tools,
        "messages": [untouched, history],
        "tool_choice": {"type": "tool", "name": "Bash"},
    }
    snapshot = orjson.dumps(client)
    upstream = dict(client)
    names = alias_tools(upstream, seed="copy-on-write")
    assert names is not None
    assert orjson.dumps(client) == snapshot
    assert upstream["tools"][0]["name"] != "Bash"
    assert upstream["tools"][1] is tools[1]  # unchanged parts are shared, not copied
    assert upstream["messages"][0] is untouched


def test_tool_search_result_in_history_and_server_tools() -> None:
    """CPA: TestRemapOAuthToolNames_ToolSearchResultInMessageHistory."""
    body: dict[str, Any] = {
        "tools": [
            {"name": "task_list", "input_schema": {"type": "object"}},
            {"type": "advisor_20260301", "name": "advisor", "model": "claude-haiku-4-5-20251001"},
            {"type": "agent_toolset_20260401"},
        ],
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_search_tool_result",
                        "tool_use_id": "srvtoolu_01",
                        "content": {
                            "type": "tool_search_tool_search_result",
                            "tool_references": [{"type": "tool_reference", "tool_name": "task_list"}],
                        },
                    }
                ],
            }
        ],
    }
    out, reverse = remap(body, "history-caller")
    alias = alias_of(reverse, "task_list")
    assert out["tools"][1] == {
        "type": "advisor_20260301",
        "name": "advisor",
        "model": "claude-haiku-4-5-20251001",
    }
    assert out["tools"][2] == {"type": "agent_toolset_20260401"}
    refs = out["messages"][0]["content"][0]["content"]["tool_references"]
    assert refs[0]["tool_name"] == alias


def test_only_callers_mcp_tools_means_no_restore() -> None:
    """CPA: TestRemapKeepsReverseMapEmptyWhenOnlyCallerMCPToolsArePresent."""
    body: dict[str, Any] = {
        "tools": [
            {"name": "mcp__context7__query-docs"},
            {"type": "web_search_20250305", "name": "web_search"},
        ]
    }
    assert alias_tools(body, seed="no-proxied-tools") is None


# ---------------------------------------------------------------------- the answer


def test_garbled_aliases_are_recovered() -> None:
    """CPA: TestReverseRemapOAuthToolNamesRecoversMangledAliases."""
    body: dict[str, Any] = {
        "tools": [{"name": "glob", "input_schema": {}}, {"name": "read", "input_schema": {}}]
    }
    names = alias_tools(body, seed="mangled-alias-caller")
    assert names is not None
    glob, read = body["tools"][0]["name"], body["tools"][1]["name"]
    server, glob_word, _ = parts(glob)
    repeated = f"mcp__{server}__{glob}"
    mixed = f"mcp__{server}__{glob_word}_{parts(read)[2]}"
    answer = orjson.dumps(
        {
            "content": [
                {"type": "tool_use", "id": "toolu_glob", "name": repeated, "input": {}},
                {"type": "tool_reference", "tool_name": mixed},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_read",
                    "content": [{"type": "tool_reference", "tool_name": mixed}],
                },
            ]
        }
    )
    content = orjson.loads(names.restore_body(answer))["content"]
    assert content[0]["name"] == "glob"
    assert content[1]["tool_name"] == "read"
    assert content[2]["content"][0]["tool_name"] == "read"
    assert restored_stream_name(names, repeated) == "glob"
    line = stream_line({"type": "tool_reference", "tool_name": mixed})
    assert orjson.loads(names.restore_lines(line)[6:])["content_block"]["tool_name"] == "read"


@pytest.mark.parametrize(
    "name",
    [
        "mcp__hmzqrngkulqv__hmzqrngkulqv__xuo7jlxlpzee_Bash",
        "mcp__hmzqrngkulqv__hmzqrngkulqv__hmzqrngkulqv__xuo7jlxlpzee_Bash",
        "mcp__hmzqrngkulqv__xuo7jlxlpze_Bash",
        "mcp__hmzqrngkulqv__xuo7jlxlpzeea_Bash",
        "mcp__hmzqrngkulqv__xuo7jlxlpze0_Bash",
        "mcp__hmzqrngkulqv__auo7jlxlpzee_Bash",
        "mcp__hmzqrngkulqv__hmzqrngkulqv__xuo7jlxlpze_Bash",
    ],
)
def test_repeated_server_and_malformed_word(name: str) -> None:
    """CPA: TestReverseRemapOAuthToolNamesRecoversRepeatedServerAliases,
    TestReverseRemapOAuthToolNamesRecoversMalformedToolIDBySemanticSuffix.
    """
    names = ToolNames({"mcp__hmzqrngkulqv__xuo7jlxlpzee_Bash": "Bash"})
    assert restored_name(names, name) == "Bash"
    assert restored_stream_name(names, name) == "Bash"


def test_repeated_server_prefers_the_exact_alias() -> None:
    """CPA: TestReverseRemapOAuthToolNamesRecoversRepeatedServerAliases."""
    names = ToolNames(
        {"mcp__hmzqrngkulqv__xuo7jlxlpzee_Bash": "Bash", "mcp__hmzqrngkulqv__aaaaaaaaaaaa_Bash": "OtherBash"}
    )
    assert restored_name(names, "mcp__hmzqrngkulqv__hmzqrngkulqv__xuo7jlxlpzee_Bash") == "Bash"


def test_word_drift_is_recovered() -> None:
    """CPA: TestReverseRemapOAuthToolNamesWithBIP39Aliases."""
    body: dict[str, Any] = {
        "tools": [{"name": "Bash", "input_schema": {}}, {"name": "fetch_url", "input_schema": {}}]
    }
    names = alias_tools(body, seed="bip39-caller")
    assert names is not None
    bash = body["tools"][0]["name"]
    server, word, semantic = parts(bash)
    assert semantic == "Bash"
    for drifted in (
        bash,
        f"mcp__{server}__{server}__{word}_Bash",
        f"mcp__{server}__corruptedword_Bash",
        f"mcp__{server}__{word}_{word}_Bash",
        f"mcp__{server}__{word}_cabin_Bash",
    ):
        assert restored_name(names, drifted) == "Bash", drifted


def test_ambiguous_or_unknown_names_are_refused() -> None:
    """CPA: TestReverseRemapOAuthToolNamesRejectsUnsafeMangledAliases."""
    body: dict[str, Any] = {"tools": [{"name": "tool.name"}, {"name": "tool/name"}]}
    names = alias_tools(body, seed="ambiguous-alias-caller")
    assert names is not None
    first, second = (parts(t["name"]) for t in body["tools"])
    assert first[2] == second[2]  # both are "tool_name"
    unknown = "bbbbbbbbbbbb" if "aaaaaaaaaaaa" in (first[1], second[1]) else "aaaaaaaaaaaa"
    server = first[0]
    cases = [
        (f"mcp__{server}__{unknown}_{first[2]}", "several declared tools"),
        (f"mcp__{server}__{unknown[:-1]}_{first[2]}", "several declared tools"),
        (f"mcp__{server}__{unknown}_missing_tool", "no tool of this request"),
    ]
    for name, why in cases:
        answer = tool_use(name)
        with pytest.raises(RewriteError, match=why) as caught:
            names.restore_body(answer)
        assert caught.value.status == 502
        line = stream_line({"type": "tool_use", "id": "toolu_1", "name": name, "input": {}})
        with pytest.raises(RewriteError, match=why):
            names.restore_lines(line)


def test_longest_semantic_match_wins() -> None:
    """CPA: TestReverseRemapOAuthToolNames_OverlappingSemanticSuffix."""
    body: dict[str, Any] = {"tools": [{"name": "file"}, {"name": "read_file"}]}
    names = alias_tools(body, seed="overlapping-caller")
    assert names is not None
    file_alias, read_alias = (t["name"] for t in body["tools"])
    server, word, _ = parts(read_alias)
    assert restored_name(names, f"mcp__{server}__{word}_{word}_read_file") == "read_file"
    assert restored_name(names, file_alias) == "file"


def test_unrelated_mcp_names_pass() -> None:
    """CPA: TestReverseRemapOAuthToolNamesPreservesUnrelatedMCPName."""
    body: dict[str, Any] = {"tools": [{"name": "glob"}]}
    names = alias_tools(body, seed="unrelated-mcp-caller")
    assert names is not None
    answer = tool_use("mcp__external__query")
    assert names.restore_body(answer) is answer


def test_callers_mcp_tools_on_the_virtual_server_pass() -> None:
    """A caller's real MCP server may carry the derived two-word name; its tools must
    never be turned into a proxied tool, nor fail the request.

    CPA: TestReverseRemapPassesThroughCallerMCPToolsOnVirtualServerCollision."""
    seed = "virtual-server-collision"
    server = parts(tool_alias(seed, "probe"))[0]
    native = [f"mcp__{server}__read_file", f"mcp__{server}__grep_read_file", f"mcp__{server}__write_file"]
    body: dict[str, Any] = {
        "tools": [{"name": "read_file", "input_schema": {}}, *({"name": n} for n in native)]
    }
    names = alias_tools(body, seed=seed)
    assert names is not None
    alias = body["tools"][0]["name"]
    assert alias != "read_file"
    assert [t["name"] for t in body["tools"][1:]] == native
    for name in native:
        assert restored_name(names, name) == name
        assert restored_stream_name(names, name) == name
    tool_part = alias.split("__", 2)[2]
    for drifted in (alias, f"mcp__{server}__{server}__{tool_part}", f"mcp__{server}__abandon_read_file"):
        assert restored_name(names, drifted) == "read_file"


def test_trailing_markup_is_refused_and_nothing_is_changed() -> None:
    """CPA: TestReverseRemapOAuthToolNamesMarksTrailingMarkupFailureRequestScoped."""
    alias = "mcp__hmzqrngkulqv__xuo7jlxlpzee_clear_thinking"
    names = ToolNames({alias: "clear_thinking"})
    bad = alias + '</parameter>\n<parameter name="merge"'
    with pytest.raises(RewriteError):
        names.restore_body(tool_use(bad))
    with pytest.raises(RewriteError):
        names.restore_lines(stream_line({"type": "tool_use", "id": "toolu_1", "name": bad, "input": {}}))


def test_tool_search_results_are_restored() -> None:
    """CPA: TestReverseRemapOAuthToolNames_ToolSearchResult_NonStream,
    TestReverseRemapOAuthToolNamesFromStreamLine_ToolSearchResult_Stream.
    """
    body: dict[str, Any] = {
        "tools": [{"name": "task_list", "input_schema": {}}, {"name": "fetch_url", "input_schema": {}}]
    }
    names = alias_tools(body, seed="tool-search-caller")
    assert names is not None
    task, fetch = (t["name"] for t in body["tools"])
    answer = orjson.dumps(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "content": [
                {
                    "type": "tool_search_tool_result",
                    "tool_use_id": "srvtoolu_01",
                    "content": {
                        "type": "tool_search_tool_search_result",
                        "tool_references": [
                            {"type": "tool_reference", "tool_name": task},
                            {"type": "tool_reference", "tool_name": fetch},
                        ],
                    },
                },
                {"type": "tool_use", "id": "toolu_01", "name": task, "input": {"action": "list"}},
            ],
        }
    )
    content = orjson.loads(names.restore_body(answer))["content"]
    refs = content[0]["content"]["tool_references"]
    assert [refs[0]["tool_name"], refs[1]["tool_name"], content[1]["name"]] == [
        "task_list",
        "fetch_url",
        "task_list",
    ]
    error = orjson.dumps(
        {
            "content": [
                {
                    "type": "tool_search_tool_result",
                    "tool_use_id": "srvtoolu_02",
                    "content": {
                        "type": "tool_search_tool_result_error",
                        "error_code": "regex_compilation_failed",
                    },
                }
            ]
        }
    )
    assert names.restore_body(error) is error
    block = {
        "type": "tool_search_tool_result",
        "tool_use_id": "srvtoolu_01",
        "content": {
            "type": "tool_search_tool_search_result",
            "tool_references": [{"type": "tool_reference", "tool_name": task}],
        },
    }
    out = names.restore_lines(stream_line(block))
    assert out.startswith(b"data: ")
    assert orjson.loads(out[6:])["content_block"]["content"]["tool_references"][0]["tool_name"] == "task_list"


def test_stream_lines_keep_their_framing() -> None:
    names = ToolNames({"mcp__hmzqrngkulqv__xuo7jlxlpzee_Bash": "Bash"})
    start = {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "tool_use",
            "id": "t",
            "name": "mcp__hmzqrngkulqv__xuo7jlxlpzee_Bash",
            "input": {},
        },
    }
    text = b'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0}\r\n\r\n'
    lines = text + b"event: content_block_start\r\ndata: " + orjson.dumps(start) + b"\r\n\r\n"
    out = names.restore_lines(lines)
    assert out.startswith(text + b"event: content_block_start\r\ndata: ")
    assert out.endswith(b"\r\n\r\n")
    assert b'"name":"Bash"' in out and b"mcp__" not in out
    quiet = b'event: content_block_delta\ndata: {"type":"content_block_delta"}\n\n'
    assert names.restore_lines(quiet) is quiet  # the common case: not even parsed


def test_caller_seed_reads_any_header_spelling() -> None:
    assert caller_seed({"X-Api-Key": "sk-mixed"}) == "sk-mixed"
    assert caller_seed({"AUTHORIZATION": "bearer  sk-upper "}) == "sk-upper"


def test_aliases_kept_per_caller_and_tool_list() -> None:
    """A session's requests repeat their tools: the aliases are worked out once per caller
    and tool list, and exactly as a first request would get them. Another caller, or a list
    that changed (a name now taken), gets its own."""
    tools = [{"name": "fetch_url"}, {"name": "run_shell"}]
    first = alias_tools({"tools": [dict(t) for t in tools]}, seed="caller-a")
    again = alias_tools({"tools": [dict(t) for t in tools]}, seed="caller-a")
    assert first is not None and again is not None and first.reverse == again.reverse
    other = alias_tools({"tools": [dict(t) for t in tools]}, seed="caller-b")
    assert other is not None and set(other.reverse).isdisjoint(first.reverse)
    taken = tool_alias("caller-a", "fetch_url")
    changed = alias_tools({"tools": [{"name": taken}, *[dict(t) for t in tools]]}, seed="caller-a")
    assert changed is not None
    assert alias_of(changed.reverse, "fetch_url") == tool_alias("caller-a", "fetch_url", 1)
    # a declaration whose name is not a string is not kept, and still handled
    odd = alias_tools({"tools": [{"name": ["x"]}, {"name": "fetch_url"}]}, seed="caller-a")
    assert odd is not None and alias_of(odd.reverse, "fetch_url") == tool_alias("caller-a", "fetch_url")


@pytest.mark.parametrize("original", ["Bash", "bash", "Glob", "glob"])
def test_every_client_name_goes_as_an_alias_and_comes_back(original: str) -> None:
    """CPA: TestRemapOAuthToolNames_AllClientNamesUseMCPAliases,
    TestRemapOAuthToolNames_MCPAliasIsMandatory. Claude Code's own tool names too: every
    tool a caller declares goes as an alias, and the answer's call comes back as declared."""
    body: dict[str, Any] = {"tools": [{"name": original, "input_schema": {"type": "object"}}]}
    names = alias_tools(body, seed="caller")
    assert names is not None
    alias = body["tools"][0]["name"]
    assert is_mcp_tool_name(alias) and names.reverse[alias] == original
    assert restored_name(names, alias) == original
    assert restored_stream_name(names, alias) == original


def test_names_differing_in_case_and_typed_tools_get_their_own_aliases() -> None:
    """CPA: TestRemapOAuthToolNames_MixedCaseNamesRemainDistinct,
    TestRemapOAuthToolNames_TypedCustomUsesMCPAlias,
    TestRemapOAuthToolNames_SemanticAliasRestoresLongOriginal,
    TestReverseRemapOAuthToolNamesFromStreamLine_HonorsPerRequestMap: ``Bash`` and
    ``bash`` stay two tools; a tool of a client type loses the type and gets an alias; a
    long name comes back whole; a streamed name this request did not alias passes as it is."""
    long_name = "Read.file/with a very long semantic name and Unicode 网页内容 that exceeds the wire limit"
    body: dict[str, Any] = {
        "tools": [
            {"name": "Bash"},
            {"name": "bash"},
            {"type": "client_extension_v1", "name": "client_extension", "input_schema": {"type": "object"}},
            {"name": long_name},
        ]
    }
    names = alias_tools(body, seed="mixed-case-caller")
    assert names is not None
    upper, lower, extension, long_alias = (t["name"] for t in body["tools"])
    assert len({upper, lower, extension, long_alias}) == 4
    assert (names.reverse[upper], names.reverse[lower]) == ("Bash", "bash")
    assert "type" not in body["tools"][2] and names.reverse[extension] == "client_extension"
    assert len(long_alias) <= 64 and "_Read_file_with_a_very_long" in long_alias
    assert restored_name(names, long_alias) == long_name
    assert restored_stream_name(names, "Bash") == "Bash"  # not an alias of this request
