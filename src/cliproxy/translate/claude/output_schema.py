"""A client's JSON Schema fitted to what Anthropic's structured output accepts.

A Chat Completions ``response_format`` json_schema or a Responses ``text.format`` goes to a
Claude model as ``output_config.format``. Anthropic compiles that schema into a grammar and
refuses (400) what the compiler cannot take: an object that does not say
``additionalProperties: false``, numeric bounds (``minimum``, ``maximum``, ``multipleOf``),
string lengths, array bounds other than ``minItems`` 0 or 1, string ``format`` values
outside its list, an empty schema, recursive definitions. :func:`fit_output_schema` does
what the official Anthropic SDK does to a schema before it sends one: every object closes
(``additionalProperties: false``), what is supported stays, and each constraint the API
would refuse moves into the node's ``description`` as text, so the model still reads it.

A schema that cannot be fitted (an empty or boolean node, a recursive ``$ref``, a ``$ref``
outside the document) gives ``None``: the request then goes without a format, as CPA sends
every such request, rather than to a certain 400.

>>> fit_output_schema({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}})
{'type': 'object', 'properties': {'n': {'type': 'integer', 'description': '{minimum: 1}'}}, 'additionalProperties': False}
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate.schema._gemini_finish import as_text

__all__ = ["fit_output_schema"]

_TYPES = frozenset(("object", "array", "string", "integer", "number", "boolean", "null"))
_STRING_FORMATS = frozenset(
    ("date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid")
)
_DEF_KEYS = ("$defs", "definitions")
_ANNOTATIONS = ("description", "title")
_IGNORED = frozenset(("$schema", "$id", "$comment"))  # annotations of the document, no constraint


class _Unfit(Exception):
    """The schema holds a node Anthropic refuses and no rewrite can make acceptable."""


def fit_output_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """A new schema Anthropic's structured output accepts, or ``None`` when there is none.

    The input is never changed; leaf values (``enum`` members, ``const``) may be shared."""
    try:
        out = _node(schema)
    except _Unfit:
        return None
    if _recursive(out):
        return None
    return out


def _node(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _Unfit  # a boolean schema (true / false) has no grammar
    rest = dict(node)
    out: dict[str, Any] = {}
    for key in _DEF_KEYS:
        defs = rest.pop(key, None)
        if isinstance(defs, dict):
            out[key] = {name: _node(value) for name, value in defs.items()}
    ref = rest.pop("$ref", None)
    if ref is not None:
        if not isinstance(ref, str) or ref[:1] != "#":
            raise _Unfit  # external references are refused
        out["$ref"] = ref
        for key in _ANNOTATIONS:
            if key in rest:
                out[key] = rest[key]
        return out
    literal = _literals(rest, out)
    kinds = _types(rest, out)
    for key, target in (("anyOf", "anyOf"), ("oneOf", "anyOf"), ("allOf", "allOf")):
        branches = rest.pop(key, None)
        if isinstance(branches, list) and branches and target not in out:
            out[target] = [_node(b) for b in branches]
    if not (literal or kinds or "anyOf" in out or "allOf" in out):
        raise _Unfit  # a schema that accepts any value is refused
    for key in _ANNOTATIONS:
        if key in rest:
            out[key] = rest.pop(key)
    if "object" in kinds:
        _object(rest, out)
    if "string" in kinds:
        fmt = rest.get("format")
        if isinstance(fmt, str) and fmt in _STRING_FORMATS:
            out["format"] = rest.pop("format")
    if "array" in kinds:
        _array(rest, out)
    for key in _IGNORED:
        rest.pop(key, None)
    if rest:
        _describe(out, rest)
    return out


def _literals(rest: dict[str, Any], out: dict[str, Any]) -> bool:
    enum = rest.get("enum")
    if isinstance(enum, list) and enum and all(_primitive(v) for v in enum):
        out["enum"] = rest.pop("enum")
    if "const" in rest and _primitive(rest["const"]):
        out["const"] = rest.pop("const")
    return "enum" in out or "const" in out


def _types(rest: dict[str, Any], out: dict[str, Any]) -> frozenset[str]:
    kind = rest.get("type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
    if not names or not all(isinstance(n, str) and n in _TYPES for n in names):
        return frozenset()
    out["type"] = rest.pop("type")
    return frozenset(names)


def _object(rest: dict[str, Any], out: dict[str, Any]) -> None:
    props = rest.pop("properties", None)
    if isinstance(props, dict):
        out["properties"] = {name: _node(value) for name, value in props.items()}
    extra = rest.pop("additionalProperties", None)
    if isinstance(extra, dict):
        rest["additionalProperties"] = extra  # a map's value schema: said in words only
    out["additionalProperties"] = False
    required = rest.get("required")
    if isinstance(required, list) and all(isinstance(n, str) for n in required):
        out["required"] = rest.pop("required")


def _array(rest: dict[str, Any], out: dict[str, Any]) -> None:
    items = rest.get("items")
    if isinstance(items, dict):
        rest.pop("items")
        out["items"] = _node(items)
    least = rest.get("minItems")
    if least in (0, 1) and not isinstance(least, bool):
        out["minItems"] = rest.pop("minItems")


def _describe(out: dict[str, Any], rest: dict[str, Any]) -> None:
    """The constraints Anthropic refuses, as text after the node's own description."""
    said = ", ".join(f"{key}: {as_text(value)}" for key, value in rest.items())
    description = out.get("description")
    prefix = description + "\n\n" if isinstance(description, str) and description else ""
    out["description"] = prefix + "{" + said + "}"


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _recursive(schema: dict[str, Any]) -> bool:
    """Whether a ``$ref`` leads back to where it stands (Anthropic refuses recursive
    schemas): ``#`` itself, or a cycle among the root's definitions."""
    graph: dict[str, set[str]] = {}
    for key in _DEF_KEYS:
        for name, value in (schema.get(key) or {}).items():
            graph[f"#/{key}/{name}"] = _refs(value, set())
    root = _refs({k: v for k, v in schema.items() if k not in _DEF_KEYS}, set())
    if "#" in root or any("#" in refs for refs in graph.values()):
        return True
    done: set[str] = set()
    return any(start not in done and _cycle(start, graph, set(), done) for start in graph)


def _refs(node: Any, acc: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            acc.add(ref)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _refs(value, acc)
    elif isinstance(node, list):
        for value in node:
            _refs(value, acc)
    return acc


def _cycle(name: str, graph: dict[str, set[str]], path: set[str], done: set[str]) -> bool:
    if name in path:
        return True
    if name in done or name not in graph:
        return False
    path.add(name)
    found = any(_cycle(nxt, graph, path, done) for nxt in graph[name])
    path.discard(name)
    done.add(name)
    return found
