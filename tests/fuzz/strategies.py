"""Hostile JSON values and the shared pieces of hostile bodies.

Every choice is written so that hypothesis shrinks it toward a *valid* value (the first
branch, the 0 of a dice roll): a failing example shrinks to the one hostile field that
matters, with a plain valid body around it.

Values that plain JSON encoders refuse to write (integers past 64 bits, lone surrogate
escapes, invalid UTF-8, nesting deeper than orjson writes) are ``Raw`` fragments, spliced
in verbatim by ``encode``.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

__all__ = ["Raw", "choose", "encode", "hostile", "odd_names", "odd_text", "schemas", "with_mutations"]


class Raw:
    """A JSON fragment written as-is into the encoded body."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        more = f"...<{len(self.data)} bytes>" if len(self.data) > 48 else ""
        return f"Raw({self.data[:48]!r}{more})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raw) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)


def encode(value: Any) -> bytes:
    """JSON bytes of ``value``, with ``Raw`` fragments spliced in."""
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, dict):
        return b"{" + b",".join(orjson.dumps(str(k)) + b":" + encode(v) for k, v in value.items()) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(encode(v) for v in value) + b"]"
    return orjson.dumps(value)


def deep_list(depth: int) -> Raw:
    return Raw(b"[" * depth + b"]" * depth)


def deep_object(depth: int) -> Raw:
    return Raw(b'{"a":' * depth + b"1" + b"}" * depth)


def deep_mixed(depth: int) -> Raw:
    return Raw(b'[{"type":"text","text":' * depth + b'"x"' + b"}]" * depth)


# 254/255: where orjson stops writing; 1024: where it stops reading; Python's default
# recursion limit sits in between
DEPTHS = (64, 200, 254, 255, 300, 600, 1000, 1023, 1024, 5000)
BAD_FRAGMENTS = (
    Raw(b'"\\ud800"'),  # lone high surrogate escape
    Raw(b'"a\\udc00b"'),  # lone low surrogate escape
    Raw(b'"\xff\xfe"'),  # invalid UTF-8
    Raw(b'"\xc0\x80"'),  # overlong NUL
    Raw(b'"\xed\xa0\x80"'),  # encoded surrogate
    Raw(b"18446744073709551616"),  # 2**64
    Raw(b"-9223372036854775809"),  # below int64
    Raw(b"123456789012345678901234567890123"),
    Raw(b"1e999"),  # infinity
    Raw(b"-0"),
    Raw(b"1E400"),
    Raw(b'"\\u0000"'),
)
ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "\r\n\r\n",
    "\u202e",
    "\ufeff",
    "\U0001f600" * 3,
    "null",
    "[]",
    "{}",
    "true",
    "-1",
    "NaN",
    "%s%n%x",
    "../../etc/passwd",
    "data: [DONE]\n\n",
    "event: error\ndata: {}\n\n",
    "</script>",
    "\\",
    '"',
    "\u00e9\u0301",
    "\x7f\x1b[31m",
    "x" * 5000,
)
HUGE = (
    "x" * 200_000,
    "\x00" * 10_000,
    list(range(5000)),
    [{"type": "text", "text": "a"}] * 2000,
    {f"k{i}": i for i in range(3000)},
)

odd_text = st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=16))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
special = st.one_of(
    st.sampled_from(BAD_FRAGMENTS),
    st.builds(deep_list, st.sampled_from(DEPTHS)),
    st.builds(deep_object, st.sampled_from(DEPTHS)),
    st.builds(deep_mixed, st.sampled_from(DEPTHS)),
    st.sampled_from(HUGE),
)
# mostly plain odd scalars, so that most bodies get past the JSON reader into the translators
leaves = st.one_of(scalars, scalars, scalars, special)
KEYS = ("type", "text", "role", "content", "name", "id", "parts", "input", "model", "stream", "", "\x00")
hostile = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=3),
    ),
    max_leaves=6,
)

odd_names = st.one_of(
    st.just("bash"),
    st.sampled_from(["", "a b", "x" * 300, "na.me/with:odd", "\x00", "名前", "bash", "-", "1abc"]),
    st.sampled_from([5, None, ["bash"], {"name": "bash"}, True]),
)

GOOD_SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}


def _deep_properties(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


ODD_SCHEMAS = (
    5,
    "object",
    None,
    [],
    {},
    True,
    {"type": "object", "properties": 5},
    {"type": "object", "properties": {"a": 5}},
    {"type": "object", "required": "a"},
    {"type": "object", "required": [5, None]},
    {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}},
    {"$ref": "#/$defs/a", "$defs": {"a": {"type": "object", "properties": {"n": {"$ref": "#/$defs/a"}}}}},
    {"$ref": "#/definitions/missing"},
    {"$ref": 5},
    {"$defs": 5, "$ref": "#/$defs/x"},
    {"type": ["object", "null"], "properties": {"a": {"type": ["string", "null"]}}},
    {"anyOf": 5},
    {"anyOf": [5, {}]},
    {"oneOf": []},
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "array", "items": 5},
    {"type": "array", "items": [{"type": "string"}]},
    {"type": "array"},
    {"enum": []},
    {"enum": 5},
    {"type": "string", "enum": [1, None, {}]},
    {"type": "weird"},
    {"type": 5},
    {"type": []},
    {"type": "object", "additionalProperties": 5},
    {"const": None},
    {"format": 5},
    {"default": {"x": [1, 2]}},
    {"description": "d" * 20_000},
    {"properties": {"": {}, "\x00": {}}},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
    {"not": {}},
    {"type": "object", "patternProperties": {"(": {}}},
    {"items": {"items": {"items": 5}}},
    _deep_properties(40),
    _deep_properties(300),
)
schemas = st.one_of(st.just(GOOD_SCHEMA), st.sampled_from(ODD_SCHEMAS), hostile)


def choose(draw: st.DrawFn, valid: Any, odd: st.SearchStrategy[Any], percent_odd: int = 25) -> Any:
    """``valid`` most of the time (and when shrinking), else a draw from ``odd``."""
    if draw(st.integers(0, 99)) < 100 - percent_odd:
        return valid
    return draw(odd)


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [prefix]
    if depth >= 4:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key), depth + 1))
    elif isinstance(value, list) and len(value) < 50:
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index), depth + 1))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _delete(value: Any, path: tuple[Any, ...]) -> Any:
    head, rest = path[0], path[1:]
    if not rest:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != head}
        return [v for i, v in enumerate(value) if i != head]
    if isinstance(value, dict):
        return {**value, head: _delete(value[head], rest)}
    copy = list(value)
    copy[head] = _delete(copy[head], rest)
    return copy


def with_mutations(draw: st.DrawFn, body: dict[str, Any], keep_root: bool = True) -> dict[str, Any]:
    """Up to two random edits of ``body``: a value anywhere set to a hostile one, or removed."""
    for _ in range(draw(st.integers(0, 2))):
        paths = [p for p in _paths(body) if p or not keep_root]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()):
            body = _delete(body, path)
        else:
            body = _replace(body, path, draw(hostile))
    return body
