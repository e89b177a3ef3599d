"""Merging schemas: ``allOf`` into one node, and a union of objects into one object."""

from __future__ import annotations

from typing import Any

from cliproxy.translate.schema._profile import Node, when
from cliproxy.translate.schema._walk import Walk, as_node

__all__ = ["merge_all_of", "merge_object_union"]


@when("allOf")
def merge_all_of(node: Node, walk: Walk) -> Node:
    """Fold ``allOf`` branches into ``node``: properties and required are united,
    other keys are taken from the node first, then from the branches in order."""
    branches = node.pop("allOf", None)
    if not isinstance(branches, list):
        return node
    for raw in branches:
        branch = _resolved(as_node(raw), walk)
        if branch is not None:
            _absorb(node, branch)
    return node


def _resolved(branch: Node, walk: Walk) -> Node | None:
    ref = branch.get("$ref")
    if ref is None:
        return merge_all_of(branch, walk)
    branch, failed = walk.target(branch)
    if failed is not None:
        return None
    walk.active.add(ref)
    try:
        return merge_all_of(branch, walk)
    finally:
        walk.active.discard(ref)


def _absorb(into: Node, branch: Node) -> None:
    for key, value in branch.items():
        if key == "properties" and isinstance(value, dict):
            into["properties"] = _merge_properties(into.get("properties"), value)
        elif key == "required" and isinstance(value, list):
            into["required"] = _union(into.get("required"), value)
        elif key not in into:
            into[key] = value


def _merge_properties(mine: Any, theirs: dict[str, Any]) -> dict[str, Any]:
    merged = dict(mine) if isinstance(mine, dict) else {}
    for name, schema in theirs.items():
        if name not in merged:
            merged[name] = schema
        elif isinstance(merged[name], dict) and isinstance(schema, dict) and merged[name] != schema:
            merged[name] = {"allOf": [merged[name], schema]}
    return merged


def _union(mine: Any, theirs: list[Any]) -> list[Any]:
    out = list(mine) if isinstance(mine, list) else []
    out.extend(name for name in theirs if name not in out)
    return out


def merge_object_union(branches: list[Any], object_type: str) -> Node:
    """One object that accepts any branch: all properties, required only if every
    branch requires it. Used where an upstream wants a plain object at the top."""
    props: dict[str, Any] = {}
    required: list[Any] | None = None
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        branch_props = branch.get("properties")
        if isinstance(branch_props, dict):
            for name, schema in branch_props.items():
                props.setdefault(name, schema)
        names = branch.get("required") if isinstance(branch.get("required"), list) else []
        required = list(names) if required is None else [n for n in required if n in names]
    out: Node = {"type": object_type, "properties": props}
    if required:
        out["required"] = required
    return out
