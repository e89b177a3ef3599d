"""CPA internal/util/sanitize_test.go: function names Gemini accepts
(``^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$``) and the way back to the client's names, run
against ``cliproxy.translate.gemini.names``.

CPA keeps two maps: a legacy one (``SanitizedToolNameMap``, the first of two names that
sanitize alike keeps the plain form) and the collision-aware one its Antigravity and
Responses translators use (``SanitizedFunctionNameMap``). Ours has only the second, for
every Gemini upstream: the legacy one cannot give the second name back."""

from __future__ import annotations

import hashlib
import re

import pytest

from cliproxy.translate import ir
from cliproxy.translate.gemini.names import NameMap, disambiguated, sanitize

GEMINI_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
LONG = "this_is_a_very_long_name_that_exceeds_the_sixty_four_character_limit_for_function_names"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("valid_name", "valid_name"),
        ("name.with.dots", "name.with.dots"),
        ("name:with:colons", "name:with:colons"),
        ("name-with-dashes", "name-with-dashes"),
        ("name.with_dots:colons-dashes", "name.with_dots:colons-dashes"),
        ("name!with@invalid#chars", "name_with_invalid_chars"),
        ("name with spaces", "name_with_spaces"),
        ("name_with_你好_chars", "name_with____chars"),
        ("123name", "_123name"),
        (".name", "_.name"),
        (":name", "_:name"),
        ("-name", "_-name"),
        ("!name", "_name"),
        (
            "this_is_a_very_long_name_that_exactly_reaches_sixty_four_charact",
            "this_is_a_very_long_name_that_exactly_reaches_sixty_four_charact",
        ),
        ("@", "_"),
        ("a", "a"),
        ("1", "_1"),
        ("_", "_"),
    ],
    ids=[
        "Normal",
        "With Dots",
        "With Colons",
        "With Dashes",
        "Mixed Allowed",
        "Invalid Characters",
        "Spaces",
        "Non-ASCII",
        "Starts with digit",
        "Starts with dot",
        "Starts with colon",
        "Starts with dash",
        "Starts with invalid char",
        "Exactly 64 chars",
        "Single character invalid",
        "Single character valid",
        "Single character digit",
        "Single character underscore",
    ],
)
def test_sanitize_function_name(raw: str, want: str) -> None:
    """TestSanitizeFunctionName."""
    got = sanitize(raw)
    assert got == want
    assert GEMINI_NAME.match(got)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (
            "this_is_a_very_long_name_that_exactly_reaches_sixty_four_charactX",
            "this_is_a_very_long_name_that_exactly_reaches_sixty_four_charact",
        ),
        (LONG, "this_is_a_very_long_name_that_exceeds_the_sixty_four_character_l"),
        (
            "1234567890123456789012345678901234567890123456789012345678901234",
            "_123456789012345678901234567890123456789012345678901234567890123",
        ),
        (
            "!234567890123456789012345678901234567890123456789012345678901234",
            "_234567890123456789012345678901234567890123456789012345678901234",
        ),
    ],
    ids=[
        "Too long (65 chars)",
        "Very long",
        "Starts with digit (64 chars total)",
        "Starts with invalid char (64 chars total)",
    ],
)
def test_sanitize_function_name_long(raw: str, want: str) -> None:
    """TestSanitizeFunctionName, its over-long cases: cut at 64 characters."""
    got = sanitize(raw)
    assert got == want
    assert GEMINI_NAME.match(got)


def test_sanitize_empty_name() -> None:
    """TestSanitizeFunctionName/Empty: CPA returns ""; ours returns "_", a valid name."""
    assert sanitize("") == "_"


def names(*raw: str) -> NameMap:
    return NameMap([ir.Tool(n) for n in raw])


def test_sanitized_tool_name_map() -> None:
    """TestSanitizedToolNameMap/returns map for tools needing sanitization."""
    m = names("valid_tool", "mcp/server/read", "tool@v2")
    assert m.to_gemini("mcp/server/read") == "mcp_server_read"
    assert m.to_gemini("tool@v2") == "tool_v2"
    assert m.to_gemini("valid_tool") == "valid_tool"
    assert m.from_gemini("mcp_server_read") == ("mcp/server/read", None)


