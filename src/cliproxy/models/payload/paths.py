"""A small gjson/sjson-style path engine over parsed JSON (dicts and lists).

Paths are dot-separated keys (``\\.`` escapes a dot), array indexes (``tools.0``),
``-1`` to append on set, ``:12`` for an object key that looks like a number, ``#`` for
an array's length on get (as the last part) or for every element of the array (before
another part: ``items.#.value``, as CPA's payload rules write each match), and queries:
``tools.#(type=="web_search")`` picks the first matching element, ``#(...)#`` every
one. :func:`resolve` turns such a path into the concrete paths it selects in a document;
get/set/delete then take concrete paths.
"""

from __future__ import annotations

import itertools
from typing import Any

from .query import query_matches

__all__ = ["MISSING", "Path", "delete", "get", "parse", "resolve", "set_value"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NODES = (dict, list)

Path = tuple[str, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def parse(path: str) -> Path:
    """Split a path on dots outside quotes and parentheses."""
    parts: list[str] = []
    buf: list[str] = []
    depth, quote, i = 0, "", 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            # Inside a query the escape belongs to the query; outside it makes a literal.
            buf.append(path[i : i + 2] if depth or quote else path[i + 1])
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch == "." and not depth:
            parts.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return tuple(parts)


def _query(part: str) -> tuple[str, bool] | None:
    """``(query, all_matches)`` for a ``#(...)`` / ``#(...)#`` part, else ``None``."""
    if not part.startswith("#(") or not part.rstrip("#").endswith(")"):
        return None
    every = part.endswith(")#")
    body = part[2:-2] if every else part[2:-1]
    return body.strip(), every


def has_query(path: Path) -> bool:
    """The path holds a ``#(...)`` part, or a ``#`` for every element (not the last part)."""
    return any(part.startswith("#(") for part in path) or "#" in path[:-1]


def resolve(doc: Any, path: Path) -> list[Path]:
    """The concrete paths a (possibly query-holding) path selects in ``doc``."""
    if not has_query(path):
        return [path]
    found: list[Path] = [()]
    last = len(path) - 1
    for i, part in enumerate(path):
        if part == "#" and i < last:  # every element that is there
            found = [(*base, str(n)) for base in found for n in range(_length(get(doc, base)))]
        elif (query := _query(part)) is not None:
            found = _select(doc, found, *query)
        else:
            found = [(*p, part) for p in found]
            continue
        if not found:
            return []
    return found


def _length(node: Any) -> int:
    return len(node) if isinstance(node, list) else 0


def _select(doc: Any, bases: list[Path], query: str, every: bool) -> list[Path]:
    out: list[Path] = []
    for base in bases:
        array = get(doc, base)
        if not isinstance(array, list):
            continue
        for index, item in enumerate(array):
            if query_matches(item, query, _values):
                out.append((*base, str(index)))
                if not every:
                    break
    return out


def _values(item: Any, key: str) -> list[Any]:
    """What ``key`` selects in ``item`` (the item itself for an empty key), for queries."""
    if not key:
        return [item]
    found = (get(item, path) for path in resolve(item, parse(key)))
    return [value for value in found if value is not MISSING]


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        key = part[1:] if part.startswith(":") else part
        return node.get(key, MISSING)
    if isinstance(node, list):
        if part == "#":
            return len(node)
        if part.isdigit() and int(part) < len(node):
            return node[int(part)]
    return MISSING


def get(doc: Any, path: Path) -> Any:
    """The value at a concrete path, or ``MISSING``."""
    node = doc
    for part in path:
        node = _child(node, part)
        if node is MISSING:
            return MISSING
    return node


def _is_index(part: str) -> bool:
    return part.isdigit() or part == "-1"


def _container_for(part: str) -> Any:
    return [] if _is_index(part) else {}


def _put(node: Any, part: str, value: Any) -> Any:
    """Store ``value`` under ``part`` in ``node``; returns the stored value."""
    if isinstance(node, list) and _is_index(part):
        if part == "-1":
            node.append(value)
            return value
        index = int(part)
        node.extend([None] * (index + 1 - len(node)))
        node[index] = value
        return value
    node[part[1:] if part.startswith(":") else part] = value
    return value


def set_value(doc: dict[str, Any], path: Path, value: Any) -> bool:
    """Set a concrete path, creating objects (or arrays for index parts) on the way."""
    if not path:
        return False
    node: Any = doc
    for part, following in itertools.pairwise(path):
        if isinstance(node, list) and not _is_index(part):
            return False
        child = _child(node, part) if part != "-1" else MISSING
        # path copying: below the root, containers may be shared with the client's request
        # (an attempt owns its top-level objects, not its arrays), so each one on the way
        # is replaced by a copy before anything under it changes
        node = _put(node, part, child.copy() if isinstance(child, _NODES) else _container_for(following))
    if isinstance(node, list) and not _is_index(path[-1]):
        return False
    _put(node, path[-1], value)
    return True


def delete(doc: Any, path: Path) -> bool:
    """Remove a concrete path; ``False`` when it was not there."""
    if not path or get(doc, path) is MISSING:
        return False
    parent = doc
    for part in path[:-1]:  # path copying, as in set_value
        parent = _put(parent, part, _child(parent, part).copy())
    last = path[-1]
    if isinstance(parent, dict):
        key = last[1:] if last.startswith(":") else last
        return parent.pop(key, MISSING) is not MISSING
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
        return True
    return False
