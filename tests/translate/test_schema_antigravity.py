"""The ``antigravity-tool`` schema profile: CPA's ``CleanJSONSchemaForAntigravityTool``
cases (internal/util/gemini_schema_test.go), ported with the same inputs and facts.

CPA runs most of those cases with Claude's VALIDATED placeholders on
(``CleanJSONSchemaForAntigravity``); we do not implement that mode, so the ``_`` /
``reason`` placeholder properties and the kept ``title`` of that mode are not asserted, and
its placeholder-only cases are not ported. Everything else is asserted as CPA does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.translate.schema import clean_schema, clean_schema_for_antigravity
from cliproxy.translate.schema._antigravity import ANTIGRAVITY_TOOL_KEYS

CORPUS = sorted((Path(__file__).parent / "data" / "tool_schemas").glob("*.json"))


def clean(schema: dict[str, Any]) -> dict[str, Any]:
    return clean_schema(schema, "antigravity-tool")


def text(schema: dict[str, Any]) -> str:
    return orjson.dumps(schema).decode()


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


# ---------------------------------------------------------------- enums and types


def test_const_to_enum_becomes_a_hint():
    """TestCleanJSONSchemaForAntigravity_ConstToEnum."""
    out = clean(obj(kind={"type": "string", "const": "InsightVizNode"}))
    assert out == obj(kind={"type": "string", "description": "Allowed: InsightVizNode"})


def test_enum_hint_lists_the_values():
    """TestCleanJSONSchemaForAntigravity_EnumHint."""
    schema = obj(
        status={"type": "string", "enum": ["active", "inactive", "pending"], "description": "Current status"}
    )
    status = clean(schema)["properties"]["status"]
    assert status == {"type": "string", "description": "Current status (Allowed: active, inactive, pending)"}


def test_single_enum_becomes_a_hint():
    """TestCleanJSONSchemaForAntigravity_SingleEnumBecomesHint."""
    kind = clean(obj(kind={"type": "string", "enum": ["fixed"]}))["properties"]["kind"]
    assert "enum" not in kind and "Allowed: fixed" in kind["description"]


def test_tool_enums_become_hints_and_keep_their_types():
    """TestCleanJSONSchemaForAntigravity_ToolEnumsBecomeHints: the backend ignores argument
    enums but writes arguments of the declared type."""
    out = clean(
        obj(
            priority={"type": "integer", "enum": [0, 1, 2]},
            level={"type": "number", "enum": [1.5, 2.5, 3.5]},
            status={"type": "string", "enum": ["active", "inactive"]},
        )
    )
    for name, kind in (("priority", "integer"), ("level", "number"), ("status", "string")):
        prop = out["properties"][name]
        assert prop["type"] == kind, name
        assert "enum" not in prop and "Allowed:" in prop["description"], name
    assert out["properties"]["priority"]["description"] == "Allowed: 0, 1, 2"
    assert out["properties"]["level"]["description"] == "Allowed: 1.5, 2.5, 3.5"


def test_boolean_enum_becomes_a_typed_hint():
    """TestCleanJSONSchemaForAntigravity_BooleanToolEnumBecomesHint."""
    enabled = clean(obj(enabled={"type": "boolean", "enum": [True, False]}))["properties"]["enabled"]
    assert enabled == {"type": "boolean", "description": "Allowed: true, false"}


def test_numeric_enum_keeps_its_type():
    """TestCleanJSONSchemaForAntigravityToolKeepsNumericEnumType (placeholder off)."""
    schema = {
        "type": "object",
        "properties": {"value": {"type": "number", "enum": [1, 2]}},
        "required": ["value"],
    }
    out = clean(schema)
    assert out["properties"]["value"] == {"type": "number", "description": "Allowed: 1, 2"}
    assert out["required"] == ["value"]


def test_long_enums_are_dropped_without_a_hint():
    """addEnumHints hints two to ten members; dropIgnoredEnumsToHints drops every enum."""
    values = [str(i) for i in range(11)]
    prop = clean(obj(n={"type": "string", "enum": values}))["properties"]["n"]
    assert prop == {"type": "string"}


# ---------------------------------------------------------------- type lists and unions


def test_type_list_with_null_becomes_nullable_and_stays_required():
    """TestCleanJSONSchemaForAntigravity_TypeFlattening_Nullable and
    TestCleanJSONSchemaForAntigravity_TypeFlattening_Nullable_DotKey:
    Antigravity keeps native nullable, so the property stays required."""
    for name in ("name", "my.param"):
        schema = {
            "type": "object",
            "properties": {name: {"type": ["string", "null"]}, "other": {"type": "string"}},
            "required": [name, "other"],
        }
        assert clean(schema) == {
            "type": "object",
            "properties": {
                name: {"type": "string", "nullable": True, "description": "(nullable)"},
                "other": {"type": "string"},
            },
            "required": [name, "other"],
        }


def test_nullable_hint_keeps_the_description():
    """TestCleanJSONSchemaForAntigravity_NullableHint."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": ["string", "null"], "description": "User name"}},
        "required": ["name"],
    }
    name = clean(schema)["properties"]["name"]
    assert name["description"] == "User name ((nullable))"
    assert "User name" in name["description"] and "(nullable)" in name["description"]


