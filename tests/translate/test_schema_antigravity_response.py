"""The ``antigravity-response`` schema profile: CPA's ``CleanJSONSchemaForAntigravityResponse``
cases (internal/util/gemini_schema_test.go), with the same inputs and facts, and the
placeholder-mode cases of ``CleanJSONSchemaForAntigravity`` that we do not follow.

A structured answer's schema is a contract with the client: the declared types, enums,
``nullable`` and ``additionalProperties: false`` stay; only what Cloud Code ignores or
refuses moves into the description.
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate.schema import clean_schema


def clean(schema: dict[str, Any]) -> dict[str, Any]:
    return clean_schema(schema, "antigravity-response")


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def test_response_gets_no_tool_placeholders_and_keeps_metadata() -> None:
    """TestCleanJSONSchemaForAntigravityResponseDoesNotAddToolPlaceholders."""
    assert clean({"type": "object"}) == {"type": "object"}
    schema = {
        **obj(
            empty={"type": "object"},
            optional=obj(value={"type": "string"}),
        ),
        "title": "Response",
        "nullable": True,
    }
    assert clean(schema) == schema


def test_response_unions_become_their_nullable_branch() -> None:
    """TestCleanJSONSchemaForAntigravityResponseProjectsIgnoredUnions."""
    out = clean(
        obj(
            action={"anyOf": [{**obj(name={"type": "string"}), "required": ["name"]}, {"type": "null"}]},
            label={"oneOf": [{"type": "string"}, {"type": "null"}]},
        )
    )
    action, label = out["properties"]["action"], out["properties"]["label"]
    assert "anyOf" not in action and "oneOf" not in label
    assert (action["type"], action["nullable"], action["required"]) == ("object", True, ["name"])
    assert (label["type"], label["nullable"]) == ("string", True)


def test_response_keeps_closed_objects_closed() -> None:
    """TestCleanJSONSchemaForAntigravityResponsePreservesAdditionalPropertiesFalse: the tool
    profile says it in words instead; an open map or value schema goes."""
    nested = {**obj(age={"type": "integer"}), "additionalProperties": False}
    schema = {**obj(name={"type": "string"}, nested=nested), "additionalProperties": False}
    assert clean(schema) == schema
    tool = clean_schema(schema, "antigravity-tool")
    assert "additionalProperties" not in tool and tool["description"] == "No extra properties allowed"
    open_map = {
        **obj(map={"type": "object", "additionalProperties": {"type": "string"}}),
        "additionalProperties": True,
    }
    assert clean(open_map) == obj(map={"type": "object"})


def test_response_enum_keeps_its_declared_type() -> None:
    """TestCleanJSONSchemaForAntigravityResponsePreservesEnumType: members become strings (all
    the backend reads) but a number stays a number, so the answer holds ``0.5``, not ``"0.5"``."""
    out = clean(
        obj(conviction={"type": "number", "enum": [0.25, 0.5, 1]}, count={"type": "integer", "enum": [1, 2]})
    )
    conviction, count = out["properties"]["conviction"], out["properties"]["count"]
    assert (conviction["type"], conviction["enum"]) == ("number", ["0.25", "0.5", "1"])
    assert (count["type"], count["enum"]) == ("integer", ["1", "2"])


def test_response_boolean_enum_becomes_a_hint() -> None:
    """TestCleanJSONSchemaForAntigravityResponseDropsIgnoredBooleanEnum."""
    out = clean({**obj(value={"type": "boolean", "enum": ["true"]}), "required": ["value"]})
    assert out["properties"]["value"] == {"type": "boolean", "description": "Allowed: true"}
    assert out["required"] == ["value"]


def test_response_conditional_adds_but_never_replaces() -> None:
    """TestCleanJSONSchemaForAntigravityResponseConditionalCannotOverwriteParent."""
    action = {**obj(full={"type": "string"}), "required": ["full"]}
    schema = {
        **obj(kind={"type": "string"}, action=action),
        "required": ["kind", "action"],
        "allOf": [
            {
                "if": obj(kind={"const": "skip"}),
                "then": obj(action={"type": "null"}, branch_only={"type": "integer"}),
            }
        ],
    }
    out = clean(schema)
    assert out["properties"]["action"] == action
    assert out["properties"]["branch_only"] == {"type": "integer"}
    assert not {"allOf", "if", "then"} & set(out)


def test_response_local_ref_is_inlined() -> None:
    """TestCleanJSONSchemaForAntigravityResponseInlinesLocalRef."""
    payload = {**obj(id={"type": "integer"}), "required": ["id"]}
    schema = {
        "$defs": {"Payload": payload},
        **obj(payload={"$ref": "#/$defs/Payload"}),
        "required": ["payload"],
    }
    assert clean(schema) == {**obj(payload=payload), "required": ["payload"]}


def test_response_type_list_uses_native_nullable() -> None:
    """TestCleanJSONSchemaForAntigravityResponseTypeArrayUsesNativeNullable: the property
    stays required."""
    out = clean({**obj(value={"type": ["number", "null"]}), "required": ["value"]})
    value = out["properties"]["value"]
    assert (value["type"], value["nullable"], out["required"]) == ("number", True, ["value"])


def test_response_ignored_constraints_become_hints() -> None:
    """TestCleanJSONSchemaForAntigravityResponseHintsIgnoredConstraints."""
    out = clean(obj(value={"type": "number", "minimum": 1, "maximum": 2, "not": {"enum": [1.5]}}))
    assert out["properties"]["value"] == {
        "type": "number",
        "description": 'minimum: 1 (maximum: 2) (not: {"enum":[1.5]})',
    }


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},
        {"type": "object", "properties": {}},
        {"type": "object", "description": "An empty object"},
        obj(items={"type": "array", "items": {"type": "object"}}),
    ],
    ids=["bare", "empty-properties", "with-description", "nested"],
)
def test_tool_schemas_get_no_reason_placeholder(schema: dict[str, Any]) -> None:
    """Difference, on purpose: TestCleanJSONSchemaForAntigravity_EmptySchemaPlaceholder,
    TestCleanJSONSchemaForAntigravity_EmptyPropertiesPlaceholder,
    TestCleanJSONSchemaForAntigravity_EmptySchemaWithDescription and
    TestCleanJSONSchemaForAntigravity_NestedEmptySchema assert the required ``reason``
    property CPA adds in Claude's VALIDATED mode, which we do not use (it overrides the
    client's tool_choice; see the note closing tests/providers/test_antigravity_cpa_executor.py).
    An empty object stays empty, its description kept; the model is not made to invent a
    reason. TestCleanJSONSchemaForAntigravity_NonEmptySchemaUnchanged holds as CPA has it."""
    out = clean_schema(schema, "antigravity-tool")
    assert "reason" not in str(out) and "required" not in str(out)
    assert out.get("description") == schema.get("description")
    named = clean_schema({**obj(name={"type": "string"}), "required": ["name"]}, "antigravity-tool")
    assert named == {**obj(name={"type": "string"}), "required": ["name"]}


def test_single_key_wrapper_is_a_parameters_schema() -> None:
    """TestCleanJSONSchema_SingleKeySchemaWrapper, with a difference on purpose: CPA's cleaner
    takes any document and keeps the ``schema`` key at the top; ours is handed the parameters
    themselves, whose top is an object, so the untyped ``{"schema": ...}`` is a bare property
    map and ``schema`` becomes a property. What lies under it is repaired as in CPA: ``data``
    is an object whose ``parent`` is a required string."""
    inner = obj(data={"parent": {"type": "string", "required": True}})
    out = clean_schema({"schema": inner}, "antigravity-tool")
    data = out["properties"]["schema"]["properties"]["data"]
    assert (out["type"], data["type"], data["required"]) == ("object", "object", ["parent"])
    assert data["properties"]["parent"] == {"type": "string"}
