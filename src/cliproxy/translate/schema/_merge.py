"""Merging schemas: ``allOf`` into one node, and a union of objects into one object."""

from __future__ import annotations

from typing import Any

from cliproxy.translate.schema._profile import Node, when
from cliproxy.translate.schema._walk import Walk, as_node

__all__ = ["merge_all_of", "merge_object_union"]


@when("allOf")
def merge_all_of(node: Node, walk: Walk) -> Node:
    """Fold ``allOf`` branches into ``node``: properties and required are united,
    other keys are taken from the node first, then from the branches in order
    (a branch's own ``allOf`` is folded right after the branch).

    A ``$ref`` branch is expanded through ``walk.target``, so the ref stays active
    for the rest of this node: what the expansion brings in (``items``,
    ``prefixItems``, properties...) cannot expand it again when cleaned. A ref that
    cannot be expanded (recursive, unresolvable) adds the same stub a bare ``$ref``
    becomes, after everything else, so it only fills in what nothing else says."""
    branches = node.pop("allOf", None)
    if not isinstance(branches, list):
        return node
    stubs: list[Node] = []
    pending = branches[::-1]
    while pending:
        branch = as_node(pending.pop())
        if "$ref" in branch:
            branch, failed = walk.target(branch)
            if failed is not None:
                stubs.append(walk.stub(branch, failed))
            else:
                pending.append(branch)  # the target may hold a $ref or allOf itself
            continue
        nested = branch.pop("allOf", None)
        _absorb(node, branch)
        if isinstance(nested, list):
            pending.extend(nested[::-1])
    for stub in stubs:
        _absorb(node, stub)
    return node


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
        names = branch.get("required")
        if not isinstance(names, list):
            names = []
        required = list(names) if required is None else [n for n in required if n in names]
    out: Node = {"type": object_type, "properties": props}
    if required:
        out["required"] = required
    return out
