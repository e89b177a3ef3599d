"""Ported from CPA internal/util/gemini_schema_test.go: tool schemas cleaned for Google's
``FunctionDeclaration.parameters`` (the cases CPA runs through its Gemini cleaner).

Our cleaner (``clean_schema_for_gemini``) writes Google's Schema with upper-case types
and keeps the keywords that Schema has (``enum``, ``minLength``, ``title``...), where
CPA's also moves some into description hints; types are compared case-insensitively and
each case asserts the facts both cleaners share."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.translate.schema import clean_schema_for_gemini

from ._run import get

CPA = "gemini_schema_test.go"


def clean(schema: dict[str, Any]) -> dict[str, Any]:
    return clean_schema_for_gemini(orjson.loads(orjson.dumps(schema)))


def kind(node: Any, path: str) -> str | None:
    value = get(node, path)
    return value.lower() if isinstance(value, str) else None


def test_removes_gemini_unsupported_metadata_fields() -> None:
    """gemini_schema_test.go TestCleanJSONSchemaForGemini_RemovesGeminiUnsupportedMetadataFields."""
    out = clean(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "root-schema",
            "$comment": "root comment should be removed",
            "type": "object",
            "properties": {
                "payload": {
                    "type": "object",
                    "$comment": "nested comment should be removed",
                    "prefill": "hello",
                    "properties": {
                        "mode": {
                            "type": "string",
                            "enum": ["a", "b"],
                            "enumDescriptions": ["Alpha", "Beta"],
                            "enumTitles": ["A", "B"],
                        }
                    },
                    "patternProperties": {"^x-": {"type": "string"}},
                },
                "$id": {"type": "string", "description": "property name should not be removed"},
                "$comment": {"type": "string", "description": "property name should not be removed"},
                "enumDescriptions": {"type": "array", "description": "property name should not be removed"},
            },
        }
    )
    for key in ("$schema", "$id", "$comment"):
        assert key not in out
    payload = out["properties"]["payload"]
    for key in ("$comment", "prefill", "patternProperties"):
        assert key not in payload
    mode = payload["properties"]["mode"]
    assert mode["enum"] == ["a", "b"] and "enumDescriptions" not in mode and "enumTitles" not in mode
    for name in ("$id", "$comment", "enumDescriptions"):
        assert out["properties"][name]["description"] == "property name should not be removed"


@pytest.mark.parametrize(
    ("schema", "gone"),
    [
        (
            {"type": "object", "x-custom-meta": "value", "properties": {"foo": {"type": "string"}}},
            ["x-custom-meta"],
        ),
        (
            {"type": "object", "properties": {"foo": {"type": "string", "x-internal": True}}},
            ["properties.foo.x-internal"],
        ),
    ],
    ids=["root", "nested"],
)
def test_remove_extension_fields(schema: dict[str, Any], gone: list[str]) -> None:
    """gemini_schema_test.go TestRemoveExtensionFields."""
    out = clean(schema)
    for path in gone:
        assert get(out, path) is None
    assert kind(out, "properties.foo.type") == "string"


def test_keeps_property_named_like_extension() -> None:
    """gemini_schema_test.go TestRemoveExtensionFields (a property named x-... is a name, not a field)."""
    out = clean({"type": "object", "properties": {"x-header": {"type": "string"}}})
    assert kind(out, "properties.x-header.type") == "string"


def test_unique_items_stripped() -> None:
    """gemini_schema_test.go TestCleanJSONSchemaForAntigravity_UniqueItemsStripped."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "ids": {
                    "type": "array",
                    "description": "Unique identifiers",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                }
            },
        }
    )
    assert "uniqueItems" not in out["properties"]["ids"]
    assert kind(out, "properties.ids.items.type") == "string"


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {
                "records": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "propertyNames": {"type": "string"},
                    },
                }
            },
        },
        {
            "type": "object",
            "properties": {"properties": {"type": "object", "propertyNames": {"type": "string"}}},
        },
        {
            "type": "object",
            "properties": {
                "pages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "properties": {
                                "type": "object",
                                "propertyNames": {"type": "string"},
                                "additionalProperties": True,
                            }
                        },
                        "propertyNames": {"type": "string"},
                    },
                }
            },
        },
    ],
    ids=["arrayItem", "propertyNamedProperties", "combined"],
)
def test_strips_property_names_under_property_named_properties(schema: dict[str, Any]) -> None:
    """gemini_schema_test.go TestCleanJSONSchemaStripsPropertyNamesUnderPropertyNamedProperties."""
    text = orjson.dumps(clean(schema))
    assert b'"propertyNames"' not in text
    assert b'"additionalProperties"' not in text


