"""The walker: one recursive pass that builds a cleaned copy of a schema.

The input is never changed: every node is read, copied shallowly into a dict the walker
owns, rewritten by the profile's rules, and its children are cleaned the same way.
``$ref`` is resolved against the whole document, with a guard for recursion, a budget
against exponential expansion and a hard bound on nesting depth.

The recursion guard works per node: a ref expanded into a node (by inlining, or by
a rule such as the ``allOf`` merge) stays active until that node and everything under
it is clean, so no path through the expanded content can expand it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from cliproxy.translate.schema._hints import add_hint, ref_name
from cliproxy.translate.schema._profile import Node, Profile, Rule

__all__ = ["Walk", "as_node", "resolve_pointer"]

# Keys whose value is a map of name -> schema, one schema, or a list of schemas.
SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"})
SCHEMA_ONE = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
     "unevaluatedProperties", "unevaluatedItems", "additionalItems", "contentSchema"}
)  # fmt: skip
SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})

TYPE_NAMES = frozenset(
    {"string", "number", "integer", "boolean", "array", "object", "null",
     "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
)  # fmt: skip
MAX_REF_EXPANSIONS = 2000
# Nodes nested deeper than this become a bare object (keeping their description).
MAX_DEPTH = 64


def as_node(raw: Any) -> Node:
    """A fresh dict for any schema-ish value; malformed nodes are normalized.

    A string is a type name (``"string"``) or else a description; a list of type
    names is a type union; a list of schemas is ``anyOf``; anything else means "any".
    """
    if isinstance(raw, dict):
        return dict(raw)
    if isinstance(raw, str):
        return {"type": raw} if raw in TYPE_NAMES else {"type": "string", "description": raw}
    if isinstance(raw, list) and raw:
        if all(isinstance(t, str) and t in TYPE_NAMES for t in raw):
            return {"type": list(raw)}
        if all(isinstance(t, dict) for t in raw):
            return {"anyOf": list(raw)}
    return {}


def resolve_pointer(root: Any, ref: str) -> Any:
    """The value a local ``#/...`` JSON pointer names in ``root``, or ``None``."""
    if not ref.startswith("#"):
        return None
    node = root
    for part in unquote(ref[1:]).split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


# (every trigger key of the stage, (triggers or None, rule) in order)
Plan = tuple[frozenset[str], tuple[tuple[frozenset[str] | None, Rule], ...]]
_PLANS: dict[tuple[Rule, ...], Plan] = {}


def _plan(rules: tuple[Rule, ...]) -> Plan:
    plan = _PLANS.get(rules)
    if plan is None:
        steps = tuple((getattr(rule, "triggers", None), rule) for rule in rules)
        keys = frozenset().union(*(t for t, _ in steps if t is not None))
        plan = _PLANS[rules] = (keys, steps)
    return plan


class Walk:
    """One cleaning pass over one document for one profile."""

    __slots__ = (
        "active", "after", "allowed", "before", "depth", "expanded", "expansions", "inline", "profile", "root"
    )  # fmt: skip

    def __init__(self, root: Any, profile: Profile) -> None:
        self.root = root
        self.profile = profile
        self.allowed = profile.allowed_keys
        self.before = _plan(profile.before)
        self.after = _plan(profile.after)
        self.inline = profile.inline_refs
        self.active: set[str] = set()  # refs being expanded on the current path
        self.expanded: list[str] = []  # the same refs, in the order they were entered
        self.expansions = 0
        self.depth = 0

    def clean(self, raw: Any) -> Node:
        """The cleaned copy of one schema node and everything under it."""
        mark = len(self.expanded)
        self.depth += 1
        try:
            return self._clean(as_node(raw))
        finally:
            self.depth -= 1
            self._release(mark)

    def _clean(self, node: Node) -> Node:
        if self.depth > MAX_DEPTH:
            node = self.stub(node, None)
        while self.inline and "$ref" in node:
            node = self._inline(node)
        node = self._run(self.before, node)
        return self._run(self.after, self._children(node))

    def _run(self, plan: Plan, node: Node) -> Node:
        keys, rules = plan
        present = keys.intersection(node)
        for triggers, rule in rules:
            if triggers is None or not triggers.isdisjoint(present):
                node = rule(node, self)
                present = keys.intersection(node)
        return node

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Refs expanded inside the block are active only until it ends (``clean``
        gives every node such a scope; rules outside the walk can ask for one)."""
        mark = len(self.expanded)
        try:
            yield
        finally:
            self._release(mark)

    def _release(self, mark: int) -> None:
        for ref in self.expanded[mark:]:
            self.active.discard(ref)
        del self.expanded[mark:]

    def target(self, node: Node) -> tuple[Node, str | None]:
        """``node`` with its ``$ref`` replaced by the referenced schema (siblings win).

        Returns the merged node and ``None``, or the node without ``$ref`` and the
        ref string when it is recursive, unresolvable or over budget. A ref that is
        expanded stays active, and so cannot be expanded again, until the node being
        cleaned (or the current ``scope``) is finished.
        """
        node = dict(node)
        ref = node.pop("$ref")
        if not isinstance(ref, str):
            return node, None
        found = resolve_pointer(self.root, ref)
        if ref in self.active or found is None or self.expansions >= MAX_REF_EXPANSIONS:
            return node, ref
        self.expansions += 1
        self.active.add(ref)
        self.expanded.append(ref)
        merged = as_node(found)
        merged.update(node)
        return merged, None

    def _inline(self, node: Node) -> Node:
        merged, failed = self.target(node)
        return merged if failed is None else self.stub(merged, failed)

    def stub(self, node: Node, ref: str | None) -> Node:
        """What a recursive, unresolvable or too deep node becomes: an object with
        its description (see ``Profile.ref_hints`` for the other way)."""
        if ref is not None and self.profile.ref_hints:
            return self._ref_hint(node, ref)
        desc = node.get("description")
        if not isinstance(desc, str) and ref is not None:
            found = resolve_pointer(self.root, ref)
            desc = found.get("description") if isinstance(found, dict) else None
        stub: Node = {"type": "object"}
        if isinstance(desc, str):
            stub["description"] = desc
        return stub

    def _ref_hint(self, node: Node, ref: str) -> Node:
        found = resolve_pointer(self.root, ref)
        out: Node = {}
        if isinstance(found, dict):
            out.update((k, found[k]) for k in ("type", "nullable", "description") if k in found)
        out.update(node)
        add_hint(out, f"See: {ref_name(ref)}")
        return out

    def _children(self, node: Node) -> Node:
        allowed = self.allowed
        out: Node = {}
        for key, value in node.items():
            if allowed is not None and key not in allowed:
                continue
            if key in SCHEMA_MAPS:
                if isinstance(value, dict):
                    out[key] = {name: self.clean(child) for name, child in value.items()}
            elif key in SCHEMA_LISTS:
                if isinstance(value, list):
                    out[key] = [self.clean(child) for child in value]
            elif key in SCHEMA_ONE and isinstance(value, list):
                out[key] = [self.clean(child) for child in value]
            elif key in SCHEMA_ONE and isinstance(value, (dict, str)):
                out[key] = self.clean(value)
            else:
                out[key] = value
        return out
