"""CPA TestIsPropertyDefinitionDistinguishesPropertyNamedProperties
(internal/util/gemini_schema_test.go), on what it decides: whether a key of a tool schema
is a keyword or the name of a property. CPA asks it of a path (``properties`` is a name map,
``properties.properties`` a property called "properties", ``$defs`` and
``patternProperties`` name maps like ``properties``); here the facts are asserted on the
schemas our Gemini and Antigravity cleaners send: a property called ``properties``,
``$defs`` or ``patternProperties`` is kept with its own schema, at any depth and inside
array items, while the keyword ``patternProperties`` (which Google's Schema lacks) goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from cliproxy.translate.schema import clean_schema_for_antigravity, clean_schema_for_gemini

SCHEMA = {
    "type": "object",
    "properties": {
        "properties": {
            "type": "object",
            "properties": {"properties": {"type": "string", "description": "a property called properties"}},
        },
        "$defs": {"type": "string", "description": "a property called $defs"},
        "patternProperties": {"type": "integer"},
        "records": {
            "type": "array",
            "items": {"type": "object", "properties": {"properties": {"type": "boolean"}}},
        },
        "tagged": {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
    },
}


@pytest.mark.parametrize(
    "clean", [clean_schema_for_gemini, clean_schema_for_antigravity], ids=["gemini", "antigravity"]
)
def test_properties_named_like_name_maps_are_kept(clean: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    out = clean(orjson.loads(orjson.dumps(SCHEMA)))
    props = out["properties"]
    assert set(props) == {"properties", "$defs", "patternProperties", "records", "tagged"}
    inner = props["properties"]["properties"]["properties"]
    assert inner["type"].lower() == "string" and inner["description"] == "a property called properties"
    assert props["$defs"]["description"] == "a property called $defs"
    assert props["patternProperties"]["type"].lower() == "integer"
    assert props["records"]["items"]["properties"]["properties"]["type"].lower() == "boolean"
    assert "patternProperties" not in props["tagged"]  # the keyword, not a property: dropped
