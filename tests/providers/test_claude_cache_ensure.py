"""CPA's breakpoint placement for requests whose placement the proxy owns, ported from
``internal/runtime/executor/caching_verify_test.go`` (TestEnsureCacheControl and its
subtests, TestShouldEnsureCacheControl, TestInjectToolsCacheControlSkipsDeferredTools,
TestCacheControlOrder, TestUpgradeClaudeCacheControlTTL) onto ``claude_cache``."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest

from cliproxy.providers.claude_cache import _marks, count_marks, ensure, owns_placement, settle, upgrade_ttl
from tests.translate.test_signature_sanitize_inline import _history as random_history

EPH = {"type": "ephemeral"}


def run(body: dict[str, Any]) -> dict[str, Any]:
    ensure(body)
    return body


def mark(block: Any) -> Any:
    return block.get("cache_control") if isinstance(block, dict) else None


def tools(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"tool{i}", "description": f"Tool {i}", "input_schema": {"type": "object"}, **extra}
        for i in range(n)
    ]


def test_string_system_prompt() -> None:
    """TestEnsureCacheControl / String System Prompt."""
    out = run({"model": "claude-3-5-sonnet", "system": "This is a long system prompt", "messages": []})
    assert out["system"][0]["cache_control"]["type"] == "ephemeral"


def test_array_system_prompt_marks_only_the_last() -> None:
    """TestEnsureCacheControl / Array System Prompt."""
    out = run(
        {"system": [{"type": "text", "text": "Part 1"}, {"type": "text", "text": "Part 2"}], "messages": []}
    )
    assert "cache_control" not in out["system"][0]
    assert out["system"][1]["cache_control"] == EPH


def test_tools_are_not_stamped_when_a_system_exists() -> None:
    """TestEnsureCacheControl / Tools Not Auto Cached: the default mark has no ttl."""
    out = run({"tools": tools(2), "system": "System prompt", "messages": []})
    assert all("cache_control" not in t for t in out["tools"])
    assert out["system"][0]["cache_control"] == EPH  # no ttl


def test_system_is_an_independent_breakpoint() -> None:
    """TestEnsureCacheControl / Independent Cache Breakpoints."""
    out = run(
        {
            "tools": tools(1, cache_control=dict(EPH)),
            "system": [{"type": "text", "text": "System"}],
            "messages": [],
        }
    )
    assert out["tools"][0]["cache_control"] == EPH
    assert out["system"][0]["cache_control"] == EPH


def test_tools_without_system_fall_back_to_the_last_tool() -> None:
    """TestEnsureCacheControl / Only Tools No System Falls Back To Tools Breakpoint."""
    out = run({"tools": tools(2), "messages": [{"role": "user", "content": "Hi"}]})
    assert "cache_control" not in out["tools"][0]
    assert out["tools"][1]["cache_control"] == EPH  # no default ttl
    assert out["messages"][0]["content"][0]["cache_control"] == EPH


@pytest.mark.parametrize("system", [[], "", "   "], ids=["empty array", "empty string", "blank string"])
def test_unusable_system_still_falls_back_to_tools(system: Any) -> None:
    """TestEnsureCacheControl / Empty System Still Falls Back To Tools."""
    out = run({"system": system, "tools": tools(1), "messages": [{"role": "user", "content": "Hi"}]})
    assert out["tools"][0]["cache_control"] == EPH
    assert out["system"] == system  # an unusable string is not turned into a marked block
    assert count_marks(out) == 2  # tools + message only


def test_many_tools_are_left_alone() -> None:
    """TestEnsureCacheControl / Many Tools (Claude Code Scenario)."""
    body = {
        "tools": tools(50),
        "system": [{"type": "text", "text": "You are Claude Code"}],
        "messages": [{"role": "user", "content": "Hello"}],
    }
    out = run(copy.deepcopy(body))
    assert all("cache_control" not in t for t in out["tools"])
    assert out["system"][0]["cache_control"] == EPH
    assert out["messages"][0]["content"][0]["cache_control"] == EPH
    # the tools helper alone still marks the last tool (no system: the fallback runs)
    alone = run({"tools": tools(50)})
    assert alone["tools"][49]["cache_control"] == EPH


def test_empty_tools_array() -> None:
    """TestEnsureCacheControl / Empty Tools Array."""
    out = run({"tools": [], "system": "Test", "messages": []})
    assert out["system"][0]["cache_control"]["type"] == "ephemeral"


def test_rolling_mark_on_the_latest_user() -> None:
    """TestEnsureCacheControl / Messages Caching Latest User."""
    msgs = [
        {"role": "user", "content": "First user"},
        {"role": "assistant", "content": "Assistant reply"},
        {"role": "user", "content": "Second user"},
        {"role": "assistant", "content": "Assistant reply 2"},
        {"role": "user", "content": "Third user"},
    ]
    out = run({"messages": msgs})
    assert out["messages"][4]["content"][0]["cache_control"] == EPH
    assert out["messages"][2]["content"] == "Second user"


def test_trailing_system_string_takes_the_special_case() -> None:
    """TestEnsureCacheControl / Messages Caching Trailing System String."""
    msgs = [
        {"role": "user", "content": "User"},
        {"role": "assistant", "content": "Assistant"},
        {"role": "system", "content": "Internal system"},
    ]
    out = run({"messages": msgs})
    assert out["messages"][2]["content"] == [
        {"type": "text", "text": "Internal system", "cache_control": EPH}
    ]
    assert out["messages"][1]["content"] == "Assistant"


def test_trailing_system_array_falls_back() -> None:
    """TestEnsureCacheControl / Messages Caching Trailing System Array Falls Back."""
    internal = [{"type": "text", "text": "Internal 1"}, {"type": "text", "text": "Internal 2"}]
    msgs = [
        {"role": "user", "content": "User"},
        {"role": "assistant", "content": "Assistant"},
        {"role": "system", "content": internal},
    ]
    out = run({"messages": msgs})
    assert all("cache_control" not in b for b in out["messages"][2]["content"])
    assert out["messages"][1]["content"][0]["cache_control"] == EPH


def test_trailing_assistant_text_is_promoted_in_native_order() -> None:
    """TestEnsureCacheControl / Messages Caching Trailing Assistant Text."""
    out = run(
        {
            "messages": [
                {"role": "user", "content": "User"},
                {"role": "assistant", "content": "Assistant prefill"},
            ]
        }
    )
    assert (
        b'[{"type":"text","text":"Assistant prefill","cache_control":{"type":"ephemeral"}}]'
        in orjson.dumps(out)
    )
    assert out["messages"][0]["content"] == "User"


def test_trailing_assistant_thinking_is_skipped() -> None:
    """TestEnsureCacheControl / Messages Skip Trailing Assistant Thinking."""
    msgs = [
        {"role": "user", "content": "User"},
        {"role": "system", "content": "Internal system"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Assistant"}, {"type": "thinking", "thinking": "Internal"}],
        },
    ]
    out = run({"messages": msgs})
    assert out["messages"][0]["content"][0]["cache_control"] == EPH
    assert out["messages"][1]["content"] == "Internal system"
    assert "cache_control" not in out["messages"][2]["content"][1]


def test_cloak_first_user_mark_does_not_stop_the_rolling_mark() -> None:
    """TestEnsureCacheControl / Messages Inject Despite Cloaking First User Marker."""
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "currentDate"},
                {"type": "text", "text": "First user", "cache_control": dict(EPH)},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Assistant reply"}]},
        {"role": "user", "content": [{"type": "text", "text": "Second user"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Assistant reply 2"}]},
        {"role": "user", "content": [{"type": "text", "text": "Third user"}]},
    ]
    out = run(
        {
            "tools": [{"name": "Read", "description": "read", "input_schema": {"type": "object"}}],
            "system": "You are helpful.",
            "messages": msgs,
        }
    )
    assert out["messages"][0]["content"][1]["cache_control"] == EPH
    assert out["messages"][4]["content"][0]["cache_control"] == EPH
    assert "cache_control" not in out["tools"][0]
    assert out["system"][0]["cache_control"] == EPH


def test_latest_user_with_its_own_mark_is_kept() -> None:
    """TestEnsureCacheControl / Messages Skip When Latest User Already Has Cache Control."""
    msgs = [
        {"role": "user", "content": [{"type": "text", "text": "First user"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Assistant reply"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Second user", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ],
        },
    ]
    out = run({"messages": msgs})
    assert out["messages"][2]["content"][0]["cache_control"]["ttl"] == "1h"
    assert "cache_control" not in out["messages"][0]["content"][0]


def test_native_wire_order_of_new_and_upgraded_marks() -> None:
    """TestEnsureCacheControl / Native Cache Control Wire Order."""
    out = run(
        {
            "system": [{"type": "text", "text": "System"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "User"}]}],
        }
    )
    assert orjson.dumps(out).count(b'"cache_control":{"type":"ephemeral"}') == 2
    upgrade_ttl(out)
    raw = orjson.dumps(out)
    assert raw.count(b'"cache_control":{"type":"ephemeral","ttl":"1h"}') == 2
    assert b'{"ttl":"1h","type":"ephemeral"}' not in raw


def test_string_promotion_keeps_order_and_no_html_escaping() -> None:
    """TestEnsureCacheControl / String Promotion Native Parent Order."""
    raw = orjson.dumps(
        run({"system": "System <tag> &", "messages": [{"role": "user", "content": "User <tag> &"}]})
    )
    assert b'"system":[{"type":"text","text":"System <tag> &","cache_control":{"type":"ephemeral"}}]' in raw
    assert b'"content":[{"type":"text","text":"User <tag> &","cache_control":{"type":"ephemeral"}}]' in raw
    assert b"\\u003c" not in raw and b"\\u0026" not in raw


def test_existing_global_scope_is_preserved() -> None:
    """TestEnsureCacheControl / Existing Global Scope Preserved."""
    scoped = {"type": "ephemeral", "ttl": "1h", "scope": "global"}
    out = run(
        {
            "system": [{"type": "text", "text": "Global", "cache_control": dict(scoped)}],
            "messages": [{"role": "user", "content": "User"}],
        }
    )
    assert b'"cache_control":{"type":"ephemeral","ttl":"1h","scope":"global"}' in orjson.dumps(out)


MARKERLESS = {"messages": [{"role": "user", "content": "x"}]}
WITH_MARK = {
    "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": dict(EPH)}]}]
}


@pytest.mark.parametrize(
    ("body", "cloaked", "confirmed", "want"),
    [
        (MARKERLESS, False, True, False),
        (WITH_MARK, False, True, False),
        (WITH_MARK, True, False, True),
        (MARKERLESS, False, False, True),
        (WITH_MARK, False, False, False),
    ],
    ids=[
        "confirmed native markerless",
        "confirmed native with marker",
        "cloaked with marker",
        "unconfirmed markerless",
        "unconfirmed with marker",
    ],
)
def test_who_owns_placement(body: dict[str, Any], cloaked: bool, confirmed: bool, want: bool) -> None:
    """TestShouldEnsureCacheControl."""
    assert owns_placement(body, cloaked=cloaked, confirmed=confirmed) is want


@pytest.mark.parametrize(
    ("tool_list", "index", "ttl"),
    [
        (
            [{"name": "resident", "defer_loading": False}, {"name": "deferred", "defer_loading": True}],
            0,
            None,
        ),
        (
            [
                {"name": "resident"},
                {"name": "deferred_1", "defer_loading": True},
                {"name": "deferred_2", "defer_loading": True},
            ],
            0,
            None,
        ),
        (
            [{"name": "resident_1"}, {"name": "deferred", "defer_loading": True}, {"name": "resident_2"}],
            2,
            None,
        ),
        (
            [{"name": "deferred_1", "defer_loading": True}, {"name": "deferred_2", "defer_loading": True}],
            -1,
            None,
        ),
        (
            [
                {"name": "resident_1", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                {"name": "resident_2"},
            ],
            0,
            "1h",
        ),
    ],
    ids=[
        "trailing deferred",
        "multiple trailing deferred",
        "middle deferred",
        "all deferred",
        "existing mark",
    ],
)
def test_tool_fallback_skips_deferred_tools(
    tool_list: list[dict[str, Any]], index: int, ttl: str | None
) -> None:
    """TestInjectToolsCacheControlSkipsDeferredTools (a body without system: the tools
    fallback is what runs)."""
    out = run({"tools": tool_list})
    marked = [i for i, t in enumerate(out["tools"]) if "cache_control" in t]
    assert marked == ([] if index < 0 else [index])
    assert not any(t.get("defer_loading") and "cache_control" in t for t in out["tools"])
    if ttl:
        assert out["tools"][index]["cache_control"]["ttl"] == ttl


def test_cache_control_order() -> None:
    """TestCacheControlOrder: tools untouched, last system marked without ttl, 1h after the upgrade."""
    out = run(
        {
            "tools": tools(2),
            "system": [
                {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                {"type": "text", "text": "Additional instructions here..."},
            ],
            "messages": [{"role": "user", "content": "Hello"}],
        }
    )
    assert all("cache_control" not in t for t in out["tools"])
    assert "cache_control" not in out["system"][0]
    assert out["system"][1]["cache_control"] == EPH
    upgrade_ttl(out)
    assert out["system"][1]["cache_control"]["ttl"] == "1h"


def test_upgrade_touches_only_existing_marks() -> None:
    """TestUpgradeClaudeCacheControlTTL / Upgrades Only Existing Markers."""
    body = {
        "tools": [{"name": "t", "cache_control": dict(EPH)}, {"name": "u"}],
        "system": [
            {"type": "text", "text": "s0"},
            {"type": "text", "text": "s1", "cache_control": dict(EPH)},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "text", "text": "b", "cache_control": dict(EPH)},
                ],
            }
        ],
    }
    upgrade_ttl(body)
    assert body["tools"][0]["cache_control"]["ttl"] == "1h"
    assert body["system"][1]["cache_control"]["ttl"] == "1h"
    assert body["messages"][0]["content"][1]["cache_control"]["ttl"] == "1h"
    assert "cache_control" not in body["tools"][1] and "cache_control" not in body["system"][0]
    assert count_marks(body) == 3


def test_upgrade_keeps_a_caller_ttl_and_is_idempotent() -> None:
    """TestUpgradeClaudeCacheControlTTL / Preserves Caller TTL And Is Idempotent."""
    body = {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "5m"}}]}
    upgrade_ttl(body)
    assert body["system"][0]["cache_control"]["ttl"] == "5m"
    once = {"system": [{"type": "text", "text": "s", "cache_control": dict(EPH)}]}
    upgrade_ttl(once)
    first = orjson.dumps(once)
    upgrade_ttl(once)
    assert orjson.dumps(once) == first


def test_upgrade_keeps_native_key_order_with_scope() -> None:
    """TestUpgradeClaudeCacheControlTTL / Keeps Native Key Order With Scope."""
    body = {
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "scope": "global"}}]
    }
    upgrade_ttl(body)
    assert b'"cache_control":{"type":"ephemeral","ttl":"1h","scope":"global"}' in orjson.dumps(body)


def test_upgrade_without_ttl_is_a_no_op() -> None:
    """TestUpgradeClaudeCacheControlTTL / No TTL Is A No-op (its invalid-JSON half has no
    counterpart: the provider works on a parsed body)."""
    body = {"system": [{"type": "text", "text": "s", "cache_control": dict(EPH)}]}
    upgrade_ttl(body, "")
    assert body["system"][0]["cache_control"] == EPH


def test_placement_never_writes_into_the_clients_blocks() -> None:
    """Not in CPA (its bodies are bytes): the pipeline shares arrays with the client's
    request, so placement, the limit and the ttl steps copy what they change."""
    client = {
        "tools": tools(1),
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "u"}]}],
    }
    before = copy.deepcopy(client)
    attempt = dict(client)  # the attempt's own top level, the client's arrays
    settle(attempt, place=True, one_hour=True)
    assert client == before
    assert attempt["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert attempt["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}


def _reference_marks(body: dict[str, Any]) -> list[Any]:
    """Every marked block in evaluation order, one plain nested loop."""
    out: list[Any] = []
    for section, key in ((0, "tools"), (1, "system")):
        blocks = body.get(key)
        if type(blocks) is list:
            out += [
                (section, (key, i)) for i, b in enumerate(blocks) if type(b) is dict and "cache_control" in b
            ]
    for m, msg in enumerate(body.get("messages") or []):
        content = msg.get("content") if type(msg) is dict else None
        if type(content) is list:
            for c, b in enumerate(content):
                if type(b) is dict and "cache_control" in b:
                    out.append((2, ("messages", m, "content", c)))
    return out


def test_the_mark_scan_finds_every_mark_where_the_plain_loop_does() -> None:
    """``_marks`` skips a turn's blocks after its first mark and reads that turn again
    for the rest: the same marks, in the same order, as one plain loop."""
    rng = random.Random("marks")
    pool: list[Any] = [
        {"type": "text", "text": "x"},
        {"type": "text", "text": "y", "cache_control": EPH},
        "odd",
    ]
    seen = 0
    for _ in range(300):
        messages = random_history(rng, pool)  # turns of blocks, string turns, non-objects
        body = {"messages": messages, "system": [rng.choice(pool) for _ in range(rng.randint(0, 3))]}
        want = _reference_marks(body)
        assert _marks(body) == want
        seen += sum(1 for section, _ in want if section == 2) > 1
    assert seen > 50  # turns with several marks, and histories with marks in several turns
