"""How the server processes of one host talk to the process that holds its token store's
mirror, so that hosts sharing one Redis see each other's auth changes while they run.

Every host has its own workspace; only the mirror's process (the single process, or the
supervisor with ``workers: N``) writes the remote. Two pipes join it to the servers:

- ``news``: the mirror writes ``u`` after it pushed an auth change (the remote has it now)
  and ``l`` after a pull brought remote changes into the workspace. One server process
  reads each byte: for ``u`` it publishes the ``auth`` notice marked ``pushed`` (the other
  hosts pull on it); for ``l`` it reads its auth-dir again and publishes an ``auth`` notice
  of this workspace, so that its sibling workers read theirs.
- ``pull``: a server that gets a ``pushed`` notice from another workspace writes a byte;
  the mirror's thread pushes what is pending here, then pulls (:meth:`Mirror.pull`).

Every ``auth`` notice carries the workspace's random mark (``ws``), so a notice of this
workspace (a sibling worker's write, this host's own push) never starts a pull, and another
workspace's notice that is not a push (its own workers' reads) is ignored. The pipes'
descriptors and the mark reach the workers in ``CLIPROXY_STORE_LINK``; a process checks
each descriptor is still that pipe (its inode) before it uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import stat
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["LINK_ENV", "Link", "StoreLink", "link_fds", "store_link"]

log = logging.getLogger(__name__)

LINK_ENV = "CLIPROXY_STORE_LINK"
PUSHED = b"u"
PULLED = b"l"
RESEND = (1.0, 8.0)  # a push notice not published: tried again after 1 s, doubling up to 8 s


def _inode(fd: int) -> int:
    return os.fstat(fd).st_ino


class Link:
    """The mirror's end (in the process that runs the mirror thread)."""

    def __init__(self, on_pull: Callable[[], None]) -> None:
        self.token = os.urandom(8).hex()
        self._pull_r, self._pull_w = os.pipe()
        self._news_r, self._news_w = os.pipe()
        for fd in (self._pull_r, self._pull_w, self._news_r, self._news_w):
            os.set_blocking(fd, False)
        self._on_pull = on_pull
        self._stop = threading.Event()
        os.environ[LINK_ENV] = ":".join(
            str(v)
            for v in (
                self.token,
                self._pull_w,
                _inode(self._pull_w),
                self._news_r,
                _inode(self._news_r),
            )
        )
        self._thread = threading.Thread(target=self._read, name="store-pull-requests", daemon=True)
        self._thread.start()

    def news(self, what: bytes) -> None:
        """Tell one server process (thread-safe; a full pipe already holds news)."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._news_w, what)

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._pull_r], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(self._pull_r, 512)
            except BlockingIOError:
                continue
            except OSError:
                return
            if data:
                self._on_pull()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if os.environ.get(LINK_ENV, "").startswith(self.token + ":"):
            del os.environ[LINK_ENV]
        for fd in (self._pull_r, self._pull_w, self._news_r, self._news_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _parse(environ: Mapping[str, str]) -> tuple[str, int, int, int, int] | None:
    parts = environ.get(LINK_ENV, "").split(":")
    if len(parts) != 5 or not all(p.isdigit() for p in parts[1:]) or not parts[0]:
        return None
    return parts[0], int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4])


def link_fds(environ: Mapping[str, str]) -> tuple[int, ...]:
    """The descriptors a supervised worker inherits (none without a store)."""
    parsed = _parse(environ)
    if parsed is None or not (_is_pipe(parsed[1], parsed[2]) and _is_pipe(parsed[3], parsed[4])):
        return ()
    return (parsed[1], parsed[3])


def _is_pipe(fd: int, inode: int) -> bool:
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISFIFO(st.st_mode) and st.st_ino == inode


class StoreLink:
    """A server process's end: marks its notices, asks for pulls, takes the mirror's news."""

    def __init__(self, token: str, pull_fd: int, news_fd: int) -> None:
        self.token = token
        self.mark = {"ws": token}
        self._pull_fd = pull_fd
        self._news_fd = news_fd
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsent = False  # a push notice is still to be published
        self._retry: asyncio.Event | None = None  # try it now (the channel is back, another push)
        self._sender: asyncio.Task[None] | None = None

    def answered(self, message: object) -> bool:
        """Handle an ``auth`` notice; True when the caller need not read its auth-dir now:
        this workspace's own push (nothing new here), another workspace's push (a pull is
        asked; the files are read once it brought them), or another workspace's write (its
        files are not these: its push notice follows). Only a write into this workspace (a
        sibling worker's) or a notice of a host without a store (no ``ws``) is read."""
        if not isinstance(message, dict):
            return False
        ws = message.get("ws")
        if not message.get("pushed"):
            return ws is not None and ws != self.token
        return ws == self.token or self.ask_pull()

    def missed(self) -> None:
        """This process's notification channel is followed again after a loss: another
        host's push notice may have been missed meanwhile, so the mirror pulls; this
        host's own notice that could not be published is tried again at once."""
        self.ask_pull()
        if self._unsent and self._retry is not None:
            self._retry.set()

    def ask_pull(self) -> bool:
        """Ask the mirror for a pull; False when it cannot be asked."""
        try:
            os.write(self._pull_fd, b"p")
        except BlockingIOError:  # full: pulls are asked for already
            pass
        except OSError as exc:  # the mirror's process is gone: read what is here
            log.warning("token store: cannot ask for a pull: %s", exc)
            return False
        return True

    def listen(self, announce: Callable[[], Awaitable[bool]], on_pulled: Callable[[], None]) -> None:
        """When the mirror says so, on this loop: publish this workspace's push notice with
        ``announce`` (False: it was not sent; it is tried again until it is), or call
        ``on_pulled``."""
        self._loop = loop = asyncio.get_running_loop()
        self._retry = retry = asyncio.Event()

        def on_pushed() -> None:
            self._unsent = True
            retry.set()
            if self._sender is None or self._sender.done():
                self._sender = loop.create_task(self._announce(announce, retry))

        def readable() -> None:
            try:
                data = os.read(self._news_fd, 512)
            except BlockingIOError:  # a sibling worker took it
                return
            except OSError:
                data = b""
            if not data:  # every writer is gone
                self.stop()
                return
            if PUSHED in data:
                on_pushed()
            if PULLED in data:
                on_pulled()

        self._loop.add_reader(self._news_fd, readable)

    async def _announce(self, announce: Callable[[], Awaitable[bool]], retry: asyncio.Event) -> None:
        """Publish the push notice until it is out: the other hosts pull only on it. One
        notice covers every push before it. Tried again after :data:`RESEND` seconds,
        twice as long each time, and at once when the channel is back or another push comes."""
        wait = RESEND[0]
        while self._unsent:
            self._unsent = False
            retry.clear()
            try:
                sent = await announce()
            except Exception:  # (not a Redis outage: publish reports those as False)
                log.exception("token store: cannot announce a push")
                sent = False
            if sent:
                wait = RESEND[0]
                continue
            self._unsent = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # (not wait_for: tests/arch/test_cancellation.py)
                    await retry.wait()
            wait = min(wait * 2, RESEND[1])

    def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None
        if self._loop is not None:
            self._loop.remove_reader(self._news_fd)
            self._loop = None


_joined: StoreLink | None = None


def store_link(environ: Mapping[str, str] | None = None) -> StoreLink | None:
    """This process's end of the link to its store's mirror, ``None`` without a store."""
    global _joined
    parsed = _parse(os.environ if environ is None else environ)
    if parsed is None:
        return None
    token, pull_fd, pull_ino, news_fd, news_ino = parsed
    if _joined is not None and _joined.token == token:
        return _joined
    if not (_is_pipe(pull_fd, pull_ino) and _is_pipe(news_fd, news_ino)):
        log.warning("token store: %s does not name this process's pipes: ignored", LINK_ENV)
        return None
    _joined = StoreLink(token, pull_fd, news_fd)
    return _joined


def marks(link: StoreLink | None) -> dict[str, Any]:
    """The fields an ``auth`` notice of this process carries."""
    return {} if link is None else dict(link.mark)
