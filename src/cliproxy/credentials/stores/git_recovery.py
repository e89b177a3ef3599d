"""Bringing back a git store workspace whose repository lost objects (CPA's
``recoverRepositoryLocked``).

The rule is CPA's. A repository is damaged when a file, tree or pack that its last commit
needs is missing (CPA's ``verifyRepositoryHead`` reads every file of HEAD). Then:

- the last commit's file list and the work tree's local changes must still be readable,
  else start-up fails closed ("inspect recovery baseline") and nothing is touched;
- the remote is cloned afresh beside the workspace; a local change to a path the remote
  also changed fails closed ("conflicts with local change"), keeping both versions;
- the fresh ``.git`` takes the damaged one's place, the work tree's unchanged files are
  brought to the remote's versions and local changes stay as they are.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from .base import StoreError

__all__ = ["damage", "recover"]

log = logging.getLogger(__name__)


class _Repository(Protocol):
    root: Path
    url: str

    def git(
        self, *args: str, cwd: Path | None = None, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...

    def dirty(self) -> set[str]: ...


def _tree(repo: _Repository, cwd: Path | None = None) -> dict[str, str]:
    """Path -> object id of every file in HEAD (empty with no commit yet)."""
    if repo.git("rev-parse", "-q", "--verify", "HEAD", cwd=cwd, check=False).returncode != 0:
        return {}
    files: dict[str, str] = {}
    for entry in repo.git("ls-tree", "-r", "-z", "--full-tree", "HEAD", cwd=cwd).stdout.split("\0"):
        meta, _, path = entry.partition("\t")
        if path:
            files[path] = meta.rsplit(" ", 1)[-1]
    return files


def damage(repo: _Repository) -> str:
    """What of the last commit cannot be read ('' when the repository is whole)."""
    if repo.git("rev-parse", "-q", "--verify", "HEAD", check=False).returncode != 0:
        return ""  # no commit yet: nothing to read
    if repo.git("cat-file", "-e", "HEAD^{tree}", check=False).returncode != 0:
        return "the last commit cannot be read"
    listing = repo.git("ls-tree", "-r", "-z", "--full-tree", "HEAD", check=False)
    if listing.returncode != 0:
        return "a folder of the last commit cannot be read"
    blobs = [e.partition("\t")[0].rsplit(" ", 1)[-1] for e in listing.stdout.split("\0") if " blob " in e]
    if not blobs:
        return ""
    checked = repo.git("cat-file", "--batch-check", stdin="\n".join(blobs) + "\n", check=False)
    missing = [line.split(" ", 1)[0] for line in checked.stdout.splitlines() if line.endswith(" missing")]
    if checked.returncode != 0 or missing:
        return f"{len(missing) or 'some'} file object(s) of the last commit are missing"
    return ""


def _overlap(path: str, local: set[str]) -> str:
    for mine in local:
        if path == mine or path.startswith(mine + "/") or mine.startswith(path + "/"):
            return mine
    return ""


def recover(repo: _Repository, branch: str, why: str) -> None:
    """Replace the damaged repository of ``repo.root`` with a fresh clone of ``branch``,
    keeping the work tree's local changes; :class:`StoreError` when that is not safe."""
    log.warning("git store: the repository in %s is damaged (%s): cloning it again", repo.root, why)
    try:
        before, local = _tree(repo), repo.dirty()
    except StoreError as exc:
        raise StoreError(
            f"git store: the repository in {repo.root} is damaged ({why}) and was left as it is: "
            f"inspect recovery baseline: {exc}"
        ) from None
    work = Path(tempfile.mkdtemp(prefix=".gitstore-recovery-", dir=repo.root.parent))
    keep = False
    try:
        clone = work / "clone"
        repo.git("clone", "-q", "--no-checkout", "--branch", branch, repo.url, str(clone), cwd=work)
        after = _tree(repo, cwd=clone)
        changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        for path in changed:
            if mine := _overlap(path, local):
                raise StoreError(
                    f"git store: the repository in {repo.root} is damaged ({why}) and the remote's "
                    f"change to {path} conflicts with local change {mine}; move the local file "
                    f"and start again"
                )
        damaged = work / "damaged.git"
        (repo.root / ".git").rename(damaged)
        try:
            (clone / ".git").rename(repo.root / ".git")
        except OSError as exc:
            try:
                damaged.rename(repo.root / ".git")
            except OSError:
                keep = True
                raise StoreError(
                    f"git store: cannot install the recovered repository ({exc}); the damaged "
                    f"one is kept in {damaged}"
                ) from None
            raise StoreError(f"git store: cannot install the recovered repository: {exc}") from None
        repo.git("reset", "-q")  # the index from the fresh HEAD; the work tree is left alone
        gone = [p for p in changed if p not in after]
        for path in gone:
            (repo.root / path).unlink(missing_ok=True)
        if fresh := [p for p in changed if p in after]:
            repo.git("checkout", "HEAD", "--", *fresh)
        log.warning(
            "git store: recovered %s from the remote (%d file(s) updated, %d local change(s) kept)",
            repo.root,
            len(changed),
            len(local),
        )
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
