"""A sanitizer profile: what one upstream accepts in a tool's parameter schema.

A profile is data: the keys it keeps, and rules (small functions) run in order on
every node. Adding an upstream is adding a profile to ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cliproxy.translate.schema._walk import Walk

__all__ = ["Profile", "Rule", "when"]

Node = dict[str, Any]
# A rule gets a node the walker owns (a fresh dict it may change in place; nested
# values still belong to the caller and must be replaced, never changed) and returns
# the node to go on with.
Rule = Callable[[Node, "Walk"], Node]


def when(*keys: str) -> Callable[[Rule], Rule]:
    """Mark a rule as relevant only to nodes holding one of ``keys``; the walker
    skips it elsewhere (most nodes hold two or three plain keys)."""

    def mark(rule: Rule) -> Rule:
        rule.triggers = frozenset(keys)  # type: ignore[attr-defined]
        return rule

    return mark


@dataclass(frozen=True, slots=True)
class Profile:
    """How to clean a schema for one upstream.

    ``allowed_keys``: keys kept on every node (``None`` keeps all).
    ``before``: rules run on each node before its children are cleaned.
    ``after``: rules run on each node once its children are cleaned.
    ``root``: rules run on the cleaned top-level node only.
    ``walk``: ``False`` skips the per-node walk (only ``root`` rules run).
    ``inline_refs``: resolve ``$ref`` against the document and drop ``$defs``.
    ``ref_hints``: a ``$ref`` that cannot be inlined (recursive, unresolvable) keeps its
    siblings and the target's type, and says ``See: <name>`` in its description; without
    it, such a node becomes a bare object with its description.
    """

    name: str
    allowed_keys: frozenset[str] | None
    before: tuple[Rule, ...] = ()
    after: tuple[Rule, ...] = ()
    root: tuple[Rule, ...] = ()
    walk: bool = True
    inline_refs: bool = True
    ref_hints: bool = False
