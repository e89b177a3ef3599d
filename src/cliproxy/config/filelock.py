"""One config file edited by several processes of a host (``workers: N``): a lock they all
take around each read-edit-save, and the name by which they recognise a shared file.

The lock is an advisory ``flock`` on the folder that holds the file (the file itself is
replaced by every atomic save, so a lock on it would not outlive the save). Where ``fcntl``
does not exist (Windows) there is no lock: one process per host there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from ._errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_WAIT", "config_lock", "file_identity"]

LOCK_WAIT = 10.0  # seconds an edit waits for the other processes' edits before it gives up


@contextlib.asynccontextmanager
async def config_lock(path: Path, wait: float = LOCK_WAIT) -> AsyncIterator[None]:
    """Hold the host-wide lock of the config file at ``path`` (polled every 10 ms, so the
    event loop never blocks); ``ConfigError`` when other edits hold it past ``wait``."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() > deadline:
                    raise ConfigError(
                        f"the config file is being edited by another process for over {wait:g}s"
                    ) from None
                await asyncio.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def file_identity(path: Path) -> str:
    """A name for the config file that processes sharing it compute alike and processes on
    other hosts (other files) do not: the host name and the device and inode of its folder."""
    try:
        st = os.stat(path.parent)
    except OSError:
        return ""
    return f"{socket.gethostname()}:{st.st_dev}:{st.st_ino}"