def test_keeps_properties_named_like_keywords() -> None:
    """gemini_schema_test.go TestCleanJSONSchemaKeepsPropertiesNamedLikeKeywords."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "propertyNames": {"type": "string"},
                "patternProperties": {"type": "string"},
                "properties": {"type": "object", "properties": {"propertyNames": {"type": "string"}}},
            },
        }
    )
    for path in (
        "properties.propertyNames",
        "properties.patternProperties",
        "properties.properties.properties.propertyNames",
    ):
        assert get(out, path) is not None, path


def test_strips_encrypted_metadata() -> None:
    """gemini_schema_test.go TestCleanJSONSchemaStripsEncryptedMetadata."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "api_key": {"type": "string", "description": "API credential", "encrypted": True},
                "timeout": {"type": "integer", "encrypted": False},
                "nested": {"type": "object", "properties": {"secret": {"type": "string", "encrypted": True}}},
            },
            "required": ["api_key"],
        }
    )
    assert b'"encrypted"' not in orjson.dumps(out)
    assert out["properties"]["api_key"]["description"] == "API credential"
    assert kind(out, "properties.nested.properties.secret.type") == "string"


def test_keeps_property_named_encrypted() -> None:
    """gemini_schema_test.go TestCleanJSONSchemaKeepsPropertyNamedEncrypted."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "encrypted": {
                    "type": "boolean",
                    "description": "Whether the payload is encrypted",
                    "encrypted": True,
                },
                "data": {"type": "string"},
            },
            "required": ["encrypted"],
        }
    )
    assert kind(out, "properties.encrypted.type") == "boolean"
    assert "encrypted" not in out["properties"]["encrypted"]
    assert out["required"] == ["encrypted"]


def test_bare_property_map_normalized() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapNormalized."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "parent": {"type": "string", "required": True},
                    "insert_after": {"type": "string"},
                    "insert_before": {"type": "string"},
                },
                "opts": {"opt_fields": {"type": "string"}},
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    for name in ("parent", "insert_after", "insert_before"):
        assert kind(out, f"properties.data.properties.{name}.type") == "string"
    assert "parent" in get(out, "properties.data.required")
    assert "required" not in out["properties"]["data"]["properties"]["parent"]
    assert kind(out, "properties.opts.type") == "object"
    assert kind(out, "properties.opts.properties.opt_fields.type") == "string"


def test_nested_bare_property_map() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_NestedBarePropertyMap."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "workspace": {"type": "string", "required": True},
                    "task": {"name": {"type": "string", "required": True}, "notes": {"type": "string"}},
                }
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    assert kind(out, "properties.data.properties.task.type") == "object"
    assert kind(out, "properties.data.properties.task.properties.name.type") == "string"
    assert "workspace" in get(out, "properties.data.required")
    assert "name" in get(out, "properties.data.properties.task.required")


def test_bare_property_map_with_keyword_names() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapWithKeywordNames."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "title": {"type": "string", "required": True},
                    "description": {"type": "string"},
                    "format": {"type": "string"},
                    "type": {"type": "string"},
                }
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    for name in ("title", "description", "type"):
        assert kind(out, f"properties.data.properties.{name}.type") == "string", name
    assert "title" in get(out, "properties.data.required")


def test_array_items_bare_property_map() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_ArrayItemsBarePropertyMap."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "items": {"id": {"type": "string", "required": True}, "label": {"type": "string"}},
                }
            },
        }
    )
    assert kind(out, "properties.tasks.items.type") == "object"
    assert kind(out, "properties.tasks.items.properties.id.type") == "string"
    assert "id" in get(out, "properties.tasks.items.required")


def test_boolean_required_promoted() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BooleanRequiredPromoted."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "existing": {"type": "string"},
                "name": {"type": "string", "required": True},
                "age": {"type": "integer", "required": False},
                "tag": {"type": "string"},
            },
            "required": ["existing"],
        }
    )
    assert sorted(out["required"]) == ["existing", "name"]
    for name in ("name", "age"):
        assert "required" not in out["properties"][name]


def test_preserves_large_number_precision() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_PreservesLargeNumberPrecision."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "big_int": {"type": "integer", "minimum": 9007199254740993},
                "bare_child": {"sub": {"type": "string"}},
            },
        }
    )
    assert b"9007199254740993" in orjson.dumps(out)


def test_bare_property_map_with_request_and_tools_names() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapWithRequestAndToolsNames."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "request": {"method": {"type": "string", "required": True}, "url": {"type": "string"}},
                    "headers": {"authorization": {"type": "string"}},
                    "tools": {"name": {"type": "string"}},
                }
            },
        }
    )
    for name in ("headers", "tools", "request"):
        assert kind(out, f"properties.data.properties.{name}.type") == "object", name
    assert kind(out, "properties.data.properties.request.properties.method.type") == "string"
    assert "method" in get(out, "properties.data.properties.request.required")


def test_bare_property_map_with_sibling_description() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapWithSiblingDescription."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "description": "Task payload",
                    "parent": {"type": "string", "required": True},
                    "insert_after": {"type": "string"},
                }
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    assert get(out, "properties.data.description") == "Task payload"
    assert kind(out, "properties.data.properties.insert_after.type") == "string"
    assert "parent" in get(out, "properties.data.required")


def test_bare_property_map_with_explicit_type_object() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapWithExplicitTypeObject."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {
                    "type": "object",
                    "parent": {"type": "string", "required": True},
                    "insert_after": {"type": "string"},
                }
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    assert kind(out, "properties.data.properties.parent.type") == "string"
    assert "parent" in get(out, "properties.data.required")


def test_bare_property_map_with_nullable() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_BarePropertyMapWithNullable."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {"nullable": True, "description": "Task payload", "parent": {"type": "string"}}
            },
        }
    )
    assert kind(out, "properties.data.type") == "object"
    assert kind(out, "properties.data.properties.parent.type") == "string"


def test_preserves_html_characters_without_escaping() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_PreservesHTMLCharactersWithoutEscaping."""
    out = clean(
        {
            "type": "object",
            "properties": {
                "data": {"description": "Uses <tag> & symbols > threshold", "parent": {"type": "string"}}
            },
        }
    )
    text = orjson.dumps(out).decode()
    assert "<tag>" in text and "& symbols >" in text and "\\u003c" not in text


