"""Claude tool aliasing (the cloak's MCP-style tool names) does not keep a client's long
tool names.

``alias_tools`` keeps the aliases of the last 1,024 tool lists, and the alias of each
name is memoised (8,192 names); all of them kept the names they were keyed by, so tool
lists with distinct long names (a client decides their size) stayed in memory. A name
longer than 256 characters is now aliased each time and its list is not kept; it still
gets the same alias as before.
"""

from __future__ import annotations

import gc
import tracemalloc

from cliproxy.providers.claude_tools import alias_tools

SIZE = 64 * 1024
COUNT = 200  # 12.5 MiB of distinct names


def body(name: str) -> dict:
    return {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": name, "input_schema": {"type": "object"}}],
    }


def test_long_tool_names_are_not_kept() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for n in range(COUNT):
            request = body(f"{n:06d}" + "n" * SIZE)
            names = alias_tools(request, seed="caller")
            assert names is not None and len(request["tools"][0]["name"]) <= 64
            del request, names
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert kept < 2 << 20, f"{kept / 2**20:.1f} MiB of {COUNT * SIZE / 2**20:.1f} MiB of tool names kept"


def test_a_long_name_keeps_its_alias() -> None:
    long = "do_" + "x" * 1000
    first, second = body(long), body(long)
    alias_tools(first, seed="caller")
    alias_tools(second, seed="caller")
    assert first["tools"][0]["name"] == second["tools"][0]["name"] != long
