"""Writing credential-dir files safely: a hidden temp file in the same folder, flushed,
``chmod 0600``, then renamed over the target, so a reader (or the auth-dir watcher)
never sees half a file and tokens are never world-readable.

Whoever must know about the process's own writes (the auth-dir watcher, so that it does
not report them back as outside changes) registers with :func:`add_write_listener`.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["WriteListener", "add_write_listener", "write_atomic", "write_json"]

log = logging.getLogger(__name__)

WriteListener = Callable[[Path, bytes], None]
# Listeners are per process, as the files are: one list, not per object. They may be
# called from a worker thread (refreshes write off the event loop) and must be quick.
_listeners: list[WriteListener] = []


def add_write_listener(listener: WriteListener) -> Callable[[], None]:
    """Call ``listener(path, data)`` after every completed write; returns the remover."""
    _listeners.append(listener)

    def remove() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return remove


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path``; a symlink is written through (its target is replaced, the
    link stays, as CPA's in-place writes leave it), so a file shared by a link stays shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = _through(path)
    shared = os.stat(target) if target is not path else None
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            # owner and mode set on the open file, never by name: the shared file's folder
            # may be another user's, who could put a link at ``tmp`` for root to follow
            if shared is None:
                os.fchmod(handle.fileno(), mode)
            else:  # a file shared through a link: its owner and group keep it (never the world)
                os.fchmod(handle.fileno(), _shared_mode(handle.fileno(), shared))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for listener in tuple(_listeners):
        try:
            listener(path, data)
        except Exception:  # a listener must never fail the write that already happened
            log.exception("credential write listener failed for %s", path.name)


def _through(path: Path) -> Path:
    """The file a write to ``path`` replaces: a symlink's target, through further links the
    proxy or root made; at a link another user made (the shared file's folder is theirs: they
    may point it at any file, for root to overwrite) ``path`` itself, the link replaced by
    our own file, as a dangling link is. CPA follows every link: a deliberate difference."""
    if not path.is_symlink() or not path.exists():
        return path
    trusted = {0, os.geteuid()} if hasattr(os, "geteuid") else None
    link = path
    for _ in range(40):  # (the kernel's own bound on a chain of links)
        try:
            link = Path(os.path.join(link.parent, os.readlink(link)))
            if not link.is_symlink():
                return Path(os.path.realpath(link))
            if trusted is not None and link.lstat().st_uid not in trusted:
                log.warning("auth file %s: not written through %s, a link another user made", path.name, link)
                return path
        except OSError:  # changed meanwhile
            return path
    return path


def _shared_mode(fd: int, shared: os.stat_result) -> int:
    """Give the file open as ``fd`` the shared file's owner and group (the owner: root alone
    may; the group: a member may); the shared file's mode less everyone else's access, and
    less the group's when the group could not be kept (it would be this process's group)."""
    for uid in (shared.st_uid, -1):
        try:
            os.fchown(fd, uid, shared.st_gid)
        except OSError:
            continue
        return stat.S_IMODE(shared.st_mode) & ~0o007
    return stat.S_IMODE(shared.st_mode) & ~0o077


def write_json(path: Path, obj: Any, mode: int = 0o600) -> None:
    """``obj`` as indented JSON (the layout CPA writes)."""
    write_atomic(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n", mode)