def test_several_types_keep_the_first_and_hint_all():
    """TestCleanJSONSchemaForAntigravity_MultipleNonNullTypes."""
    value = clean(obj(value={"type": ["string", "integer", "boolean"]}))["properties"]["value"]
    assert value == {"type": "string", "description": "Accepts: string | integer | boolean"}


def test_any_of_picks_the_object_and_becomes_nullable():
    """TestCleanJSONSchemaForAntigravity_AnyOfFlattening_SmartSelection (without the
    VALIDATED ``_`` placeholder)."""
    schema = obj(
        query={"anyOf": [{"type": "null"}, {"type": "object", "properties": {"kind": {"type": "string"}}}]}
    )
    assert clean(schema) == obj(
        query={
            "type": "object",
            "nullable": True,
            "description": "Accepts: null | object",
            "properties": {"kind": {"type": "string"}},
        }
    )


def test_one_of_keeps_the_first_scalar():
    """TestCleanJSONSchemaForAntigravity_OneOfFlattening."""
    out = clean(obj(config={"oneOf": [{"type": "string"}, {"type": "integer"}]}))
    assert out == obj(config={"type": "string", "description": "Accepts: string | integer"})


def test_any_of_hints_every_alternative():
    """TestCleanJSONSchemaForAntigravity_AnyOfAlternativeHints."""
    value = clean(obj(value={"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}))
    assert value["properties"]["value"] == {
        "type": "string",
        "nullable": True,
        "description": "Accepts: string | integer | null",
    }


def test_any_of_keeps_the_parent_description_first():
    """TestCleanJSONSchemaForAntigravity_AnyOfFlattening_PreservesDescription."""
    schema = obj(
        config={
            "description": "Parent desc",
            "anyOf": [{"type": "string", "description": "Child desc"}, {"type": "integer"}],
        }
    )
    assert clean(schema) == obj(
        config={"type": "string", "description": "Parent desc (Child desc) (Accepts: string | integer)"}
    )


# ---------------------------------------------------------------- merging and refs


def test_all_of_merges_properties_and_required():
    """TestCleanJSONSchemaForAntigravity_AllOfMerging and
    TestCleanJSONSchemaForAntigravity_AllOfMerging_DotKeys."""
    for name in ("a", "my.param"):
        schema = {
            "type": "object",
            "allOf": [
                {"properties": {name: {"type": "string"}}, "required": [name]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            ],
        }
        assert clean(schema) == {
            "type": "object",
            "properties": {name: {"type": "string"}, "b": {"type": "integer"}},
            "required": [name, "b"],
        }


def test_local_ref_is_inlined():
    """TestCleanJSONSchemaForAntigravity_RefHandling (without the ``_`` placeholder)."""
    schema = {
        "definitions": {"User": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "type": "object",
        "properties": {"customer": {"$ref": "#/definitions/User"}},
    }
    assert clean(schema) == obj(customer={"type": "object", "properties": {"name": {"type": "string"}}})


def test_ref_sibling_description_is_kept_as_written():
    """TestCleanJSONSchemaForAntigravity_RefHandling_DescriptionEscaping."""
    desc = 'He said "hi"\\nsecond line'
    schema = {
        "definitions": {"User": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "type": "object",
        "properties": {"customer": {"description": desc, "$ref": "#/definitions/User"}},
    }
    assert clean(schema) == obj(
        customer={"type": "object", "description": desc, "properties": {"name": {"type": "string"}}}
    )


def test_cyclic_ref_becomes_a_typed_hint():
    """TestCleanJSONSchemaForAntigravity_CyclicRefDefaults."""
    schema = {
        "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}},
        "$ref": "#/definitions/Node",
    }
    out = clean(schema)
    assert out["type"] == "object"
    child = out["properties"]["child"]
    assert child["type"] == "object" and "Node" in child["description"]


def test_unresolvable_ref_keeps_its_siblings_and_says_where_it_pointed():
    """convertRefsToHints with Antigravity semantics: the ref goes, its siblings stay."""
    schema = obj(
        item={"$ref": "https://example.com/schemas/Item", "type": "string", "description": "An item"}
    )
    assert clean(schema) == obj(item={"type": "string", "description": "An item (See: Item)"})


def test_dotted_property_with_ref_is_resolved():
    """TestCleanJSONSchemaForAntigravity_DotKeys."""
    schema = {
        "type": "object",
        "properties": {"my.param": {"type": "string", "$ref": "#/definitions/MyType"}},
        "definitions": {"MyType": {"type": "string"}},
    }
    props = clean(schema)["properties"]
    assert "$ref" not in props["my.param"] and "my" not in props


def test_required_keeps_only_declared_properties():
    """TestCleanJSONSchemaForAntigravity_RequiredCleanup."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a", "b", "c"],
    }
    assert clean(schema)["required"] == ["a", "b"]


def test_property_named_like_a_constraint_is_a_property():
    """TestCleanJSONSchemaForAntigravity_PropertyNameCollision."""
    schema = {
        "type": "object",
        "properties": {"pattern": {"type": "string", "description": "The regex pattern"}},
        "required": ["pattern"],
    }
    assert clean(schema) == schema


# ---------------------------------------------------------------- constraints as hints


def test_constraints_move_into_the_description():
    """TestCleanJSONSchemaForAntigravity_ConstraintsToDescription."""
    out = text(
        clean(
            obj(
                tags={"type": "array", "description": "List of tags", "minItems": 1},
                name={"type": "string", "description": "User name", "minLength": 3},
            )
        )
    )
    assert '"minItems"' not in out and "minItems: 1" in out
    assert '"minLength"' not in out and "minLength: 3" in out


def test_closed_object_is_hinted():
    """TestCleanJSONSchemaForAntigravity_AdditionalPropertiesHint."""
    out = clean({"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False})
    assert out["description"] == "No extra properties allowed" and "additionalProperties" not in out


@pytest.mark.parametrize(
    ("fmt", "desc"), [("uri", "A URL"), ("email", None)], ids=["with-description", "without-description"]
)
def test_format_moves_into_the_description(fmt: str, desc: str | None):
    """TestCleanJSONSchemaForAntigravity_FormatFieldRemoval and
    TestCleanJSONSchemaForAntigravity_FormatFieldNoDescription."""
    prop: dict[str, Any] = {"type": "string", "format": fmt}
    if desc:
        prop["description"] = desc
    out = text(clean(obj(value=prop)))
    assert '"format"' not in out and f"format: {fmt}" in out
    assert desc is None or desc in out


def test_every_format_is_hinted():
    """TestCleanJSONSchemaForAntigravity_MultipleFormats."""
    out = text(
        clean(
            obj(
                url={"type": "string", "format": "uri"},
                email={"type": "string", "format": "email"},
                date={"type": "string", "format": "date-time"},
            )
        )
    )
    assert '"format"' not in out
    for fmt in ("uri", "email", "date-time"):
        assert f"format: {fmt}" in out


def test_unique_items_is_hinted():
    """TestCleanJSONSchemaForAntigravity_UniqueItemsStripped."""
    schema = obj(
        ids={
            "type": "array",
            "description": "Unique identifiers",
            "items": {"type": "string"},
            "uniqueItems": True,
        }
    )
    out = text(clean(schema))
    assert '"uniqueItems"' not in out and "uniqueItems: true" in out


def test_numeric_bounds_and_not_are_hinted():
    """constraintKeywords with Antigravity semantics (minimum, maximum, multipleOf) and
    moveNotToDescription, as TestCleanJSONSchemaForAntigravityResponseHintsIgnoredConstraints
    asserts them for the response cleaner."""
    value = clean(obj(value={"type": "number", "minimum": 1, "maximum": 2, "not": {"enum": [1.5]}}))
    value = value["properties"]["value"]
    assert value == {"type": "number", "description": 'minimum: 1 (maximum: 2) (not: {"enum":[1.5]})'}


# ---------------------------------------------------------------- keywords the backend refuses


@pytest.mark.parametrize(
    "schema",
    [
        obj(
            records={
                "type": "array",
                "items": {**obj(name={"type": "string"}), "propertyNames": {"type": "string"}},
            }
        ),
        obj(properties={"type": "object", "propertyNames": {"type": "string"}}),
        obj(
            pages={
                "type": "array",
                "items": {
                    **obj(
                        properties={
                            "type": "object",
                            "propertyNames": {"type": "string"},
                            "additionalProperties": True,
                        }
                    ),
                    "propertyNames": {"type": "string"},
                },
            }
        ),
    ],
    ids=["arrayItem", "propertyNamedProperties", "combined"],
)
def test_property_names_and_additional_properties_are_stripped(schema: dict[str, Any]):
    """TestCleanJSONSchemaStripsPropertyNamesUnderPropertyNamedProperties."""
    out = text(clean(schema))
    assert '"propertyNames"' not in out and '"additionalProperties"' not in out


def test_properties_named_like_keywords_are_kept():
    """TestCleanJSONSchemaKeepsPropertiesNamedLikeKeywords."""
    schema = obj(
        propertyNames={"type": "string"},
        patternProperties={"type": "string"},
        properties=obj(propertyNames={"type": "string"}),
    )
    props = clean(schema)["properties"]
    assert {"propertyNames", "patternProperties", "properties"} <= set(props)
    assert "propertyNames" in props["properties"]["properties"]


def test_encrypted_markers_are_stripped():
    """TestCleanJSONSchemaStripsEncryptedMetadata (the antigravityTool cleaner) and
    TestCleanJSONSchemaKeepsPropertyNamedEncrypted."""
    schema = {
        "type": "object",
        "properties": {
            "api_key": {"type": "string", "description": "API credential", "encrypted": True},
            "timeout": {"type": "integer", "encrypted": False},
            "nested": obj(secret={"type": "string", "encrypted": True}),
            "encrypted": {
                "type": "boolean",
                "description": "Whether the payload is encrypted",
                "encrypted": True,
            },
        },
        "required": ["api_key"],
    }
    out = clean(schema)
    props = out["properties"]
    assert props["api_key"] == {"type": "string", "description": "API credential"}
    assert props["nested"]["properties"]["secret"] == {"type": "string"}
    assert props["encrypted"] == {"type": "boolean", "description": "Whether the payload is encrypted"}


def test_extension_fields_are_stripped_but_not_properties_named_x():
    """TestRemoveExtensionFields (x-* removal is part of removeUnsupportedKeywords); unlike
    that helper alone, the whole cleaner also drops ``$schema`` and ``$id``."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "test",
        "type": "object",
        "x-custom-meta": "value",
        "x-root.meta": "remove",
        "properties": {
            "x-data": {"type": "string"},
            "normal": {"type": "number", "x-meta": "remove"},
            "foo.bar": {"type": "string", "x-meta": "remove"},
            "$schema": {"type": "string"},
        },
        "required": ["x-data"],
    }
    assert clean(schema) == {
        "type": "object",
        "properties": {
            "x-data": {"type": "string"},
            "normal": {"type": "number"},
            "foo.bar": {"type": "string"},
            "$schema": {"type": "string"},
        },
        "required": ["x-data"],
    }


def test_title_is_removed_outside_validated_mode():
    """removeToolTitle (requirePlaceholder=false): a schema's title goes, a property named
    title stays."""
    schema = {"type": "object", "title": "Args", "properties": {"title": {"type": "string", "title": "T"}}}
    assert clean(schema) == obj(title={"type": "string"})


# ---------------------------------------------------------------- conditionals


def test_root_conditionals_add_their_properties():
    """TestCleanJSONSchema_ConditionalKeywords, root if/then/else."""
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["buy", "sell"]}},
        "required": ["kind"],
        "if": {"properties": {"kind": {"const": "sell"}}},
        "then": {
            "properties": {
                "sell_reason": {"type": "string", "description": "why the position is being sold"}
            },
            "required": ["sell_reason"],
        },
        "else": {"properties": {"buy_reason": {"type": "string"}}},
    }
    out = clean(schema)
    assert not {"if", "then", "else"} & set(out)
    assert out["properties"]["sell_reason"]["description"] == "why the position is being sold"
    assert "buy_reason" in out["properties"]


def test_conditionals_inside_all_of_add_their_properties():
    """TestCleanJSONSchema_ConditionalKeywords, allOf with if/then."""
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["buy", "sell"]}},
        "required": ["kind"],
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": "sell"}}},
                "then": {
                    "properties": {
                        "sell_reason": {"type": "string", "description": "why the position is being sold"}
                    },
                    "required": ["sell_reason"],
                },
            }
        ],
    }
    out = clean(schema)
    assert "allOf" not in out and '"if":' not in text(out)
    assert out["properties"]["sell_reason"]["description"] == "why the position is being sold"


