"""Copy-on-write edits of a request body the client may still share.

A provider that rewrites a few nested blocks copies only the lists and dicts on the way
to them, once each, instead of deep-copying the body.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CopyOnWrite", "Path"]

Path = tuple[str | int, ...]


class CopyOnWrite:
    """Copy-on-write access below ``body``: the first change under a path copies each
    list and dict on it, once."""

    __slots__ = ("body", "owned")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.owned: set[int] = set()

    def at(self, path: Path) -> Any:
        node: Any = self.body
        for step in path:
            child = node[step]
            if id(child) not in self.owned:
                child = child.copy()
                node[step] = child
                self.owned.add(id(child))
            node = child
        return node

    def replace(self, path: Path, key: str | int, value: Any) -> None:
        """Set ``key`` under ``path`` to ``value``, a new object this writer owns."""
        container = self.at(path)
        container[key] = value
        self.owned.add(id(value))
