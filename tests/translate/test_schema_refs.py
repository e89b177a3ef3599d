"""``$ref`` recursion in the schema cleaner: a ref being expanded is never expanded again
inside its own expansion, whichever path (inlining, ``allOf``, ``prefixItems``,
``items``, ``anyOf``) re-enters it, and nesting is cut at a hard depth."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cliproxy.translate.schema import clean_schema, clean_schema_for_claude, clean_schema_for_gemini
from cliproxy.translate.schema._walk import MAX_DEPTH
from tests.translate.gemini_validator import violations

# Found by tests/translate/test_schema_property.py: "#" inside allOf inside prefixItems.
HYPOTHESIS_ROOT_REF: dict[str, Any] = {
    "items": {"$ref": "#/properties/a", "description": 9},
    "x-y": {},
    "prefixItems": [
        {
            "allOf": [
                [],
                {"$ref": "#", "enum": None, "type": "boolean", "const": "I0S", "description": 0},
                None,
            ],
            "anyOf": ["integer"],
            "properties": {"x-y": {}, "type": "integer", "kind": 0.0},
        },
        {"additionalProperties": "array", "oneOf": ["", {"x-y": True}]},
        {},
    ],
    "$defs": {"A": None, "B": {"examples": [], "enum": [True]}},
    "definitions": {"C": None},
}

ROOT_IN_ALL_OF = {
    "type": "object",
    "description": "root",
    "properties": {"child": {"allOf": [{"$ref": "#"}], "description": "kid"}},
}
ROOT_AT_TOP_ALL_OF = {"type": "object", "properties": {"a": {"type": "string"}}, "allOf": [{"$ref": "#"}]}
ROOT_IN_ITEMS = {
    "type": "object",
    "description": "tree",
    "properties": {"list": {"type": "array", "items": {"$ref": "#"}}},
}
ROOT_IN_PREFIX_ITEMS = {
    "type": "object",
    "properties": {"t": {"prefixItems": [{"allOf": [{"$ref": "#"}]}, {"type": "string"}]}},
}
ROOT_IN_ANY_OF = {
    "type": "object",
    "description": "r",
    "properties": {"x": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
}
MUTUAL_ALL_OF = {
    "type": "object",
    "properties": {"start": {"$ref": "#/$defs/A"}},
    "$defs": {
        "A": {
            "description": "A",
            "allOf": [{"$ref": "#/$defs/B"}],
            "properties": {"a": {"type": "string"}, "next": {"allOf": [{"$ref": "#/$defs/A"}]}},
        },
        "B": {
            "description": "B",
            "allOf": [{"$ref": "#/$defs/A"}],
            "properties": {"b": {"type": "integer"}, "back": {"$ref": "#/$defs/B"}},
        },
    },
}

CASES = {
    "hypothesis_root_ref": HYPOTHESIS_ROOT_REF,
    "root_in_all_of": ROOT_IN_ALL_OF,
    "root_at_top_all_of": ROOT_AT_TOP_ALL_OF,
    "root_in_items": ROOT_IN_ITEMS,
    "root_in_prefix_items": ROOT_IN_PREFIX_ITEMS,
    "root_in_any_of": ROOT_IN_ANY_OF,
    "mutual_all_of": MUTUAL_ALL_OF,
}


def clean_promptly(schema: dict[str, Any]) -> dict[str, Any]:
    # Uncached on purpose: the cache in clean_schema_for_gemini would hide a second run.
    start = time.perf_counter()
    out = clean_schema(schema, "gemini")
    assert time.perf_counter() - start < 2.0
    return out


@pytest.mark.parametrize("schema", CASES.values(), ids=CASES.keys())
def test_self_reference_terminates_and_validates(schema):
    out = clean_promptly(schema)
    assert violations(out) == []
    assert clean_schema_for_gemini(schema) == out
    assert clean_schema_for_gemini(out) == out
    clean_schema_for_claude(schema)  # the Claude root rule resolves refs too


def test_root_ref_in_all_of_unrolls_once_then_stubs_an_object():
    child = clean_promptly(ROOT_IN_ALL_OF)["properties"]["child"]
    assert child["type"] == "OBJECT" and child["description"] == "kid"
    assert child["properties"]["child"] == {"type": "OBJECT", "description": "kid"}


def test_root_ref_at_top_all_of_is_the_root_itself():
    assert clean_promptly(ROOT_AT_TOP_ALL_OF) == {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}


def test_root_ref_in_items_unrolls_once():
    items = clean_promptly(ROOT_IN_ITEMS)["properties"]["list"]["items"]
    assert items["description"] == "tree"
    assert items["properties"]["list"]["items"] == {"type": "OBJECT", "description": "tree"}


def test_root_ref_in_any_of_keeps_nullable():
    x = clean_promptly(ROOT_IN_ANY_OF)["properties"]["x"]
    assert x["nullable"] is True and x["type"] == "OBJECT"
    assert x["properties"]["x"] == {"type": "OBJECT", "description": "r", "nullable": True}


def test_mutual_recursion_through_all_of_merges_both_then_stubs():
    start = clean_promptly(MUTUAL_ALL_OF)["properties"]["start"]
    assert start["description"] == "A"
    assert set(start["properties"]) == {"a", "b", "next", "back"}
    assert start["properties"]["next"] == {"type": "OBJECT", "description": "A"}
    assert start["properties"]["back"] == {"type": "OBJECT", "description": "B"}


def test_guard_is_per_node_so_sibling_refs_still_expand():
    foo = {"type": "object", "properties": {"n": {"type": "integer"}}}
    out = clean_promptly(
        {
            "type": "object",
            "properties": {
                "a": {"allOf": [{"$ref": "#/definitions/Foo"}], "description": "x"},
                "b": {"$ref": "#/definitions/Foo"},
            },
            "definitions": {"Foo": foo},
        }
    )
    expanded = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}
    assert out["properties"]["a"] == {**expanded, "description": "x"}
    assert out["properties"]["b"] == expanded


def test_ref_chain_inside_all_of_is_followed():
    out = clean_promptly(
        {
            "type": "object",
            "properties": {"v": {"allOf": [{"$ref": "#/$defs/A"}]}},
            "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "integer", "minimum": 1}},
        }
    )
    assert out["properties"]["v"] == {"type": "INTEGER", "minimum": 1}


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for i in range(levels):
        node = {"type": "object", "description": f"level {i}", "properties": {"c": node}}
    return node


def test_depth_is_bounded_and_the_cut_node_keeps_its_description():
    out = clean_promptly(nested(1000))
    assert violations(out) == []
    node, depth = out, 0
    while "properties" in node:
        node, depth = node["properties"]["c"], depth + 1
    assert depth == MAX_DEPTH
    assert node == {"type": "OBJECT", "description": f"level {1000 - MAX_DEPTH - 1}"}


def test_nesting_under_the_bound_is_kept_whole():
    out = clean_promptly(nested(MAX_DEPTH - 1))
    node = out
    for _ in range(MAX_DEPTH - 1):
        node = node["properties"]["c"]
    assert node == {"type": "STRING"}


def test_deeply_nested_all_of_does_not_recurse():
    node: dict[str, Any] = {"type": "string", "description": "leaf"}
    for _ in range(5000):
        node = {"allOf": [node]}
    out = clean_promptly({"type": "object", "properties": {"x": node}})
    assert out["properties"]["x"] == {"type": "STRING", "description": "leaf"}


def test_claude_root_resolves_the_same_ref_in_every_union_branch():
    a = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    out = clean_schema_for_claude(
        {"anyOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/A"}], "$defs": {"A": a}}
    )
    assert out["properties"] == {"a": {"type": "string"}}
    assert out["required"] == ["a"]  # only if both branches were expanded