def test_nested_conditionals_add_their_properties():
    """TestCleanJSONSchema_ConditionalKeywords, a property with if/then."""
    schema = obj(
        trade={
            "type": "object",
            "properties": {"kind": {"type": "string"}},
            "if": {"properties": {"kind": {"const": "sell"}}},
            "then": {"properties": {"sell_reason": {"type": "string"}}},
        }
    )
    trade = clean(schema)["properties"]["trade"]
    assert "if" not in trade and "then" not in trade and "sell_reason" in trade["properties"]


# ---------------------------------------------------------------- malformed MCP schemas


def test_bare_property_maps_are_wrapped_and_required_flags_promoted():
    """TestCleanJSONSchema_BarePropertyMapNormalized (the antigravityTool cleaner)."""
    schema = obj(
        data={
            "parent": {"type": "string", "required": True},
            "insert_after": {"type": "string"},
            "insert_before": {"type": "string"},
        },
        opts={"opt_fields": {"type": "string"}},
    )
    props = clean(schema)["properties"]
    data = props["data"]
    assert data["type"] == "object" and "parent" in data["required"]
    for name in ("parent", "insert_after", "insert_before"):
        assert data["properties"][name] == {"type": "string"}
    assert props["opts"] == obj(opt_fields={"type": "string"})


