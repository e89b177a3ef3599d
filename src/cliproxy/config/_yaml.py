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

__all__ = ["drop_heading_comment", "make_yaml", "move_tail_comment", "restyle", "to_node", "to_plain"]

_KEY_LINE = re.compile(r"^( +)[^\s#\-][^:]*:(\s|$)")
_DASH_LINE = re.compile(r"^( *)- ")


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
    """(mapping indent, dash offset) from the first nested key and the first block sequence."""
    mapping, offset = None, None
    parent_indent = 0
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        dash = _DASH_LINE.match(line)
        if dash and offset is None:
            offset = max(len(dash.group(1)) - parent_indent, 0)
        elif not dash:
            key = _KEY_LINE.match(line)
            if key and mapping is None:
                mapping = len(key.group(1))
            parent_indent = len(line) - len(line.lstrip(" "))
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
    """Keep the quoting style of a replaced string scalar (``"x"`` stays double-quoted)."""
    if isinstance(old, ScalarString) and isinstance(new, str) and not isinstance(new, ScalarString):
        return type(old)(new)
    return new


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
    entry, index = _tail_slot(container, key)
    token = entry[index]
    if not isinstance(token, CommentToken):
        return
    eol, sep, following = token.value.partition("\n")
    if not sep or not following:
        return
    token.value = eol + sep
    target, tindex = _tail_slot(container, target_key)
    current = target[tindex]
    if isinstance(current, CommentToken):
        current.value = current.value + following
    else:
        target[tindex] = CommentToken("\n" + following, token.start_mark, None)


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
