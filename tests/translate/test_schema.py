"""The schema sanitizer against a corpus of real agent tool schemas and targeted cases."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from cliproxy.translate.schema import clean_schema, clean_schema_for_claude, clean_schema_for_gemini
from tests.translate.gemini_validator import violations

CORPUS = sorted((Path(__file__).parent / "data" / "tool_schemas").glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_corpus_is_large_and_covers_every_client():
    names = [p.stem for p in CORPUS]
    assert len(names) >= 40
    for prefix in ("claude_code__", "codex__", "gemini_cli__", "opencode__", "mcp__"):
        assert sum(n.startswith(prefix) for n in names) >= 8, prefix


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_cleans_to_valid_gemini(path):
    schema = load(path)
    before = orjson.dumps(schema)
    out = clean_schema_for_gemini(schema)
    assert violations(out) == []
    assert orjson.dumps(schema) == before, "input was mutated"
    assert clean_schema_for_gemini(out) == out, "not idempotent"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_keeps_properties_required_descriptions_enums(path):
    schema = load(path)
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        pytest.skip("no top-level property map")
    out = clean_schema_for_gemini(schema)
    out_props = out["properties"]
    assert set(out_props) == set(props)
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    assert out.get("required", []) == list(dict.fromkeys(n for n in required if n in props))
    for name, prop in props.items():
        if not isinstance(prop, dict):
            continue
        if isinstance(prop.get("description"), str):
            assert prop["description"] in out_props[name]["description"]
        if prop.get("enum") and all(isinstance(v, str) for v in prop["enum"]):
            assert out_props[name]["enum"] == prop["enum"]


def test_claude_code_upper_case_types_and_no_foreign_keys():
    out = clean_schema_for_gemini(load(CORPUS[0].parent / "claude_code__Grep.json"))
    assert out["type"] == "OBJECT"
    assert out["properties"]["output_mode"] == {
        "type": "STRING",
        "enum": ["content", "files_with_matches", "count"],
        "description": out["properties"]["output_mode"]["description"],
    }
    assert "$schema" not in out and "additionalProperties" not in out
    assert out["properties"]["-n"]["type"] == "BOOLEAN"


def props(schema: dict) -> dict:
    return clean_schema_for_gemini({"type": "object", "properties": schema})["properties"]


def test_const_becomes_string_enum():
    assert props({"k": {"const": "click"}}) == {"k": {"type": "STRING", "enum": ["click"]}}


def test_null_in_type_list_becomes_nullable():
    assert props({"a": {"type": ["string", "null"]}})["a"] == {"type": "STRING", "nullable": True}


def test_optional_any_of_collapses_to_nullable_type():
    out = props({"a": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "A"}})
    assert out["a"] == {"type": "INTEGER", "nullable": True, "default": None, "title": "A"}


def test_several_types_become_any_of_with_their_keywords():
    out = props({"a": {"type": ["string", "array"], "items": {"type": "string"}, "maxLength": 3}})
    assert out["a"] == {
        "anyOf": [{"type": "STRING", "maxLength": 3}, {"type": "ARRAY", "items": {"type": "STRING"}}]
    }


def test_one_of_becomes_any_of():
    out = props(
        {"a": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"x": {"type": "number"}}}]}}
    )
    assert out["a"]["anyOf"][1] == {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}}


def test_all_of_merges_properties_and_required():
    schema = {
        "type": "object",
        "properties": {
            "v": {
                "allOf": [{"$ref": "#/$defs/B"}, {"properties": {"y": {"type": "string"}}, "required": ["y"]}]
            }
        },
        "$defs": {"B": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
    }
    v = clean_schema_for_gemini(schema)["properties"]["v"]
    assert v == {
        "type": "OBJECT",
        "properties": {"x": {"type": "INTEGER"}, "y": {"type": "STRING"}},
        "required": ["x", "y"],
    }


def test_exclusive_bounds_exact_for_integers_lossy_for_numbers():
    out = props(
        {
            "i": {"type": "integer", "exclusiveMinimum": 0},
            "n": {"type": "number", "exclusiveMaximum": 1.5, "maximum": 9},
        }
    )
    assert out["i"] == {"type": "INTEGER", "minimum": 1}
    assert out["n"] == {"type": "NUMBER", "maximum": 1.5}


def test_examples_become_first_example():
    assert props({"c": {"type": "string", "examples": ["Paris", "Tokyo"]}})["c"] == {
        "type": "STRING",
        "example": "Paris",
    }


def test_recursive_ref_becomes_object_with_description():
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/N"}},
        "$defs": {
            "N": {
                "type": "object",
                "description": "node",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/N"}}},
            }
        },
    }
    root = clean_schema_for_gemini(schema)["properties"]["root"]
    assert root["description"] == "node"
    assert root["properties"]["kids"]["items"] == {"type": "OBJECT", "description": "node"}


def test_unsupported_keywords_removed():
    out = props(
        {
            "a": {
                "type": "object",
                "properties": {"b": {"type": "string"}},
                "additionalProperties": False,
                "patternProperties": {"^x": {}},
                "propertyNames": {"pattern": "x"},
                "$comment": "c",
                "unevaluatedProperties": False,
                "dependentRequired": {},
                "if": {},
                "then": {},
                "else": {},
                "not": {},
                "readOnly": True,
                "deprecated": True,
                "x-ext": 1,
            }
        }
    )
    assert out["a"] == {"type": "OBJECT", "properties": {"b": {"type": "STRING"}}}


def test_required_keeps_only_existing_properties():
    out = clean_schema_for_gemini(
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b", "a"]}
    )
    assert out["required"] == ["a"]


def test_non_string_enums_become_strings_on_string_type():
    out = props(
        {
            "lvl": {"type": "integer", "enum": [1, 2], "default": 1, "minimum": 0},
            "m": {"enum": ["a", None, 2.5]},
        }
    )
    assert out["lvl"] == {"type": "STRING", "enum": ["1", "2"], "default": "1"}
    assert out["m"] == {"type": "STRING", "enum": ["a", "2.5"], "nullable": True}


def test_boolean_enum_of_both_values_keeps_boolean_type():
    assert props({"b": {"type": "boolean", "enum": [True, False]}})["b"] == {"type": "BOOLEAN"}


def test_only_gemini_formats_survive():
    out = props(
        {
            "u": {"type": "string", "format": "uri"},
            "d": {"type": "string", "format": "date-time"},
            "i": {"type": "integer", "format": "int64"},
            "f": {"type": "number", "format": "int32"},
        }
    )
    assert [p.get("format") for p in out.values()] == [None, "date-time", "int64", None]


def test_empty_object_has_no_properties_key():
    assert props({"o": {"type": "object", "properties": {}}})["o"] == {"type": "OBJECT"}
    assert clean_schema_for_gemini({"type": "object", "properties": {}}) == {"type": "OBJECT"}
    assert clean_schema_for_gemini(None) == {"type": "OBJECT"}


def test_array_without_items_gets_items():
    assert props({"a": {"type": "array"}})["a"] == {"type": "ARRAY", "items": {"type": "STRING"}}


def test_tuple_items_become_one_item_or_union():
    out = props(
        {
            "p": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "s": {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]},
        }
    )
    assert out["p"]["items"] == {"type": "NUMBER"}
    assert out["s"]["items"] == {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}]}


def test_malformed_nodes_are_normalized():
    out = clean_schema_for_gemini(
        {
            "type": "object",
            "properties": {
                "a": "string",
                "b": "free text",
                "c": ["string", "null"],
                "d": {"type": "object", "properties": "oops"},
                "e": {"type": "object", "properties": [{"name": "x", "type": "int"}]},
                "f": 3,
                "g": None,
            },
            "required": "a",
        }
    )
    assert violations(out) == []
    p = out["properties"]
    assert p["a"] == {"type": "STRING"}
    assert p["b"] == {"type": "STRING", "description": "free text"}
    assert p["c"] == {"type": "STRING", "nullable": True}
    assert p["d"] == {"type": "OBJECT"}
    assert p["e"] == {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}}


def test_bare_property_maps_and_boolean_required_are_repaired():
    out = clean_schema_for_gemini(
        {"type": "object", "ws": {"type": "string", "required": True}, "n": {"type": "integer"}}
    )
    assert out == {
        "type": "OBJECT",
        "properties": {"ws": {"type": "STRING"}, "n": {"type": "INTEGER"}},
        "required": ["ws"],
    }


def test_top_level_union_of_objects_becomes_one_object():
    out = clean_schema_for_gemini(
        {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "f": {"type": "string"}},
                    "required": ["id", "f"],
                },
                {
                    "type": "object",
                    "properties": {"email": {"type": "string"}, "f": {"type": "string"}},
                    "required": ["email", "f"],
                },
            ]
        }
    )
    assert out == {
        "type": "OBJECT",
        "properties": {"id": {"type": "STRING"}, "f": {"type": "STRING"}, "email": {"type": "STRING"}},
        "required": ["f"],
    }


def test_exponential_refs_stay_bounded():
    defs = {
        f"L{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/L{i + 1}"}, "b": {"$ref": f"#/$defs/L{i + 1}"}},
        }
        for i in range(40)
    }
    defs["L40"] = {"type": "string"}
    out = clean_schema_for_gemini(
        {"type": "object", "properties": {"x": {"$ref": "#/$defs/L0"}}, "$defs": defs}
    )
    assert violations(out) == []


def test_gemini_profile_aliases():
    schema = {"type": "object", "properties": {"a": {"const": 1}}}
    assert (
        clean_schema(schema, "antigravity")
        == clean_schema(schema, "gemini")
        == clean_schema_for_gemini(schema)
    )


def test_claude_profile_makes_top_level_object_and_keeps_the_rest():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"a": {"const": 1}},
        "additionalProperties": False,
    }
    out = clean_schema_for_claude(schema)
    assert out == {**schema, "type": "object"}
    assert "type" not in schema
    assert clean_schema_for_claude(None) == {"type": "object", "properties": {}}


def test_claude_profile_folds_top_level_union():
    out = clean_schema(
        {
            "anyOf": [
                {"$ref": "#/$defs/A"},
                {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]},
            ],
            "$defs": {"A": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}},
        },
        "claude",
    )
    assert out["type"] == "object" and set(out["properties"]) == {"a", "b"} and "anyOf" not in out
    assert "required" not in out


def test_validator_catches_what_gemini_rejects():
    bad = {
        "type": "OBJECT",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "ARRAY"},
            "c": {"type": "STRING", "enum": [1]},
            "d": {"type": "OBJECT", "properties": {}},
            "e": {"type": "STRING", "const": "x"},
            "f": {"type": "INTEGER", "format": "uri"},
            "g": {"description": "no type"},
        },
        "required": ["zz"],
        "additionalProperties": False,
    }
    found = "\n".join(violations(bad))
    for needle in (
        "bad type 'string'",
        "ARRAY without items",
        "enum values must all be strings",
        "must be a non-empty map",
        "unknown field 'const'",
        "format 'uri'",
        "type missing",
        "missing property 'zz'",
        "unknown field 'additionalProperties'",
    ):
        assert needle in found
