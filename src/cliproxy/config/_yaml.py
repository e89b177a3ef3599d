"""ruamel.yaml plumbing for the round-trip document: parser setup, plain views, comments."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

__all__ = [
    "drop_heading_comment",
    "give_tail_comment",
    "make_yaml",
    "move_tail_comment",
    "restyle",
    "take_tail_comment",
    "to_node",
    "to_plain",
]

_DASH_LINE = re.compile(r"^( *)- ")
_OPENER = re.compile(r"^ *[^\s#\-][^:]*:\s*(#.*)?$")  # a key whose value is the block below


def make_yaml(text: str = "") -> YAML:
    """A round-trip YAML instance whose output style matches ``text``."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never fold long lines
    mapping, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    if text.lstrip("\ufeff").startswith("---"):
        yaml.explicit_start = True
    return yaml


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset), each measured under a ``key:`` line that opens a block.

    A key under a sequence item (``- a: 1`` then ``  b: 2``) says nothing about how far a
    mapping is indented under its key, so it is not measured."""
    mapping, offset = None, None
    opener: int | None = None  # indent of the previous line when it was a bare ``key:``
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if _DASH_LINE.match(line):
            if offset is None and opener is not None:
                offset = max(indent - opener, 0)
            opener = None
            continue
        if mapping is None and opener is not None and indent > opener:
            mapping = indent - opener
        opener = indent if _OPENER.match(line) else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, 2 if offset is None else offset


def to_plain(node: Any) -> Any:
    """The tree as plain dict / list / str / int / float / bool / None."""
    if isinstance(node, Mapping):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [to_plain(v) for v in node]
    if isinstance(node, ScalarString):
        return str(node)
    if isinstance(node, TaggedScalar):
        return str(node.value)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.date | dt.datetime):
        return node.isoformat()
    return node


def to_node(value: Any) -> Any:
    """Plain data as round-trip nodes (block style), ready to put into the tree."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = to_node(item)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(to_node(v) for v in value)
    return value


def restyle(old: Any, new: Any) -> Any:
    """Keep the quoting style of a replaced string scalar (``"x"`` stays double-quoted),
    also inside a replaced list (item by index) or mapping (item by key), as CPA's
    ``mergeNodePreserve`` keeps each node's style."""
    if isinstance(old, ScalarString) and isinstance(new, str) and not isinstance(new, ScalarString):
        return type(old)(new)
    if isinstance(old, CommentedSeq) and isinstance(new, CommentedSeq):
        for index in range(min(len(old), len(new))):
            new[index] = restyle(old[index], new[index])
            _keep_comment(old, new, index)
    elif isinstance(old, CommentedMap) and isinstance(new, CommentedMap):
        for key in new.keys() & old.keys():
            new[key] = restyle(old[key], new[key])
            _keep_comment(old, new, key)
    return new


def _keep_comment(old: Any, new: Any, key: Any) -> None:
    """A scalar item keeps the comments around it, by index or key (CPA edits in place)."""
    comment = old.ca.items.get(key)
    if comment is not None and not isinstance(new[key], CommentedMap | CommentedSeq):
        new.ca.items[key] = comment


def _tail_slot(container: Any, key: Any) -> tuple[list[Any], Any]:
    """The comment slot that holds the comment lines printed after ``container[key]``."""
    value = container[key]
    if isinstance(value, CommentedMap) and len(value):
        return _tail_slot(value, list(value.keys())[-1])
    if isinstance(value, CommentedSeq) and len(value):
        return _tail_slot(value, len(value) - 1)
    items = container.ca.items
    if isinstance(container, CommentedSeq):
        entry = items.setdefault(key, [None, None])
        return entry, 0
    entry = items.setdefault(key, [None, None, None, None])
    return entry, 2


def move_tail_comment(container: Any, key: Any, target_key: Any) -> None:
    """Hand the comment lines printed after ``container[key]`` to ``container[target_key]``.

    Those lines usually introduce whatever follows, so on delete they go to the
    previous key, and on append they move below the new last entry.
    """
    give_tail_comment(container, target_key, take_tail_comment(container, key))


def take_tail_comment(container: Any, key: Any) -> CommentToken | None:
    """Detach the comment lines printed after ``container[key]`` (the heading of what
    follows; the end-of-line comment stays): a token for :func:`give_tail_comment`."""
    entry, index = _tail_slot(container, key)
    token = entry[index]
    if not isinstance(token, CommentToken):
        return None
    eol, sep, following = token.value.partition("\n")
    if not sep or not following:
        return None
    token.value = eol + sep
    return CommentToken(following, token.start_mark, None)


def give_tail_comment(container: Any, key: Any, lines: CommentToken | None) -> None:
    """Print the lines taken by :func:`take_tail_comment` after ``container[key]``."""
    if lines is None:
        return
    target, index = _tail_slot(container, key)
    current = target[index]
    if isinstance(current, CommentToken):
        current.value = current.value + lines.value
    else:
        target[index] = CommentToken("\n" + lines.value, lines.start_mark, None)


def drop_heading_comment(container: Any, previous_key: Any) -> None:
    """Remove the comment lines right above the key after ``previous_key`` (its heading).

    They are stored as the tail of ``previous_key``; a blank line ends the heading.
    """
    entry, index = _tail_slot(container, previous_key)
    token = entry[index]
    if not isinstance(token, CommentToken):
        return
    eol, sep, following = token.value.partition("\n")
    lines = following.splitlines(keepends=True)
    while lines and lines[-1].strip().startswith("#"):
        lines.pop()
    token.value = eol + sep + "".join(lines)
