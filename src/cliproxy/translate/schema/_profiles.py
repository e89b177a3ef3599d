"""The profiles: one table entry per upstream dialect.

``gemini`` (also ``antigravity`` and ``vertex``): the OpenAPI 3.0 subset Google's
``FunctionDeclaration.parameters`` accepts. ``antigravity-tool``: function parameters
for Cloud Code, whose model writes arguments of the declared type but takes enums only
as strings (see ``_antigravity.py``). ``claude``: full JSON Schema, but ``input_schema``
must be an object at the top.
"""

from __future__ import annotations

from cliproxy.translate.schema import _antigravity as ag
from cliproxy.translate.schema import _gemini_finish as fin
from cliproxy.translate.schema import _gemini_shape as shape
from cliproxy.translate.schema._merge import merge_all_of, merge_object_union
from cliproxy.translate.schema._profile import Node, Profile
from cliproxy.translate.schema._walk import Walk, as_node

__all__ = ["ANTIGRAVITY_RESPONSE", "ANTIGRAVITY_TOOL", "CLAUDE", "GEMINI", "GEMINI_KEYS", "PROFILES"]

GEMINI_KEYS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
     "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
     "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
)  # fmt: skip

GEMINI = Profile(
    name="gemini",
    allowed_keys=GEMINI_KEYS,
    before=(
        shape.wrap_bare_properties,
        merge_all_of,
        shape.one_of_to_any_of,
        shape.const_to_enum,
        shape.examples_to_example,
        shape.normalize_type,
        shape.exclusive_bounds,
        shape.tuple_items,
        shape.promote_required_flags,
        shape.prune_union_branches,
    ),
    after=(
        fin.collapse_any_of,
        fin.stringify_enum,
        fin.infer_type,
        fin.array_items,
        fin.drop_foreign_keywords,
        fin.filter_format,
        fin.drop_empty_properties,
        fin.fix_name_lists,
        fin.sanitize_values,
    ),
    root=(fin.root_object,),
)

# CPA's CleanJSONSchemaForAntigravityTool(schema, false), rule for rule
ANTIGRAVITY_TOOL = Profile(
    name="antigravity-tool",
    allowed_keys=ag.ANTIGRAVITY_TOOL_KEYS,
    before=(
        shape.wrap_bare_properties,
        shape.promote_required_flags,
        ag.merge_conditionals,
        merge_all_of,
        ag.lower_type,
        shape.tuple_items,
        ag.const_to_enum,
        ag.enum_hints,
        ag.closed_object_hint,
        ag.constraint_hints,
        ag.not_hint,
        ag.flatten_type_list,
    ),
    after=(ag.flatten_union, fin.fix_name_lists, fin.sanitize_values),
    root=(ag.object_root,),
    ref_hints=True,
)

# CPA's CleanJSONSchemaForAntigravityResponse: a structured answer's schema, any type at
# the top; enums, title and a closed object stay, the ignored constraints become hints
ANTIGRAVITY_RESPONSE = Profile(
    name="antigravity-response",
    allowed_keys=ag.ANTIGRAVITY_RESPONSE_KEYS,
    before=(
        shape.wrap_bare_properties,
        shape.promote_required_flags,
        ag.merge_conditionals,
        merge_all_of,
        ag.lower_type,
        shape.tuple_items,
        ag.const_to_enum,
        ag.response_enum,
        ag.closed_object_only,
        ag.constraint_hints,
        ag.not_hint,
        ag.flatten_type_list,
    ),
    after=(ag.flatten_union, fin.fix_name_lists, fin.sanitize_values),
    ref_hints=True,
)


def claude_root_object(node: Node, walk: Walk) -> Node:
    """Claude wants ``type: object`` with ``properties`` at the top and rejects
    ``oneOf``/``anyOf``/``allOf`` there; those are folded into one object."""
    if "allOf" in node:
        with walk.scope():
            node = merge_all_of(node, walk)
    for key in ("anyOf", "oneOf"):
        branches = node.pop(key, None)
        if isinstance(branches, list):
            # CPA's NormalizeClaudeToolInputSchema: branch properties join the root's
            # (the root's win); only what every object branch requires stays required
            resolved = [b for b in (_resolve_top(b, walk) for b in branches) if _can_be_object(b)]
            union = merge_object_union(resolved, "object")
            own = node.get("properties")
            props = dict(own) if isinstance(own, dict) else {}
            for name, schema in union["properties"].items():
                props.setdefault(name, schema)
            node["properties"] = props
            if "required" in union:
                mine = node.get("required")
                node["required"] = list(mine) if isinstance(mine, list) else []
                node["required"] += [n for n in union["required"] if n not in node["required"]]
    node["type"] = "object"
    if not isinstance(node.get("properties"), dict):
        node["properties"] = {}
    # keywords of the wrong type Claude would refuse the request for (CPA
    # normalizeClaudeToolSchema): a quoted boolean, a ``$schema`` that names nothing
    extra = node.get("additionalProperties")
    if type(extra) is str and extra.strip().lower() in ("true", "false"):
        node["additionalProperties"] = extra.strip().lower() == "true"
    if "$schema" in node and type(node["$schema"]) is not str:
        del node["$schema"]
    return node


def _can_be_object(branch: Node) -> bool:
    kind = branch.get("type")
    return kind is None or kind == "object" or (isinstance(kind, list) and "object" in kind)


def _resolve_top(branch: object, walk: Walk) -> Node:
    node = as_node(branch)
    if "$ref" not in node:
        return node
    with walk.scope():
        return walk.target(node)[0]


CLAUDE = Profile(name="claude", allowed_keys=None, root=(claude_root_object,), walk=False, inline_refs=False)

PROFILES: dict[str, Profile] = {
    "gemini": GEMINI,
    "antigravity": GEMINI,
    "antigravity-tool": ANTIGRAVITY_TOOL,
    "antigravity-response": ANTIGRAVITY_RESPONSE,
    "vertex": GEMINI,
    "claude": CLAUDE,
}