def test_nested_bare_property_maps():
    """TestCleanJSONSchema_NestedBarePropertyMap."""
    schema = obj(
        data={
            "workspace": {"type": "string", "required": True},
            "task": {"name": {"type": "string", "required": True}, "notes": {"type": "string"}},
        }
    )
    data = clean(schema)["properties"]["data"]
    assert data["type"] == "object" and data["required"] == ["workspace"]
    task = data["properties"]["task"]
    assert task["type"] == "object" and task["required"] == ["name"]
    assert task["properties"]["name"] == {"type": "string"}


def test_bare_property_maps_with_keyword_names():
    """TestCleanJSONSchema_BarePropertyMapWithKeywordNames."""
    schema = obj(
        data={
            "title": {"type": "string", "required": True},
            "description": {"type": "string"},
            "format": {"type": "string"},
            "type": {"type": "string"},
        }
    )
    data = clean(schema)["properties"]["data"]
    assert data["type"] == "object" and "title" in data["required"]
    for name in ("title", "description", "type"):
        assert data["properties"][name]["type"] == "string", name


def test_bare_property_map_in_array_items():
    """TestCleanJSONSchema_ArrayItemsBarePropertyMap."""
    schema = obj(
        tasks={
            "type": "array",
            "items": {"id": {"type": "string", "required": True}, "label": {"type": "string"}},
        }
    )
    items = clean(schema)["properties"]["tasks"]["items"]
    assert items["type"] == "object" and items["properties"]["id"] == {"type": "string"}
    assert "id" in items["required"]


