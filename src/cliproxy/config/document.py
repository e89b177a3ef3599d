"""config.yaml as an editable document that keeps comments, key order and quoting."""

from __future__ import annotations

import errno
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ..errors import ConfigError
from ._errors import config_error, from_validation, from_yaml
from ._paths import KeyPath, parse_path, resolve_step
from ._yaml import (
    drop_heading_comment,
    give_tail_comment,
    make_yaml,
    move_tail_comment,
    restyle,
    take_tail_comment,
    to_node,
    to_plain,
)
from .model import Config

__all__ = ["MAX_DEPTH", "ConfigDocument"]

_MISSING = object()
MAX_DEPTH = 100  # nesting levels; CPA's config needs about 6
_BRACKETS = re.compile(r"[\[\]{}]")


class ConfigDocument:
    """A parsed config file: the round-trip tree plus the validated :class:`Config`.

    ``text()`` of a document that was not edited is the original text, byte for byte;
    edits through ``set`` / ``delete`` keep every comment, blank line and key order.

    >>> doc = ConfigDocument.from_text("port: 8317  # listen here\\n")
    >>> doc.set("routing.strategy", "fill-first")
    >>> doc.text()
    'port: 8317  # listen here\\nrouting:\\n  strategy: fill-first\\n'
    """

    def __init__(self, text: str, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._bom = text.startswith("\ufeff")
        self._crlf = "\r\n" in text  # parsed and rendered with \n, written back with \r\n
        self._original = text
        self._dirty = False
        self._rendered: str | None = None  # text() of the edited tree, until the next edit
        self._yaml = make_yaml(text)
        if _flow_depth(text) > MAX_DEPTH:  # refused before the parser spends seconds on it
            raise _too_deep(self._file)
        try:
            self._data: Any = self._yaml.load(text.removeprefix("\ufeff").replace("\r\n", "\n"))
            if self._data is not None and not isinstance(self._data, CommentedMap):
                raise config_error("the top level must be a mapping of keys", path=None, file=self._file)
            try:
                plain = to_plain(self._data) or {}
            except TypeError:  # ``? [a, b]``: a list or mapping as a key is YAML, not a config key
                raise config_error(
                    "a key must be a name, not a list or a mapping", path=None, file=self._file
                ) from None
            self._config = self._validate(plain)
        except YAMLError as exc:
            raise from_yaml(exc, self._file) from None
        except RecursionError:
            raise _too_deep(self._file) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ConfigDocument:
        """Read and validate a file; raises ``ConfigError`` (``OSError`` when unreadable)."""
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise config_error(f"not UTF-8 text ({exc.reason})", path=None, file=str(path)) from None
        return cls(text, path)

    @classmethod
    def from_text(cls, text: str, path: str | os.PathLike[str] | None = None) -> ConfigDocument:
        """Parse and validate YAML text (``path`` names it in errors and is the save target)."""
        return cls(text, path)

    @property
    def config(self) -> Config:
        """The validated configuration for the document as it is now."""
        return self._config

    @property
    def modified(self) -> bool:
        """True once ``set`` / ``delete`` changed the tree (``text()`` is then re-rendered)."""
        return self._dirty

    @property
    def _file(self) -> str | None:
        return str(self.path) if self.path is not None else None

    def text(self) -> str:
        """The document text: the original when unedited, else the re-rendered tree."""
        if not self._dirty:
            return self._original
        if self._rendered is None:
            self._rendered = self.render()
        return self._rendered

    def render(self) -> str:
        """Serialize the tree (what ``text()`` returns after an edit)."""
        if self._data is None:
            return self._original
        buffer = io.StringIO()
        self._yaml.dump(self._data, buffer)
        out = buffer.getvalue().replace("\n", "\r\n") if self._crlf else buffer.getvalue()
        return ("\ufeff" if self._bom else "") + out

    def replace_text(self, text: str) -> None:
        """Replace the whole document with ``text`` (parsed as on load; the path is kept)."""
        ConfigDocument.__init__(self, text, self.path)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write atomically (temp file in the same directory, then ``os.replace``).

        A symlink is written through (its target changes, the link stays). A file that
        cannot be replaced (a single-file bind mount, as CPA's docker-compose mounts
        config.yaml: EBUSY; a folder no temp file may go in) is rewritten in place, as
        CPA writes it."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path to save to")
        _write(Path(os.path.realpath(target)), self.text().encode("utf-8"))
        self._original, self._dirty, self.path = self.text(), False, target
        return target

    def get(self, path: KeyPath, default: Any = None) -> Any:
        """The plain value at a key path (``"routing.strategy"``, ``"api-keys[0]"``)."""
        node = self._data
        for segment in parse_path(path):
            try:
                node = node[resolve_step(node, segment)]
            except KeyError:
                return default
        return to_plain(node)

    def set(self, path: KeyPath, value: Any, *, validate: bool = True) -> None:
        """Set a value, creating missing parent mappings; new keys go at the end of their mapping.

        With ``validate`` the result is checked first and ``ConfigError`` leaves the
        document untouched.
        """
        segments = parse_path(path)
        config = self._validate(_plain_set(self.plain(), segments, value), tree=None) if validate else None
        if self._data is None:
            self._data = CommentedMap()
        parent = self._data
        for index, segment in enumerate(segments[:-1]):
            parent = _child(parent, segment, segments[index + 1])
        last = segments[-1]
        key = int(last) if isinstance(parent, list) else last
        if (key == len(parent)) if isinstance(parent, list) else (key not in parent):
            _append(parent, key, to_node(value))
        else:
            heading = take_tail_comment(parent, key)  # it introduces the next key (CPA keeps it)
            parent[key] = restyle(parent[key], to_node(value))
            give_tail_comment(parent, key, heading)
        self._mark_edited(config)

    def delete(self, path: KeyPath, *, validate: bool = True) -> bool:
        """Remove a key or list item; False when it was not there. Comments of the next key stay."""
        segments = parse_path(path)
        if self.get(segments, _MISSING) is _MISSING:
            return False
        config = self._validate(_plain_delete(self.plain(), segments), tree=None) if validate else None
        parent = self._data
        for segment in segments[:-1]:
            parent = parent[resolve_step(parent, segment)]
        key = resolve_step(parent, segments[-1])
        keys = list(parent.keys()) if isinstance(parent, CommentedMap) else list(range(len(parent)))
        position = keys.index(key)
        if position > 0:
            drop_heading_comment(parent, keys[position - 1])
            move_tail_comment(parent, key, keys[position - 1])
        del parent[key]
        self._mark_edited(config)
        return True

    def plain(self) -> dict[str, Any]:
        """The whole document as plain data (YAML key names)."""
        return to_plain(self._data) or {}

    def _mark_edited(self, config: Config | None) -> None:
        self._dirty, self._rendered = True, None
        self._config = config if config is not None else self._validate(self.plain())

    def _validate(self, plain: dict[str, Any], tree: Any = _MISSING) -> Config:
        try:
            return Config.model_validate(plain)
        except ValidationError as exc:
            raise from_validation(exc, self._file, self._data if tree is _MISSING else tree) from None


