"""What every token store is: a remote copy of the config and the auth files, mirrored into
a local workspace that the proxy reads as its config file and auth-dir.

As in CPA, a store keeps ``config/config.yaml`` and ``auths/<file>.json`` in its backend
(a Postgres table, a git repository, an S3 bucket). At start-up :meth:`TokenStore.bootstrap`
brings them down into ``<local path>/<kind>/`` (the remote wins; an empty remote is seeded
from the local config), the proxy then runs on those files as it would on a plain auth-dir,
and :class:`~.mirror.Mirror` sends every change made to them (a sign-in, a refresh, a
management edit or delete) back up. The auth-dir stays the default: with none of the
environment variables set there is no store.

The methods block (a database round trip, a git push, an HTTP PUT): they run at start-up
before the event loop, and in the mirror's own thread afterwards, never on the event loop.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["StoreError", "StoreSettings", "TokenStore", "mask_url", "settings_from_env"]

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The token store cannot be reached or set up; the message says which and why."""


_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def mask_url(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """CPA's look-up: ``NAME`` then ``name``; a blank value counts as unset."""
    for key in (name, name.lower()):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Which store, from CPA's environment variables (``PGSTORE_*``, ``OBJECTSTORE_*``,
    ``GITSTORE_*``), and where its local workspace goes."""

    kind: str  # "postgres" | "object" | "git"
    local_root: Path  # the workspace: <local path>/<pgstore|objectstore|gitstore>
    options: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show a DSN password, a secret key, a token or a URL's password
        hidden = {
            k: ("***" if k in ("dsn", "secret_key", "token") else mask_url(v))
            for k, v in self.options.items()
        }
        return f"StoreSettings(kind={self.kind!r}, local_root={str(self.local_root)!r}, options={hidden!r})"


def settings_from_env(environ: Mapping[str, str], cwd: Path) -> StoreSettings | None:
    """The store CPA would pick for ``environ``: Postgres when ``PGSTORE_DSN`` is set, else
    object storage when ``OBJECTSTORE_ENDPOINT`` is, else git when ``GITSTORE_GIT_URL`` is;
    ``None`` (the plain auth-dir) when none is. The workspace is under the store's
    ``*_LOCAL_PATH``, else ``WRITABLE_PATH``, else the working directory."""
    writable = _env(environ, "WRITABLE_PATH")
    base = Path(writable) if writable else cwd

    def local(name: str) -> Path:
        given = _env(environ, name)
        return Path(given).expanduser() if given else base

    if dsn := _env(environ, "PGSTORE_DSN"):
        options = {"dsn": dsn, "schema": _env(environ, "PGSTORE_SCHEMA") or ""}
        return StoreSettings("postgres", local("PGSTORE_LOCAL_PATH") / "pgstore", options)
    if endpoint := _env(environ, "OBJECTSTORE_ENDPOINT"):
        options = {
            "endpoint": endpoint,
            "access_key": _env(environ, "OBJECTSTORE_ACCESS_KEY") or "",
            "secret_key": _env(environ, "OBJECTSTORE_SECRET_KEY") or "",
            "bucket": _env(environ, "OBJECTSTORE_BUCKET") or "",
        }
        return StoreSettings("object", local("OBJECTSTORE_LOCAL_PATH") / "objectstore", options)
    if url := _env(environ, "GITSTORE_GIT_URL"):
        options = {
            "url": url,
            "username": _env(environ, "GITSTORE_GIT_USERNAME") or "",
            "token": _env(environ, "GITSTORE_GIT_TOKEN") or "",
            "branch": _env(environ, "GITSTORE_GIT_BRANCH") or "",
        }
        return StoreSettings("git", local("GITSTORE_LOCAL_PATH") / "gitstore", options)
    return None


class TokenStore(abc.ABC):
    """One backend. Subclasses move bytes; the workspace layout and the path checks are here."""

    kind = "store"
    keeps_cooldowns = False  # True: the ``.cds`` files (save-cooldown-status) go to the remote too

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self._pulled: dict[str, str] = {}  # auth id -> the remote's version last looked at

    @property
    def auth_dir(self) -> Path:
        return self.root / "auths"

    @property
    def config_path(self) -> Path:
        return self.root / "config" / "config.yaml"

    def describe(self) -> str:
        """Where the store is, for the start-up log line (no secrets)."""
        return self.kind

    # -- what a backend does

    @abc.abstractmethod
    def bootstrap(self, template: Path | None = None) -> None:
        """Make the workspace a copy of the remote: the config (seeded into the remote from
        ``template``, else an empty file, when the remote has none) and every auth file
        (the local auth folder is replaced by the remote's)."""

    @abc.abstractmethod
    def put_auth(self, rel: str, data: bytes | None) -> None:
        """Store auth file ``rel`` (a POSIX path under ``auths/``); ``None``: it was deleted."""

    @abc.abstractmethod
    def put_config(self, data: bytes) -> None:
        """Store the config file's new text."""

    def put_cooldowns(self, rel: str, data: bytes | None) -> None:
        """Store cooldown file ``rel`` (a ``.cds`` path under ``auths/``); ``None``: it was
        deleted. Only a store that ``keeps_cooldowns`` is asked."""
        return None

    def close(self) -> None:
        """Release connections."""
        return None

    # -- bringing other hosts' changes down (the mirror's thread, on a notice)

    def remote_versions(self) -> dict[str, str]:
        """Auth id -> a version of the remote's record (changes whenever the record does)."""
        raise NotImplementedError(f"{self.kind} store: cannot pull")

    def remote_read(self, rels: list[str]) -> dict[str, bytes]:
        """The remote's bytes of the auth records ``rels`` (one gone meanwhile is left out)."""
        raise NotImplementedError(f"{self.kind} store: cannot pull")

    def same_record(self, local: bytes, remote: bytes) -> bool:
        return local == remote

    def pull(self, unpushed: Callable[[str], bool]) -> dict[str, bytes | None]:
        """Bring the remote's new, changed and deleted ``*.json`` auth records into the auth
        folder, but not over a local file for which ``unpushed(auth id)`` says it changed
        here since the last push; returns what changed here (auth id -> bytes, ``None``:
        deleted). Only records whose version moved since the last pull are read."""
        versions = {rel: v for rel, v in self.remote_versions().items() if rel.endswith(".json")}
        changed = sorted(rel for rel, v in versions.items() if self._pulled.get(rel) != v)
        fetched = self.remote_read(changed) if changed else {}
        applied: dict[str, bytes | None] = {}
        for rel in changed:
            data, path = fetched.get(rel), self.local_auth_path(rel)
            if data is None:  # gone since the listing: the next pull sees it
                continue
            if path is None:  # an id outside the auth folder: never written (as at start-up)
                self._pulled[rel] = versions[rel]
                continue
            if unpushed(rel):  # goes up next: the remote's version moves then
                log.info("%s store: keeping the local change to %s over the remote's", self.kind, rel)
                self._pulled[rel] = versions[rel]
                continue
            try:
                try:
                    local: bytes | None = path.read_bytes()
                except FileNotFoundError:
                    local = None
                if local is None or not self.same_record(local, data):
                    self.write_local(path, data)
                    applied[rel] = data
            except OSError as exc:  # disk full, permissions: not noted, so the next pull takes it
                log.warning(
                    "%s store: cannot take the remote's %s (next pull retries): %s", self.kind, rel, exc
                )
                continue
            self._pulled[rel] = versions[rel]  # only once the workspace holds it
        for rel in [r for r in self._pulled if r not in versions]:
            del self._pulled[rel]
        if self.auth_dir.is_dir():
            for path in self.auth_dir.rglob("*.json"):
                rel = path.relative_to(self.auth_dir).as_posix()
                if rel in versions or any(p.startswith(".") for p in rel.split("/")):
                    continue
                if not unpushed(rel):  # pushed before, and gone from the remote since
                    path.unlink(missing_ok=True)
                    applied[rel] = None
        return applied

    # -- helpers for backends

    def relative(self, path: Path) -> str | None:
        """``path`` as an auth id (``a/b.json``) when it lies inside the auth folder, else ``None``."""
        try:
            rel = path.resolve().relative_to(self.auth_dir)
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else None

    def local_auth_path(self, rel: str) -> Path | None:
        """Where auth id ``rel`` lives in the workspace; ``None`` for an id that would land
        outside the auth folder (``../x``, an absolute path): such a record is skipped."""
        pure = PurePosixPath(rel.replace("\\", "/"))
        if not rel.strip() or pure.is_absolute() or ".." in pure.parts or not pure.parts:
            return None
        return self.auth_dir.joinpath(*pure.parts)

    def write_local(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.bootstrap")
        try:
            tmp.write_bytes(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError:  # (disk full): no half-written file left behind
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise

    def reset_auth_dir(self, records: Mapping[str, bytes]) -> None:
        """Replace the local auth folder with ``records`` (auth id -> bytes)."""
        if self.auth_dir.exists():
            for old in sorted(self.auth_dir.rglob("*"), reverse=True):
                if old.is_file() or old.is_symlink():
                    old.unlink()
                elif old.is_dir():
                    old.rmdir()
        self.auth_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for rel, data in records.items():
            path = self.local_auth_path(rel)
            if path is None:
                log.warning("%s store: skipping auth %r: outside the auth folder", self.kind, rel)
                continue
            self.write_local(path, data)

    def seed_config(self, template: Path | None) -> bytes:
        """The text to start a remote with no config from: the local copy when there is one,
        else ``template``, else empty."""
        for candidate in (self.config_path, template):
            if candidate is not None and candidate.is_file():
                return candidate.read_bytes()
        return b""