def test_sanitized_tool_name_map_no_change() -> None:
    """TestSanitizedToolNameMap/returns nil when no tools need sanitization."""
    m = names("Read", "Write")
    assert [m.to_gemini("Read"), m.to_gemini("Write")] == ["Read", "Write"]


def test_sanitized_tool_name_map_no_tools() -> None:
    """TestSanitizedToolNameMap/returns nil for empty/missing tools."""
    assert NameMap(None).from_gemini("x") == ("x", None)


def test_sanitized_tool_name_map_collision() -> None:
    """TestSanitizedToolNameMap/collision keeps first legacy mapping, answered by the
    collision-aware map instead (a deliberate difference: the legacy map sends both tools
    as ``read_file`` and gives every call back to ``read/file``): each name gets the plain
    form cut to 51 characters, ``_`` and 12 hex digits of SHA-256("<name>\\x00<attempt>"),
    and each comes back as itself."""
    m = names("read/file", "read@file")
    assert m.to_gemini("read/file") == "read_file_" + _digest("read/file")
    assert m.to_gemini("read@file") == "read_file_" + _digest("read@file")
    assert m.from_gemini(m.to_gemini("read@file")) == ("read@file", None)
    assert m.from_gemini(m.to_gemini("read/file")) == ("read/file", None)


def test_a_valid_name_is_told_apart_too() -> None:
    """CPA renames every name of a collision, a valid one included (``read_file`` beside
    ``read/file``), so no name's form depends on the order of the declarations."""
    m = names("read_file", "read/file")
    assert m.to_gemini("read_file") == "read_file_" + _digest("read_file")
    assert m.to_gemini("read/file") == "read_file_" + _digest("read/file")
    assert disambiguated(["read/file", "read_file"]) == disambiguated(["read_file", "read/file"])


def _digest(name: str, attempt: int = 0) -> str:
    return hashlib.sha256(f"{name}\x00{attempt}".encode()).hexdigest()[:12]


def test_sanitized_function_name_map_disambiguates_collisions() -> None:
    """TestSanitizedFunctionNameMapDisambiguatesCollisions."""
    first = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build"
    second = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build_logs"
    m = names(first, first, second)
    a, b = m.to_gemini(first), m.to_gemini(second)
    assert a and b and a != b and len(a) <= 64 and len(b) <= 64
    reversed_map = names(second, first)
    assert (reversed_map.to_gemini(first), reversed_map.to_gemini(second)) == (a, b)
    # both cut at 64 would be the same name: each is cut to 51 and given its own hash
    assert (a, b) == (first[:51] + "_" + _digest(first), second[:51] + "_" + _digest(second))
    assert m.from_gemini(a) == (first, None)
    assert m.from_gemini(b) == (second, None)


def test_restore_sanitized_tool_name() -> None:
    """TestRestoreSanitizedToolName."""
    m = names("mcp/server/read", "tool@v2")
    assert m.from_gemini("mcp_server_read") == ("mcp/server/read", None)
    assert m.from_gemini("unknown") == ("unknown", None)
    assert NameMap(None).from_gemini("name") == ("name", None)
    assert m.from_gemini("") == ("", None)


def test_sanitized_function_name_map_reads_supported_tool_shapes() -> None:
    """TestSanitizedFunctionNameMapReadsSupportedToolShapes: a name alone (each client
    format's tools reach the map as IR tools, so only the mapping itself is CPA's here)."""
    assert disambiguated(["nested/name", "camel@name", "snake name"]) == {
        "nested/name": "nested_name",
        "camel@name": "camel_name",
        "snake name": "snake_name",
    }


def test_a_name_already_taken_is_suffixed() -> None:
    """SanitizedFunctionNameMap's ``baseUsed``: names are taken in sorted order, and a
    name whose plain form an earlier one already took gets a hash too, valid or not."""
    clash = "read_file_" + _digest("read/file")
    got = disambiguated([clash, "read/file", "read@file"])
    assert got["read/file"] == clash  # sorted first ("/" < "@" < "_"): attempt 0
    assert got[clash] == clash[:51] + "_" + _digest(clash)
    assert len(set(got.values())) == 3
