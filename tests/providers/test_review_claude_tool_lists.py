"""Claude tool aliasing keeps the aliases of recent tool lists (``claude_tools._ALIASES``),
1,024 lists at most; a name over 256 characters keeps its list out (9059be4). A list of
many names under that length was still kept whole, so a client sending distinct lists of
a few hundred 250-character names each had every one held until 1,024 newer lists came
(measured: 200 lists of 400 such names, 19 MiB of names sent, 40 MiB kept). The kept
lists are now weighed (names, types, aliases) and bounded in all; an ordinary list is
still kept and gets the same aliases."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from cliproxy.providers import claude_tools
from cliproxy.providers.claude_tools import alias_tools

LISTS, TOOLS, NAME = 120, 400, 250  # 11 MiB of distinct names, none over 256 characters


def request(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "x"}], "tools": tools}


def test_many_distinct_tool_lists_of_short_names_are_not_all_kept() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for n in range(LISTS):
            tools = [
                {"name": f"{n:05d}_{i:05d}_" + "t" * (NAME - 12), "input_schema": {"type": "object"}}
                for i in range(TOOLS)
            ]
            body = request(tools)
            assert alias_tools(body, seed="caller") is not None
            assert all(len(t["name"]) <= 64 for t in body["tools"])
            del body, tools
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    sent = LISTS * TOOLS * NAME
    assert kept < 12 << 20, f"{kept / 2**20:.1f} MiB kept of {sent / 2**20:.1f} MiB of tool names"


def test_an_ordinary_tool_list_is_still_kept_with_the_same_aliases() -> None:
    tools = [{"name": f"tool_{i}", "input_schema": {"type": "object"}} for i in range(40)]
    first, second = request([dict(t) for t in tools]), request([dict(t) for t in tools])
    alias_tools(first, seed="review-seed")
    assert any(key[0] == "review-seed" for key in claude_tools._ALIASES)
    alias_tools(second, seed="review-seed")
    names = [t["name"] for t in first["tools"]]
    assert names == [t["name"] for t in second["tools"]]
    assert all(n.startswith("mcp__") for n in names)
