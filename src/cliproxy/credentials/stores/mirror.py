"""Send the workspace's changes to the token store, off the event loop.

One daemon thread looks at the auth folder and the config file (every ``interval`` seconds,
and at once when this process writes a credential: :meth:`Mirror.note_written` is a
:func:`~cliproxy.credentials.storage.add_write_listener` listener) and pushes what changed
since the last push: new and changed ``*.json`` files, deleted ones, the config text (and
the ``*.cds`` cooldown files, for a store that keeps them: Postgres). It
compares contents, not only times, so a rewrite with the same bytes costs nothing.

Looking at the files, rather than hooking every writer, catches every way a file changes:
a sign-in, a token refresh in any worker process, a management upload or delete, an edit
by hand. With ``workers: N`` the supervisor runs the one mirror for all workers.

It also brings other hosts' auth changes down, when asked (:meth:`Mirror.request_pull`: a
host's ``pushed`` notice, through :mod:`.link`), never on a timer: it first pushes what is
pending here, then takes the remote's changed and deleted auth files, except those changed
here and not yet pushed (those stay, and go up on the next pass: the newer local token
wins). A remote that cannot be reached is logged and tried again on the next notice.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from .base import TokenStore, mask_url
from .link import PULLED, PUSHED, Link

__all__ = ["Mirror"]

log = logging.getLogger(__name__)


_CDS = ".cds"  # a cooldown file (credentials.persist), sent to a store that keeps_cooldowns


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Mirror:
    def __init__(self, store: TokenStore, *, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self.pushes = 0
        self.pulls = 0  # auth files the pulls changed here
        self.failures = 0
        self.link: Link | None = None
        self._pull = False
        self._seen: dict[str, tuple[int, int, str]] = {}  # auth id -> (mtime_ns, size, sha256)
        self._config: tuple[int, int, str] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()  # pull() pushes first, under the same lock
        self._thread: threading.Thread | None = None

    def start(self, *, link: bool = False) -> None:
        """Take the workspace as it is now (just bootstrapped: what the store holds) and watch;
        ``link``: open the pipes the server processes talk to it through (:mod:`.link`)."""
        if link:
            self.link = Link(self.request_pull)
        with self._lock:
            self._seen = self._scan()
            self._config = self._config_state()
        self._thread = threading.Thread(
            target=self._loop, name=f"{self.store.kind}-store-mirror", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Push what is left, then stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.sync()
        if self.link is not None:
            self.link.close()
            self.link = None

    def request_pull(self) -> None:
        """Pull the remote's auth changes on the mirror's thread soon (thread-safe)."""
        self._pull = True
        self._wake.set()

    def note_written(self, path: Path, _data: bytes) -> None:
        if self.store.relative(path) is not None or path == self.store.config_path:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._pull:
                self._pull = False
                self.pull()
            else:
                self.sync()

    def pull(self) -> int:
        """Push what is pending, then bring the remote's auth changes into the workspace
        (not those changed here and not pushed yet); returns how many files it changed."""
        with self._lock:
            self.sync()
            config = self._config_state()
            config_pending = config is not None and (self._config is None or self._config[2] != config[2])
            try:
                applied = self.store.pull(self._unpushed)
            except Exception as exc:  # the remote is down: the next notice tries again
                self.failures += 1
                log.warning(
                    "%s store: cannot pull other hosts' changes (next notice retries): %s",
                    self.store.kind,
                    mask_url(str(exc)),
                )
                return 0
            for rel in applied:
                path = self.store.auth_dir / rel
                try:
                    st = path.stat()
                    self._seen[rel] = (st.st_mtime_ns, st.st_size, _digest(path.read_bytes()))
                except OSError:
                    self._seen.pop(rel, None)
            if not config_pending:
                self._config = self._config_state()
            if applied:
                log.info(
                    "%s store: took %d auth change(s) from the remote: %s",
                    self.store.kind,
                    len(applied),
                    ", ".join(sorted(applied)),
                )
                self.pulls += len(applied)
                if self.link is not None:
                    self.link.news(PULLED)
            return len(applied)

    def _unpushed(self, rel: str) -> bool:
        """Auth file ``rel`` differs here from what was last pushed or pulled (a new file, a
        change, a delete): the remote's version must not replace it."""
        path = self.store.auth_dir / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return rel in self._seen
        except OSError:
            return True
        seen = self._seen.get(rel)
        return seen is None or seen[2] != _digest(data)

    def sync(self) -> int:
        """Push every change since the last push; returns how many were pushed."""
        with self._lock:
            pushed = 0
            auths = 0
            now = self._scan()
            for rel, state in now.items():
                if self._seen.get(rel, (0, 0, ""))[2] != state[2]:
                    done = self._push(rel, self.store.auth_dir / rel, state)
                    pushed += done
                    auths += done if not rel.endswith(_CDS) else 0
                else:
                    self._seen[rel] = state
            for rel in [r for r in self._seen if r not in now]:
                put = self.store.put_cooldowns if rel.endswith(_CDS) else self.store.put_auth
                if self._attempt(f"delete auth {rel}", functools.partial(put, rel, None)):
                    del self._seen[rel]
                    pushed += 1
                    auths += not rel.endswith(_CDS)
            config = self._config_state()
            if config is not None and (self._config is None or self._config[2] != config[2]):
                data = self.store.config_path.read_bytes()
                if self._attempt("store the config", lambda: self.store.put_config(data)):
                    self._config = config
                    pushed += 1
            self.pushes += pushed
            if auths and self.link is not None:  # the other hosts can pull them now
                self.link.news(PUSHED)
            return pushed

    def _push(self, rel: str, path: Path, state: tuple[int, int, str]) -> int:
        try:
            data = path.read_bytes()
        except OSError:  # gone between the scan and the read: the next pass deletes it
            return 0
        put = self.store.put_cooldowns if rel.endswith(_CDS) else self.store.put_auth
        if self._attempt(f"store auth {rel}", lambda: put(rel, data)):
            self._seen[rel] = (state[0], state[1], _digest(data))
            return 1
        return 0

    def _attempt(self, what: str, action: Callable[[], None]) -> bool:
        try:
            action()
        except Exception as exc:  # the remote is down: keep the change and try on the next pass
            self.failures += 1
            log.warning("%s store: cannot %s (will retry): %s", self.store.kind, what, exc)
            return False
        return True

    def _scan(self) -> dict[str, tuple[int, int, str]]:
        """Auth id -> (mtime, size, digest) of every ``*.json`` (and ``*.cds``) in the auth folder; a file whose
        time and size did not move keeps its last digest (no read)."""
        found: dict[str, tuple[int, int, str]] = {}
        root = self.store.auth_dir
        if not root.is_dir():
            return found
        for path in root.rglob("*"):
            if not (path.suffix == ".json" or (path.suffix == _CDS and self.store.keeps_cooldowns)):
                continue
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue  # temp files of the atomic writer, .git
            key = rel.as_posix()
            try:
                st = path.stat()
                old = self._seen.get(key)
                if old is not None and old[0] == st.st_mtime_ns and old[1] == st.st_size:
                    found[key] = old
                else:
                    found[key] = (st.st_mtime_ns, st.st_size, _digest(path.read_bytes()))
            except OSError:
                continue
        return found

    def _config_state(self) -> tuple[int, int, str] | None:
        path = self.store.config_path
        try:
            st = path.stat()
            if self._config is not None and self._config[:2] == (st.st_mtime_ns, st.st_size):
                return self._config
            return (st.st_mtime_ns, st.st_size, _digest(path.read_bytes()))
        except OSError:
            return None
