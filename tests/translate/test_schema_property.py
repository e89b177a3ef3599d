"""Random JSON-Schema-like trees: the Gemini cleaner never raises, its output always
validates, is idempotent, and the input is left as it was."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy.translate.schema import clean_schema_for_claude, clean_schema_for_gemini
from tests.translate.gemini_validator import violations

NAMES = st.sampled_from(["a", "b", "c", "kind", "x-y", "$id", "type", "properties"])
TYPES = st.sampled_from(
    ["string", "number", "integer", "boolean", "array", "object", "null", "STRING", "int", "any", ""]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=4),
)  # fmt: skip
REFS = st.sampled_from(
    ["#/$defs/A", "#/$defs/B", "#/definitions/C", "#", "#/properties/a", "http://x/y.json", "#/nope"]
)
KEYWORD_VALUES = {
    "type": st.one_of(TYPES, st.lists(TYPES, max_size=3), st.integers(-9, 9)),
    "description": st.one_of(st.text(max_size=6), st.integers(-9, 9)),
    "title": st.text(max_size=4),
    "enum": st.one_of(st.lists(SCALARS, max_size=4), SCALARS),
    "const": SCALARS,
    "default": SCALARS,
    "examples": st.lists(SCALARS, max_size=2),
    "format": st.sampled_from(["date-time", "uri", "int64", "float", "enum", "email"]),
    "minimum": st.one_of(st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=2)),
    "exclusiveMinimum": st.one_of(st.integers(-3, 3), st.booleans()),
    "exclusiveMaximum": st.one_of(st.floats(-3, 3), st.booleans()),
    "minItems": st.one_of(st.integers(-2, 3), st.floats(0, 3), st.text(max_size=2)),
    "maxLength": st.integers(-2, 9),
    "required": st.one_of(st.lists(st.one_of(NAMES, st.integers()), max_size=4), st.booleans(), NAMES),
    "nullable": st.one_of(st.booleans(), st.integers(-9, 9)),
    "additionalProperties": st.booleans(),
    "uniqueItems": st.booleans(),
    "$ref": REFS,
    "propertyOrdering": st.lists(NAMES, max_size=3),
}


def nodes(children: st.SearchStrategy) -> st.SearchStrategy:
    keyword = st.sampled_from(sorted(KEYWORD_VALUES)).flatmap(
        lambda k: st.tuples(st.just(k), KEYWORD_VALUES[k])
    )
    structural = st.one_of(
        st.tuples(st.just("properties"), st.one_of(st.dictionaries(NAMES, children, max_size=3), children)),
        st.tuples(st.just("items"), st.one_of(children, st.lists(children, max_size=3))),
        st.tuples(
            st.sampled_from(["anyOf", "oneOf", "allOf", "prefixItems"]), st.lists(children, max_size=3)
        ),
        st.tuples(
            st.sampled_from(["not", "if", "then", "additionalProperties", "patternProperties"]), children
        ),
        st.tuples(NAMES, children),
    )
    return st.lists(st.one_of(keyword, structural), max_size=6).map(dict)


LEAVES = st.one_of(
    st.fixed_dictionaries({}, optional={k: KEYWORD_VALUES[k] for k in ("type", "description", "enum", "const", "$ref")}),
    TYPES, SCALARS, st.lists(TYPES, max_size=2),
)  # fmt: skip
SCHEMAS = st.recursive(LEAVES, nodes, max_leaves=25)
DOCUMENTS = st.tuples(
    SCHEMAS, st.dictionaries(st.sampled_from(["A", "B"]), SCHEMAS, max_size=2), SCHEMAS
).map(lambda t: {**t[0], "$defs": t[1], "definitions": {"C": t[2]}} if isinstance(t[0], dict) else t[0])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_gemini_cleaner_never_raises_and_always_validates(schema):
    before = json.dumps(schema)
    out = clean_schema_for_gemini(schema)
    assert violations(out) == [], (schema, out)
    assert clean_schema_for_gemini(out) == out
    assert json.dumps(schema) == before


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS)
def test_claude_cleaner_always_gives_an_object(schema):
    out = clean_schema_for_claude(schema)
    assert out["type"] == "object" and isinstance(out["properties"], dict)
    assert not {"anyOf", "oneOf", "allOf"} & out.keys()
