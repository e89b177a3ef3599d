"""Description hints: what a profile cannot say as a keyword, said in words.

A hint joins a node's ``description`` in parentheses. Schemas may be cleaned twice (a
translator, then a provider), so a hint already there is never added again.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from cliproxy.translate.schema._profile import Node

__all__ = ["add_hint", "hint_text", "ref_name"]


def add_hint(node: Node, hint: str) -> None:
    """Append ``hint`` to ``node``'s description (in place), unless it is there already.

    A hint on an empty description stands alone and later ones follow in parentheses, so
    the hint may be the whole text, lead it, or appear parenthesised further along.
    """
    current = node.get("description")
    if not isinstance(current, str) or not current:
        node["description"] = hint
    elif current != hint and not current.startswith(f"{hint} (") and f"({hint})" not in current:
        node["description"] = f"{current} ({hint})"


def hint_text(value: Any) -> str:
    """A keyword value as a hint shows it: strings bare, whole numbers without a fraction,
    ``null`` as nothing, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def ref_name(ref: str) -> str:
    """The last segment of a ``$ref`` (``#/$defs/User`` -> ``User``), JSON-pointer unescaped."""
    tail = ref.rsplit("/", 1)[-1] if "/" in ref else ref
    return tail.replace("~1", "/").replace("~0", "~") if tail else ref
