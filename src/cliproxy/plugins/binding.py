"""Auth files of plugin providers, handed to their plugin before the pool shows them.

A reload reads every auth file at once; a file of a provider no built-in serves must
first go through its plugin (``auth.parse``, ``model.for_auth``; an auth provider's alone
for a file the OpenAI-compatible provider serves: ``plugins.compat_bind``), which takes
plugin calls. Until that is done the pool keeps what it held for the file (a new file appears
once bound, a removed one leaves at once), so no request and no management listing sees
a file its plugin has not read yet. Each file is bound by a task of its own, within
``FILE_TIMEOUT`` (each plugin call within ``CALL_TIMEOUT``), so a plugin slow on one
file holds back no other; a file read again while its task runs is bound again and only
its newest reading is swapped in. Files bound at about the same time are swapped in
together (one pool and model rebuild).

A token refreshed on one of several credentials of a file lives only in memory (the
shared file is not rewritten, as in CPA). Binding the file again keeps it, key by key,
while the file still says for that key what it said when the credential was made.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from cliproxy.credentials.compat_auth import native_compat
from cliproxy.credentials.record import Credential
from cliproxy.plugins.compat_bind import parse_compat_auths
from cliproxy.plugins.host import PluginHost
from cliproxy.plugins.models import VIRTUAL, bind_plugin_auths
from cliproxy.providers import registry as builtin

__all__ = ["CALL_TIMEOUT", "FILE_TIMEOUT", "FileBinder", "unserved_files"]

log = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0  # seconds each auth.parse / model.for_auth call of a reload may take
# seconds one file's whole binding may take (its plugins' identifiers, auth.parse, every
# model.for_auth); past it the file goes in as read, as when its auth.parse fails
FILE_TIMEOUT = 120.0
_MISSING = object()


class FileBinder:
    """Holds plugin-provider auth files back from the pool until their plugin has bound
    them. ``current`` gives the pool's credentials; ``swap(bound, paths)`` puts ``bound``
    in place of every credential of ``paths``."""

    def __init__(
        self,
        host: PluginHost,
        config: Callable[[], Any],
        current: Callable[[], Sequence[Credential]],
        swap: Callable[[list[Credential], set[Path]], None],
    ) -> None:
        self._host = host
        self._config = config
        self._current = current
        self._swap = swap
        self._pending: dict[Path, Credential] = {}  # the newest reading of each file to bind
        self._parsed: dict[str, dict[str, Any]] = {}  # a shared file's credential: its metadata as read
        self._tasks: dict[Path, asyncio.Task[None]] = {}  # the file each running bind is for
        self._ready: dict[Path, list[Credential]] = {}  # bound, to be swapped in at the next turn
        self._unserved: list[tuple[str, int]] = []  # what report_unserved said last

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def stage(
        self, creds: Sequence[Credential], read: Collection[Path] | None, *, start: bool = True
    ) -> list[Credential]:
        """What the pool takes now out of ``creds`` (as just read; ``read``: the files that
        reading covered, ``None`` all of them): all but the plugin-provider files, each of
        which keeps the credentials the pool holds for it until it is bound. ``start``:
        bind now (else at the next stage that starts)."""
        held = {c.path: c for c in creds if c.path is not None and _held(c)}
        for path in [p for p in self._pending if (read is None or p in read) and p not in held]:
            del self._pending[path]  # gone, or no longer a plugin's file
        self._pending.update(held)
        now = [c for c in creds if c.path not in held]
        now += [c for c in self._current() if c.path in held]
        if start and self._pending:
            loop = asyncio.get_running_loop()
            for path in self._pending:
                if path not in self._tasks:  # a running task binds the newest reading next
                    self._tasks[path] = loop.create_task(self._bind(path))
        return now

    def report_unserved(self) -> None:
        """Warn once about the pool's auth files of types nothing serves (no built-in provider,
        no plugin executor, no OpenAI-compatible endpoint): they load and are never used.
        Said again only when that list changes; not while files wait for their plugin, nor
        before the configured plugins are loaded (one of them may serve the type; the end of
        an apply reports)."""
        config = self._config()
        host = self._host
        if self._pending or (config.plugins.enabled and (not host.enabled or host.applying)):
            return
        unserved = unserved_files(self._current(), config)
        if unserved == self._unserved:
            return
        self._unserved = unserved
        if unserved:
            log.warning(
                "%d auth file(s) of types no provider serves: %s; they are loaded and never used",
                sum(n for _, n in unserved),
                ", ".join(f"{kind} ({n})" for kind, n in unserved),
            )

    def drop(self) -> None:
        """No plugin binds files any more: forget what waits (a running bind is not swapped in)."""
        self._pending.clear()

    async def settle(self, timeout: float | None, paths: Collection[Path] | None = None) -> bool:
        """Wait until every staged file (of ``paths`` only, when given) is bound; False
        when ``timeout`` seconds pass first (the binds go on)."""
        tasks = [t for p, t in self._tasks.items() if paths is None or p in paths]
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        self._flush()  # (a finished bind's turn may not have come yet)
        return not pending

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _bind(self, path: Path) -> None:
        """Bind ``path``'s newest reading until none is left to bind."""
        try:
            while (cred := self._pending.get(path)) is not None:
                try:
                    async with asyncio.timeout(FILE_TIMEOUT):
                        config = self._config()
                        bound = await bind_plugin_auths(self._host, [cred], config, timeout=CALL_TIMEOUT)
                        bound = await parse_compat_auths(self._host, bound, config, timeout=CALL_TIMEOUT)
                except TimeoutError:
                    log.warning(
                        "plugin auth file %s not bound within %g s: it goes in as read",
                        path.name,
                        FILE_TIMEOUT,
                    )
                    bound = [cred]
                except Exception:  # a bug of ours: the file goes in unbound rather than never
                    log.exception("binding plugin auth file %s failed", path.name)
                    bound = [cred]
                if self._pending.get(path) is cred:  # else read again meanwhile: bind that
                    del self._pending[path]
                    if not self._ready:
                        asyncio.get_running_loop().call_soon(self._flush)
                    self._ready[path] = [c for c in bound if c.path == path]
        finally:
            if self._tasks.get(path) is asyncio.current_task():
                del self._tasks[path]

    def _flush(self) -> None:
        """Swap in every file bound since the last flush, at once."""
        if not self._ready:
            return
        ready, self._ready = self._ready, {}
        fresh = [c for creds in ready.values() for c in creds]
        paths = set(ready)
        self._carry(fresh, paths)
        self._swap(fresh, paths)

    def _carry(self, fresh: list[Credential], paths: set[Path]) -> None:
        """Keep on each of ``fresh`` what a refresh changed in memory on the credential it
        replaces, for every metadata key the file did not change since."""
        before = {c.id: c for c in self._current() if c.path in paths and c.attributes.get(VIRTUAL)}
        for cred in fresh:
            if not cred.attributes.get(VIRTUAL):
                continue
            parsed = copy.deepcopy(cred.metadata)
            base, old = self._parsed.get(cred.id), before.get(cred.id)
            self._parsed[cred.id] = parsed
            if base is None or old is None or old is cred or old.path != cred.path:
                continue
            for key in base.keys() | old.metadata.keys():
                kept, was = old.metadata.get(key, _MISSING), base.get(key, _MISSING)
                if kept == was or parsed.get(key, _MISSING) != was:
                    continue  # not changed in memory, or the file changed it: the file's
                if kept is _MISSING:
                    cred.metadata.pop(key, None)
                else:
                    cred.metadata[key] = kept
        live = {c.id for c in self._current() if c.attributes.get(VIRTUAL)} | {c.id for c in fresh}
        for key in [key for key in self._parsed if key not in live]:
            del self._parsed[key]


def _held(cred: Credential) -> bool:
    """A file a plugin may bind: not bound yet, of a provider no built-in serves."""
    attrs = cred.attributes
    return not attrs.get("plugin") and not attrs.get(VIRTUAL) and builtin.get(cred.provider) is None


def unserved_files(creds: Sequence[Credential], config: Any) -> list[tuple[str, int]]:
    """Each type of enabled auth file no provider serves, with its file count, most first."""
    files: dict[str, set[Path]] = {}
    for cred in creds:
        if cred.path is None or cred.disabled or not _held(cred) or native_compat(cred, config):
            continue
        files.setdefault(cred.provider.strip().lower() or "(none)", set()).add(cred.path)
    return sorted(((kind, len(paths)) for kind, paths in files.items()), key=lambda kv: (-kv[1], kv[0]))