def test_vendor_extension_on_enum_not_wrapped_into_properties() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_VendorExtensionOnEnumNotWrappedIntoProperties (as a
    property: our cleaner makes a declaration's root an object, as Gemini requires)."""
    enum = {
        "type": "string",
        "enum": ["FOO", "BAR"],
        "x-google-enum-descriptions": {"FOO": "Foo option", "BAR": "Bar option"},
    }
    out = clean({"type": "object", "properties": {"mode": enum}})
    mode = out["properties"]["mode"]
    assert "properties" not in mode and "x-google-enum-descriptions" not in mode
    assert kind(mode, "type") == "string" and mode["enum"] == ["FOO", "BAR"]


def test_object_default_not_wrapped_into_properties() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_ObjectDefaultNotWrappedIntoProperties."""
    out = clean(
        {
            "type": "object",
            "properties": {"settings": {"type": "object", "default": {"theme": "dark", "lang": "en"}}},
        }
    )
    assert get(out, "properties.settings.properties.default") is None


def test_mixed_properties_and_orphan_bare_property() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_MixedPropertiesAndOrphanBareProperty."""
    out = clean(
        {
            "type": "object",
            "properties": {"foo": {"type": "string"}},
            "bar": {"type": "integer", "required": True},
        }
    )
    assert kind(out, "properties.foo.type") == "string"
    assert kind(out, "properties.bar.type") == "integer"
    assert "bar" in out["required"] and "bar" not in out


def test_preserves_additional_properties_object_schema() -> None:
    """gemini_schema_test.go TestCleanJSONSchema_PreservesAdditionalPropertiesObjectSchema: the schema of
    ``additionalProperties`` is not taken for a property (Google's Schema has no
    ``additionalProperties``: it is left out)."""
    out = clean({"additionalProperties": {"type": "string"}})
    assert get(out, "properties.additionalProperties") is None