def test_boolean_required_flags():
    """TestCleanJSONSchema_BooleanRequiredPromoted."""
    schema = {
        "type": "object",
        "properties": {
            "existing": {"type": "string"},
            "name": {"type": "string", "required": True},
            "age": {"type": "integer", "required": False},
            "tag": {"type": "string"},
        },
        "required": ["existing"],
    }
    out = clean(schema)
    assert set(out["required"]) == {"existing", "name"}
    assert "required" not in out["properties"]["name"] and "required" not in out["properties"]["age"]


def test_bare_property_maps_named_like_request_documents():
    """TestCleanJSONSchema_BarePropertyMapWithRequestAndToolsNames."""
    schema = obj(
        data={
            "request": {"method": {"type": "string", "required": True}, "url": {"type": "string"}},
            "headers": {"authorization": {"type": "string"}},
            "tools": {"name": {"type": "string"}},
        }
    )
    data = clean(schema)["properties"]["data"]
    assert data["type"] == "object"
    for name in ("request", "headers", "tools"):
        assert data["properties"][name]["type"] == "object", name
    request = data["properties"]["request"]
    assert request["properties"]["method"] == {"type": "string"} and "method" in request["required"]


@pytest.mark.parametrize("declared", [False, True], ids=["sibling-description", "explicit-object"])
def test_bare_property_map_beside_keywords(declared: bool):
    """TestCleanJSONSchema_BarePropertyMapWithSiblingDescription and
    _BarePropertyMapWithExplicitTypeObject."""
    data: dict[str, Any] = {
        "parent": {"type": "string", "required": True},
        "insert_after": {"type": "string"},
    }
    data |= {"type": "object"} if declared else {"description": "Task payload"}
    out = clean(obj(data=data))["properties"]["data"]
    assert out["type"] == "object" and "parent" in out["required"]
    assert out["properties"]["insert_after"] == {"type": "string"}
    assert declared or out["description"] == "Task payload"


