"""The git token store (CPA's ``GITSTORE_GIT_URL``): a clone of the repository is the
workspace, with ``auths/`` and ``config/config.yaml`` in it; every change is a commit
pushed to the remote. Without ``GITSTORE_GIT_BRANCH`` the remote's default branch is
followed; a configured branch that does not exist on a non-empty remote is an error; an
empty remote is started on the configured branch (``main`` when none is set).

It runs the ``git`` command. ``GITSTORE_GIT_USERNAME`` / ``GITSTORE_GIT_TOKEN`` are sent as
HTTP basic auth through git's environment (``GIT_CONFIG_*``), so they are neither written
into ``.git/config`` nor shown in the process list; git never prompts.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
from pathlib import Path

from .base import StoreError, TokenStore

__all__ = ["GitStore"]

log = logging.getLogger(__name__)

TIMEOUT = 120
IDENTITY = ("-c", "user.name=cliproxy", "-c", "user.email=cliproxy@localhost", "-c", "commit.gpgsign=false")


class GitStore(TokenStore):
    kind = "git"

    def __init__(self, root: Path, url: str, username: str = "", token: str = "", branch: str = "") -> None:
        super().__init__(root)
        if shutil.which("git") is None:
            raise StoreError("git store: the git command is not installed")
        self.url = url
        self.branch = branch.strip()
        self._env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        if token:
            basic = base64.b64encode(f"{username or 'git'}:{token}".encode()).decode()
            self._env.update(
                GIT_CONFIG_COUNT="1",
                GIT_CONFIG_KEY_0="http.extraHeader",
                GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
            )

    def describe(self) -> str:
        return f"git ({self.root})"

    def git(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            raise StoreError(f"git store: git {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

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
            self.git("fetch", "origin", f"+refs/heads/{target}:refs/remotes/origin/{target}")
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

    def _refuse_overwriting_local_edits(self, upstream: str) -> None:
        """A file edited here and not yet pushed that the remote also changed: fail closed,
        keeping both versions, rather than let the pull discard the local one."""
        status = self.git("status", "--porcelain", "-z", "--untracked-files=all").stdout
        local = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
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

    # -- changes

    def put_auth(self, rel: str, data: bytes | None) -> None:
        if self.local_auth_path(rel) is None:
            raise StoreError(f"git store: {rel!r} is outside the auth folder")
        verb = "Delete" if data is None else "Update"
        self._commit_and_push(f"{verb} auth {rel}", f"auths/{rel}")

    def put_config(self, data: bytes) -> None:
        self._commit_and_push("Update config", "config/config.yaml")
