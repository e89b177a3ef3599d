"""CPA's cache-breakpoint cases (enforceCacheControlLimit, normalizeCacheControlTTL,
upgradeClaudeCacheControlTTL) on cliproxy's in-place helpers."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.providers.claude_cache import enforce_limit, normalize_ttl, upgrade_ttl

EPH: dict[str, Any] = {"type": "ephemeral"}
HOUR: dict[str, Any] = {"type": "ephemeral", "ttl": "1h"}


def text(t: str, mark: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": t, **({"cache_control": dict(mark)} if mark else {})}


def tool(name: str, mark: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, **({"cache_control": dict(mark)} if mark else {})}


def count(body: dict[str, Any]) -> int:
    return orjson.dumps(body).count(b'"cache_control"')


def test_non_last_tools_go_before_messages() -> None:
    """CPA: TestEnforceCacheControlLimit_StripsNonLastToolBeforeMessages."""
    body = {
        "tools": [tool("t1", EPH), tool("t2", EPH)],
        "system": [text("s1", EPH)],
        "messages": [
            {"role": "user", "content": [text("u1", EPH)]},
            {"role": "user", "content": [text("u2", EPH)]},
        ],
    }
    enforce_limit(body)
    assert count(body) == 4
    assert "cache_control" not in body["tools"][0] and "cache_control" in body["tools"][1]
    assert all("cache_control" in m["content"][0] for m in body["messages"])


def test_non_last_system_marks_go_first_and_key_order_is_kept() -> None:
    """CPA: TestEnforceCacheControlLimit_PreservesKeyOrderWhenModified."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [text("u1", EPH), text("u2", EPH)]}],
        "tools": [tool("t1", EPH)],
        "system": [text("s1", EPH), text("s2", EPH)],
    }
    enforce_limit(body)
    assert count(body) == 4 and "cache_control" not in body["system"][0]
    assert list(body) == ["model", "messages", "tools", "system"]


def test_a_tool_only_body_respects_the_limit() -> None:
    """CPA: TestEnforceCacheControlLimit_ToolOnlyPayloadStillRespectsLimit."""
    body = {"tools": [tool(f"t{i}", EPH) for i in range(1, 6)]}
    enforce_limit(body)
    assert count(body) == 4
    assert "cache_control" not in body["tools"][0] and "cache_control" in body["tools"][4]


def test_then_messages_then_the_last_system_then_the_last_tool() -> None:
    body = {
        "tools": [tool("t", EPH)],
        "system": [text("s", EPH)],
        "messages": [{"role": "user", "content": [text("u", EPH)]}],
    }
    enforce_limit(body, 1)
    assert count(body) == 1 and "cache_control" in body["tools"][0]


def test_a_1h_mark_after_a_5m_one_is_downgraded() -> None:
    """CPA: TestNormalizeCacheControlTTL_DowngradesLaterOneHourBlocks."""
    body = {
        "tools": [tool("t1", HOUR)],
        "system": [text("s1", EPH)],
        "messages": [{"role": "user", "content": [text("u1", HOUR)]}],
    }
    normalize_ttl(body)
    assert body["tools"][0]["cache_control"] == HOUR
    assert body["messages"][0]["content"][0]["cache_control"] == EPH


def test_nothing_to_normalize_changes_nothing() -> None:
    """CPA: TestNormalizeCacheControlTTL_PreservesOriginalBytesWhenNoChange."""
    body = {
        "tools": [tool("t1", HOUR)],
        "system": [text("<system-reminder>foo & bar</system-reminder>", HOUR)],
        "messages": [{"role": "user", "content": [text("hello")]}],
    }
    before = orjson.dumps(body)
    normalize_ttl(body)
    assert orjson.dumps(body) == before


def test_upgrade_touches_only_existing_marks_and_keeps_a_callers_ttl() -> None:
    body = {
        "tools": [tool("t", EPH), tool("u")],
        "system": [text("s0"), text("s1", EPH), text("s2", {"type": "ephemeral", "ttl": "5m"})],
        "messages": [{"role": "user", "content": [text("a"), text("b", EPH)]}],
    }
    upgrade_ttl(body)
    assert body["tools"][0]["cache_control"] == HOUR and "cache_control" not in body["tools"][1]
    assert body["system"][1]["cache_control"] == HOUR and "cache_control" not in body["system"][0]
    assert body["system"][2]["cache_control"]["ttl"] == "5m"
    assert body["messages"][0]["content"][1]["cache_control"] == HOUR
    assert count(body) == 4
    once = orjson.dumps(body)
    upgrade_ttl(body)
    assert orjson.dumps(body) == once  # idempotent


def test_upgrade_keeps_claude_codes_key_order_with_a_scope() -> None:
    body = {"system": [text("s", {"type": "ephemeral", "scope": "global"})]}
    upgrade_ttl(body)
    assert b'"cache_control":{"type":"ephemeral","ttl":"1h","scope":"global"}' in orjson.dumps(body)


def test_a_downgrade_keeps_the_bodys_key_order() -> None:
    """CPA: TestNormalizeCacheControlTTL_PreservesKeyOrderWhenModified. Tools are read
    before messages whatever the body's order: the 5m tool mark downgrades the 1h one of
    the message that comes first in the body, and the keys keep their order."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [text("u1", HOUR)]}],
        "tools": [tool("t1", EPH)],
        "system": [text("s1", EPH)],
    }
    normalize_ttl(body)
    assert body["messages"][0]["content"][0]["cache_control"] == EPH
    assert list(body) == ["model", "messages", "tools", "system"]
