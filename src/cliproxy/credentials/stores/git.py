"""The git token store (CPA's ``GITSTORE_GIT_URL``): a clone of the repository is the
workspace, with ``auths/`` and ``config/config.yaml`` in it; every change is a commit
pushed to the remote. Without ``GITSTORE_GIT_BRANCH`` the remote's default branch is
followed; a configured branch that does not exist on a non-empty remote is an error; an
empty remote is started on the configured branch (``main`` when none is set).

It runs the ``git`` command. ``GITSTORE_GIT_USERNAME`` / ``GITSTORE_GIT_TOKEN`` are sent as
HTTP basic auth through git's environment (``GIT_CONFIG_*``), so they are neither written
into ``.git/config`` nor shown in the process list; git never prompts. Every git command
has a time limit, and an error never shows credentials written into the remote's URL.

As in CPA, a start-up brings back a tracked file that is missing from the work tree (a
credential deleted by hand while the proxy was down stays in the store; a delete made
while the proxy runs, through the management API or by hand, is pushed by the mirror, which
cannot tell the two apart); a repository whose objects are
missing is cloned again from the remote (:mod:`.git_recovery`); and after a push, at most
every five minutes, ``git gc`` packs the repository.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .base import StoreError, TokenStore, mask_url
from .git_recovery import damage, recover

__all__ = ["GitStore"]

log = logging.getLogger(__name__)

TIMEOUT = 120  # seconds, any one git command (a clone or a push included)
IDENTITY = ("-c", "user.name=cliproxy", "-c", "user.email=cliproxy@localhost", "-c", "commit.gpgsign=false")
GC_INTERVAL = 300.0  # seconds between two ``git gc`` runs (CPA's gcInterval)
GC_PRUNE = "24.hours.ago"  # unreachable objects younger than this are kept (CPA's gcPruneGracePeriod)
# git's own automatic gc is off (it would fork a background job after a commit): ours runs
# on the schedule above, in the mirror's thread, under the time limit.
_GIT_CONFIG = {"gc.auto": "0", "maintenance.auto": "false"}


class GitStore(TokenStore):
    kind = "git"

    def __init__(self, root: Path, url: str, username: str = "", token: str = "", branch: str = "") -> None:
        super().__init__(root)
        if shutil.which("git") is None:
            raise StoreError("git store: the git command is not installed")
        self.url = url
        self.branch = branch.strip()
        self._env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        self._secrets = [token] if token else []
        settings = dict(_GIT_CONFIG)
        if token:
            basic = base64.b64encode(f"{username or 'git'}:{token}".encode()).decode()
            settings["http.extraHeader"] = f"Authorization: Basic {basic}"
            self._secrets.append(basic)
        self._env["GIT_CONFIG_COUNT"] = str(len(settings))
        for i, (key, value) in enumerate(settings.items()):
            self._env[f"GIT_CONFIG_KEY_{i}"] = key
            self._env[f"GIT_CONFIG_VALUE_{i}"] = value
        self._last_gc: float | None = None  # monotonic time of the last gc; None: none yet

    def describe(self) -> str:
        return f"git ({self.root})"

    def git(
        self, *args: str, cwd: Path | None = None, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one git command, at most :data:`TIMEOUT` seconds: past it the command and its
        helpers (``git-remote-https``) are killed and :class:`StoreError` says so."""
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
        try:
            child = subprocess.Popen(
                ["git", *args],
                cwd=cwd or self.root,
                env=self._env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its own process group, so a kill reaches the helpers
            )
        except OSError as exc:
            raise StoreError(f"git store: cannot run git {verb}: {exc}") from None
        try:
            out, err = child.communicate(stdin, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # the whole group ended meanwhile
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):  # a helper that left the group
                child.communicate(timeout=5)
            raise StoreError(f"git store: git {verb} did not finish within {TIMEOUT} s") from None
        done = subprocess.CompletedProcess(["git", *args], child.returncode, out, err)
        if check and done.returncode != 0:
            why = self.mask(err.strip() or out.strip())
            raise StoreError(f"git store: git {verb} failed: {why}")
        return done

    def mask(self, text: str) -> str:
        """``text`` with the user and password of any URL, and the token, replaced by ``***``."""
        text = mask_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- the repository

    def _remote_branches(self) -> tuple[list[str], str]:
        """The remote's branch names and its default branch ('' for an empty remote)."""
        out = self.git("ls-remote", "--symref", self.url, cwd=self.root.parent).stdout
        branches, default = [], ""
        for line in out.splitlines():
            if line.startswith("ref: ") and line.endswith("\tHEAD"):
                default = line[5:].split("\t")[0].removeprefix("refs/heads/")
            elif "\trefs/heads/" in line:
                branches.append(line.split("\trefs/heads/", 1)[1])
        return branches, default

    def ensure_repository(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        branches, default = self._remote_branches()
        if self.branch and branches and self.branch not in branches:
            raise StoreError(f"git store: branch {self.branch!r} does not exist on the remote")
        kept = ""  # with no default advertised, a workspace stays on its branch
        if not self.branch and not default and (self.root / ".git").is_dir():
            kept = self.git("symbolic-ref", "--short", "HEAD", check=False).stdout.strip()
        target = (
            self.branch
            or default
            or (kept if kept in branches else "")
            or (branches[0] if branches else "main")
        )
        if not (self.root / ".git").is_dir():
            if self.root.exists() and any(self.root.iterdir()):
                raise StoreError(f"git store: {self.root} exists and is not a git repository")
            if branches:
                self.git("clone", "--branch", target, self.url, str(self.root), cwd=self.root.parent)
            else:  # an empty remote: start it on the target branch
                self.root.mkdir(parents=True, exist_ok=True)
                self.git("init", "--initial-branch", target)
                self.git("remote", "add", "origin", self.url)
        elif branches:
            self.git("remote", "set-url", "origin", self.url)
            if why := damage(self):
                recover(self, target, why)
            self.git("fetch", "origin", f"+refs/heads/{target}:refs/remotes/origin/{target}")
            self._restore_missing()
            current = self.git("symbolic-ref", "--short", "HEAD", check=False).stdout.strip()
            if current != target:
                self.git("checkout", "-B", target, f"origin/{target}")
            else:
                self._refuse_overwriting_local_edits(f"origin/{target}")
            if current == target and (
                self.git("merge", "--ff-only", f"origin/{target}", check=False).returncode != 0
                and self.git("rebase", f"origin/{target}", check=False).returncode != 0
            ):
                self.git("rebase", "--abort", check=False)
                log.warning("git store: local commits conflict with the remote: taking the remote's")
                self.git("reset", "--hard", f"origin/{target}")
        self.current_branch = target

    def _restore_missing(self) -> None:
        """CPA's restoreMissingTrackedFiles: a tracked file missing from the work tree (deleted
        by hand while the proxy was down) is checked out again rather than pushed as a
        deletion: only a delete seen while the proxy runs leaves the store."""
        if self.git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode != 0:
            return  # no commit yet
        out = self.git("diff", "--no-renames", "--name-only", "--diff-filter=D", "-z", "HEAD").stdout
        gone = [path for path in out.split("\0") if path]
        if gone:
            log.warning(
                "git store: restored %d tracked file(s) missing from %s: %s (delete a credential "
                "through the management API to remove it from the store)",
                len(gone),
                self.root,
                ", ".join(gone),
            )
            self.git("checkout", "HEAD", "--", *gone)

    def dirty(self) -> set[str]:
        """The paths of the work tree that differ from the last commit (untracked ones too)."""
        status = self.git("status", "--porcelain", "-z", "--no-renames", "--untracked-files=all").stdout
        return {entry[3:] for entry in status.split("\0") if len(entry) > 3}

    def _refuse_overwriting_local_edits(self, upstream: str) -> None:
        """A file edited here and not yet pushed that the remote also changed: fail closed,
        keeping both versions, rather than let the pull discard the local one."""
        local = self.dirty()
        if not local:
            return
        if self.git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0:
            changed = self.git("diff", "--name-only", "-z", "HEAD", upstream).stdout.split("\0")
        else:  # no commit yet here: everything the remote has is a change
            changed = self.git("ls-tree", "-r", "-z", "--name-only", upstream).stdout.split("\0")
        both = sorted(local.intersection(changed))
        if both:
            raise StoreError(
                f"git store: the remote's change to {', '.join(both)} conflicts with local change; "
                f"commit or move the local file in {self.root} and start again"
            )

    def bootstrap(self, template: Path | None = None) -> None:
        self.ensure_repository()
        for folder in (self.auth_dir, self.config_path.parent):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            keep = folder / ".gitkeep"
            if not keep.exists():
                keep.write_bytes(b"")
        if not self.config_path.is_file():
            self.write_local(
                self.config_path, template.read_bytes() if template and template.is_file() else b""
            )
        self._tighten()
        self._commit_and_push("Initialize git token store", "auths", "config")
        log.info("git store: %s on branch %s", self.root, self.current_branch)

    def _tighten(self) -> None:
        """git checks files out 0644: tokens and the config are made 0600 (folders 0700)."""
        for folder in (self.auth_dir, self.config_path.parent):
            folder.chmod(0o700)
            for path in folder.rglob("*"):
                path.chmod(0o700 if path.is_dir() else 0o600)

    def _commit_and_push(self, message: str, *paths: str) -> None:
        tracked = [t for t in self.git("ls-files", "-z", "--", *paths).stdout.split("\0") if t]
        present = [
            p
            for p in paths
            if (self.root / p).exists() or any(t == p or t.startswith(p + "/") for t in tracked)
        ]
        if not present:
            return  # a path already gone and not in the repository: nothing to do
        self.git("add", "-A", "--", *present)
        if self.git("diff", "--cached", "--quiet", "--", *present, check=False).returncode == 0:
            return  # nothing to commit
        # only these paths: a change staged by hand elsewhere in the work tree stays out
        self.git(*IDENTITY, "commit", "-q", "-m", message, "--only", "--", *present)
        self._push()
        self._maybe_gc()  # after the push: a slow gc never holds a change back

    def _push(self) -> None:
        ref = f"HEAD:refs/heads/{self.current_branch}"
        if self.git("push", "origin", ref, check=False).returncode == 0:
            return
        # another host pushed first: put ours on top of theirs and push again
        self.git("fetch", "origin", self.current_branch)
        if self.git(*IDENTITY, "rebase", "FETCH_HEAD", check=False).returncode != 0:
            self.git("rebase", "--abort", check=False)
            raise StoreError("git store: the remote has conflicting changes; not pushed")
        self.git("push", "origin", ref)

    def _maybe_gc(self) -> None:
        """CPA's maybeRunGC: after a push, at most every :data:`GC_INTERVAL` seconds, pack the
        repository and drop unreachable objects older than a day. It runs where pushes run
        (start-up, then the mirror's thread), never on a request; a failure is only logged."""
        now = time.monotonic()
        if self._last_gc is not None and now - self._last_gc < GC_INTERVAL:
            return
        self._last_gc = now
        try:
            self.git("gc", "--quiet", f"--prune={GC_PRUNE}")
        except StoreError as exc:
            log.warning("%s", exc)

    # -- changes

    def put_auth(self, rel: str, data: bytes | None) -> None:
        if self.local_auth_path(rel) is None:
            raise StoreError(f"git store: {rel!r} is outside the auth folder")
        verb = "Delete" if data is None else "Update"
        self._commit_and_push(f"{verb} auth {rel}", f"auths/{rel}")

    def put_config(self, data: bytes) -> None:
        self._commit_and_push("Update config", "config/config.yaml")

    def pull(self, unpushed: Callable[[str], bool]) -> dict[str, bytes | None]:
        """Fetch the branch and take the files the remote changed since the last common
        commit (auth files and the config) into the work tree, except those changed here: not
        committed, committed but not pushed (a push the remote refused), or auth files
        ``unpushed`` names; those stay as they are and the mirror pushes them on top. Then
        the branch and the index move to the remote's commit."""
        upstream = f"refs/remotes/origin/{self.current_branch}"
        self.git("fetch", "origin", f"+refs/heads/{self.current_branch}:{upstream}")
        head = self.git("rev-parse", "HEAD").stdout.strip()
        if head == self.git("rev-parse", upstream).stdout.strip():
            return {}
        base = self.git("merge-base", "HEAD", upstream).stdout.strip()
        out = self.git("diff", "--no-renames", "--name-status", "-z", base, upstream).stdout.split("\0")
        ours = self.dirty() | {
            p for p in self.git("diff", "--name-only", "-z", base, head).stdout.split("\0") if p
        }
        take: list[str] = []
        gone: list[str] = []
        for status, path in zip(out[::2], out[1::2], strict=False):
            rel = path.removeprefix("auths/") if path.startswith("auths/") else None
            if path in ours or (rel is not None and unpushed(rel)):
                log.info("git store: keeping the local change to %s over the remote's", path)
                continue
            (gone if status == "D" else take).append(path)
        if take:
            self.git("checkout", upstream, "--", *take)
        for path in gone:
            (self.root / path).unlink(missing_ok=True)
        self.git("reset", "-q", upstream)  # the branch and index; the work tree is as just made
        self._tighten()
        applied: dict[str, bytes | None] = {}
        for path in take + gone:
            if path.startswith("auths/") and path.endswith(".json"):
                target = self.root / path
                applied[path.removeprefix("auths/")] = target.read_bytes() if target.is_file() else None
        return applied