def test_vendor_extension_on_an_enum_is_no_property():
    """TestCleanJSONSchema_VendorExtensionOnEnumNotWrappedIntoProperties."""
    schema = {
        "type": "string",
        "enum": ["FOO", "BAR"],
        "x-google-enum-descriptions": {"FOO": "Foo option", "BAR": "Bar option"},
    }
    out = clean(schema)
    assert "properties" not in out and out["type"] == "string"


def test_object_default_is_no_property():
    """TestCleanJSONSchema_ObjectDefaultNotWrappedIntoProperties."""
    out = clean(obj(settings={"type": "object", "default": {"theme": "dark", "lang": "en"}}))
    assert "default" not in out["properties"]["settings"].get("properties", {})


def test_orphan_bare_property_joins_properties():
    """TestCleanJSONSchema_MixedPropertiesAndOrphanBareProperty."""
    schema = {
        "type": "object",
        "properties": {"foo": {"type": "string"}},
        "bar": {"type": "integer", "required": True},
    }
    out = clean(schema)
    assert out["properties"] == {"foo": {"type": "string"}, "bar": {"type": "integer"}}
    assert out["required"] == ["bar"] and "bar" not in out


# ---------------------------------------------------------------- ours


def test_gemini_type_names_become_json_schema_names():
    """A Gemini client's ``parameters`` spell types OBJECT/INTEGER; the profile writes
    JSON Schema's names, as CPA sends every Antigravity schema."""
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "enum": ["1", "2"]}}}
    assert clean(schema) == obj(n={"type": "integer", "description": "Allowed: 1, 2"})


def test_untyped_parameters_are_an_object():
    assert clean({"properties": {"a": {"type": "string"}}}) == obj(a={"type": "string"})
    assert clean_schema_for_antigravity(None) == {"type": "object"}


def test_cleaning_twice_changes_nothing():
    """TestSanitizeAntigravityRequestSchemasIsIdempotent, on the profile: hints are not
    added twice."""
    schema = obj(
        withDesc={"type": "string", "enum": ["write", "read"], "description": "pick one"},
        bare={"type": "string", "enum": ["not-started", "in-progress", "completed"]},
        compound={"type": "string", "enum": ["a", "b"], "minLength": 1},
        value={"type": ["string", "integer", "null"]},
    )
    once = clean(schema)
    assert clean(once) == once
    assert once["properties"]["compound"]["description"] == "Allowed: a, b (minLength: 1)"


def test_the_input_is_never_changed_and_results_are_cached():
    schema = obj(n={"type": "integer", "enum": [1, 2]})
    before = copy.deepcopy(schema)
    first = clean_schema_for_antigravity(schema)
    assert schema == before
    assert clean_schema_for_antigravity(copy.deepcopy(schema)) is first


def _keys_and_types(node: Any, seen: set[str], types: set[str]) -> None:
    if isinstance(node, dict):
        seen.update(node)
        if isinstance(node.get("type"), str):
            types.add(node["type"])
        for key in ("items",):
            _keys_and_types(node.get(key), seen, types)
        for child in (node.get("properties") or {}).values():
            _keys_and_types(child, seen, types)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_keeps_only_what_the_backend_takes(path: Path):
    """Real agents' tool schemas: no enum, no unsupported keyword, JSON Schema type names,
    stable on a second pass."""
    schema = json.loads(path.read_text())
    out = clean(schema)
    seen: set[str] = set()
    types: set[str] = set()
    _keys_and_types(out, seen, types)
    assert seen <= ANTIGRAVITY_TOOL_KEYS
    assert types <= {"object", "array", "string", "number", "integer", "boolean", "null"}
    assert clean(out) == out