_IN_PLACE_MKSTEMP = (errno.EACCES, errno.EPERM, errno.EROFS)  # the folder, not the file, is closed
_IN_PLACE_REPLACE = (errno.EBUSY, errno.EXDEV)  # the file is a mount point


def _write(target: Path, data: bytes) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        if exc.errno not in _IN_PLACE_MKSTEMP or not target.is_file():
            raise
        return _write_in_place(target, data)
    try:
        with os.fdopen(fd, "wb") as handle:
            if target.exists():  # the mode set on the open file, never by the temp file's name
                os.fchmod(handle.fileno(), target.stat().st_mode & 0o7777)
            handle.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno not in _IN_PLACE_REPLACE:
            raise
        _write_in_place(target, data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_in_place(target: Path, data: bytes) -> None:
    """Rewrite the file's bytes (no rename); a write that fails puts the old bytes back."""
    fd = os.open(target, os.O_RDWR)
    try:
        old = b""
        while chunk := os.read(fd, 1 << 16):
            old += chunk
        try:
            _pwrite_all(fd, data)
            os.ftruncate(fd, len(data))
        except OSError:
            _pwrite_all(fd, old)  # the blocks it had are still allocated
            os.ftruncate(fd, len(old))
            raise
    finally:
        os.close(fd)


def _pwrite_all(fd: int, data: bytes) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], done)


def _flow_depth(text: str) -> int:
    """The ``[``/``{`` nesting, counted up to just past ``MAX_DEPTH`` (an upper bound:
    brackets in quotes and comments count too)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # the common case: no scan
    depth = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                break
        elif depth:
            depth -= 1
    return depth


def _too_deep(file: str | None) -> ConfigError:
    return config_error(
        f"the document is nested too deeply (more than {MAX_DEPTH} levels)", path=None, file=file
    )


def _child(parent: Any, segment: str | int, next_segment: str | int) -> Any:
    if isinstance(parent, list):
        return parent[int(segment)]
    if segment not in parent or not isinstance(parent[segment], dict | list):
        empty = CommentedSeq() if isinstance(next_segment, int) else CommentedMap()
        if segment in parent:
            parent[segment] = empty
        else:
            _append(parent, segment, empty)
    return parent[segment]


def _append(parent: Any, key: str | int, node: Any) -> None:
    """Add at the end; comment lines that followed the old last entry move below the new one."""
    previous = (len(parent) - 1) if isinstance(parent, list) else (list(parent.keys()) or [None])[-1]
    if isinstance(parent, list):
        parent.append(node)
        key = len(parent) - 1
    else:
        parent[key] = node
    if previous is not None and previous != -1 and not _is_empty_collection(node):
        move_tail_comment(parent, previous, key)


def _is_empty_collection(node: Any) -> bool:
    # An empty mapping created on the way to a deeper key is filled next; move comments then.
    return isinstance(node, dict | list) and not node


def _plain_set(plain: dict[str, Any], segments: list[str | int], value: Any) -> dict[str, Any]:
    node: Any = plain
    for index, segment in enumerate(segments[:-1]):
        if isinstance(node, list):
            node = node[int(segment)]
            continue
        if not isinstance(node.get(segment), dict | list):
            node[segment] = [] if isinstance(segments[index + 1], int) else {}
        node = node[segment]
    last = segments[-1]
    if isinstance(node, list) and int(last) == len(node):
        node.append(value)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return plain


def _plain_delete(plain: dict[str, Any], segments: list[str | int]) -> dict[str, Any]:
    node: Any = plain
    for segment in segments[:-1]:
        node = node[resolve_step(node, segment)]
    del node[resolve_step(node, segments[-1])]
    return plain
