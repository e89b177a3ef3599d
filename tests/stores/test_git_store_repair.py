"""The git token store mending its workspace, against CPA's internal/store/gitstore_test.go:
tracked files deleted while the proxy was down come back, a repository that lost objects is
cloned again, ``git gc`` runs after pushes, and every git command is bounded and masked."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.storage import write_json
from cliproxy.credentials.stores import StoreError
from cliproxy.credentials.stores import git as git_module
from cliproxy.credentials.stores.git import GitStore
from tests.stores.test_git_store_cpa import _ls_remote, _remote_file


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _save(store: GitStore, name: str, token: str) -> Path:
    path = store.auth_dir / name
    write_json(path, {"type": "codex", "access_token": token})
    store.put_auth(name, path.read_bytes())
    return path


def _token(path: Path) -> str:
    return str(orjson.loads(path.read_bytes())["access_token"])


# -- a tracked file deleted while the proxy was down


def test_a_start_up_restores_a_tracked_auth_file_deleted_while_down(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryRetryRestoresTrackedAuthOnUpToDatePull. A tracked credential
    missing from the work tree (its deletion even staged) is checked out again at start-up
    instead of being pushed as a deletion; a start-up that cannot reach the remote fails and
    leaves it as it is; an explicit delete afterwards still removes it from the store.
    Before: the start-up's first commit pushed the deletion."""
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    path = _save(store, "retry.json", "remote")
    before = path.read_bytes()
    _git(store.root, "rm", "-q", "auths/retry.json")

    with pytest.raises(StoreError):
        GitStore(store.root, str(tmp_path / "missing.git")).bootstrap(None)
    assert not path.exists()

    store = GitStore(store.root, str(bare_repo))
    store.bootstrap(None)
    assert path.read_bytes() == before
    assert path.stat().st_mode & 0o777 == 0o600
    assert "auths/retry.json" in _ls_remote(bare_repo, "main")

    path.unlink()  # the management API's delete: the mirror sends put_auth(rel, None)
    store.put_auth("retry.json", None)
    assert "auths/retry.json" not in _ls_remote(bare_repo, "main")
    GitStore(store.root, str(bare_repo)).bootstrap(None)
    assert not path.exists()


def test_a_start_up_takes_the_remotes_version_of_a_file_deleted_here(bare_repo: Path, tmp_path: Path) -> None:
    """A file deleted here while down that another host changed meanwhile comes back in the
    other host's version (CPA restores after its pull; ours before the merge, so the
    deletion is not mistaken for a local edit that conflicts with the remote's)."""
    a = GitStore(tmp_path / "a", str(bare_repo))
    a.bootstrap(None)
    b = GitStore(tmp_path / "b", str(bare_repo))
    b.bootstrap(None)
    path = _save(a, "shared.json", "old")
    b.bootstrap(None)
    _save(b, "shared.json", "new")
    path.unlink()
    a.bootstrap(None)
    assert _token(path) == "new"
    assert orjson.loads(_remote_file(bare_repo, "main", "auths/shared.json"))["access_token"] == "new"


# -- a repository that lost objects


def _lose_an_object(repo: Path) -> None:
    """CPA's removeHeadFileObject: commit a file here (not pushed), then drop its object."""
    (repo / "corrupt-object.txt").write_text("corrupt me\n")
    _git(repo, "add", "corrupt-object.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "marker")
    blob = _git(repo, "rev-parse", "HEAD:corrupt-object.txt").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def _lose_every_object(repo: Path) -> None:
    """CPA's corruptGitRepository: pack everything, then delete the packs and loose objects."""
    _git(repo, "repack", "-q", "-a", "-d")
    objects = repo / ".git" / "objects"
    for folder in objects.glob("??"):
        shutil.rmtree(folder)
    for pack in (objects / "pack").glob("*.pack"):
        pack.unlink()


def _owner_and_workspace(bare_repo: Path, tmp_path: Path) -> tuple[GitStore, GitStore]:
    owner = GitStore(tmp_path / "owner", str(bare_repo))
    owner.bootstrap(None)
    _save(owner, "victim.json", "remote-old")
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    return owner, store


@pytest.mark.parametrize("change", ["modification", "deletion"])
def test_a_start_up_clones_a_damaged_repository_again(bare_repo: Path, tmp_path: Path, change: str) -> None:
    """CPA: TestGitTokenStoreCorruptionRecoveryUsesLatestRemoteAuthTree. A repository that
    lost an object is replaced by a fresh clone at start-up: the auth files are the remote's
    latest (a changed one updated, a deleted one gone, the others intact) and the store
    works again (the next save reaches the remote)."""
    owner, store = _owner_and_workspace(bare_repo, tmp_path)
    _save(owner, "kept.json", "kept")
    store.bootstrap(None)
    if change == "modification":
        _save(owner, "victim.json", "remote-new")
    else:
        (owner.auth_dir / "victim.json").unlink()
        owner.put_auth("victim.json", None)
    _lose_an_object(store.root)

    restarted = GitStore(store.root, str(bare_repo))
    restarted.bootstrap(None)
    victim = restarted.auth_dir / "victim.json"
    assert _token(victim) == "remote-new" if change == "modification" else not victim.exists()
    assert _token(restarted.auth_dir / "kept.json") == "kept"
    assert not (restarted.root / "corrupt-object.txt").exists()
    assert not list(tmp_path.glob(".gitstore-recovery-*"))  # the scratch clone is cleaned up
    _git(restarted.root, "fsck", "--no-progress")

    _save(restarted, "unrelated.json", "local")
    assert "auths/unrelated.json" in _ls_remote(bare_repo, "main")
    assert ("auths/victim.json" in _ls_remote(bare_repo, "main")) == (change == "modification")


def test_a_recovery_keeps_local_changes_the_remote_did_not_touch(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestGitTokenStoreCorruptionRecoveryPreservesOnlyNonConflictingLocalChanges
    ("non-conflicting change")."""
    owner, store = _owner_and_workspace(bare_repo, tmp_path)
    store.config_path.write_bytes(b"source: local\n")
    _save(owner, "victim.json", "remote-new")
    _lose_an_object(store.root)

    GitStore(store.root, str(bare_repo)).ensure_repository()
    assert store.config_path.read_bytes() == b"source: local\n"
    assert _token(store.auth_dir / "victim.json") == "remote-new"


def test_a_recovery_stops_on_a_local_change_the_remote_also_made(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestGitTokenStoreCorruptionRecoveryPreservesOnlyNonConflictingLocalChanges
    ("same-path conflict"): start-up fails closed and both versions are kept."""
    owner, store = _owner_and_workspace(bare_repo, tmp_path)
    local = b'{"type":"codex","access_token":"local"}'
    (store.auth_dir / "victim.json").write_bytes(local)
    _save(owner, "victim.json", "remote-new")
    _lose_an_object(store.root)

    with pytest.raises(StoreError, match="conflicts with local change"):
        GitStore(store.root, str(bare_repo)).ensure_repository()
    assert (store.auth_dir / "victim.json").read_bytes() == local
    assert orjson.loads(_remote_file(bare_repo, "main", "auths/victim.json"))["access_token"] == "remote-new"
    assert not list(tmp_path.glob(".gitstore-recovery-*"))


@pytest.mark.parametrize("local_change", ["edited", "deleted"])
def test_a_repository_that_lost_every_object_fails_closed(
    bare_repo: Path, tmp_path: Path, local_change: str
) -> None:
    """CPA: TestGitTokenStoreFullPackfileCorruptionFailsClosedWithDirtyManagedFile and
    TestGitTokenStoreMissingPackfileRecoveryFailsClosedWithoutBaseline. With no object left,
    the local changes cannot be told apart: start-up stops with a clear error and neither
    the work tree nor the remote is touched."""
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    path = _save(store, "dirty.json", "remote")
    if local_change == "edited":
        path.write_bytes(b'{"type":"codex","access_token":"local-dirty"}')
    else:
        path.unlink()
    _lose_every_object(store.root)

    with pytest.raises(StoreError, match="inspect recovery baseline"):
        GitStore(store.root, str(bare_repo)).bootstrap(None)
    if local_change == "edited":
        assert _token(path) == "local-dirty"
    else:
        assert not path.exists()
    assert orjson.loads(_remote_file(bare_repo, "main", "auths/dirty.json"))["access_token"] == "remote"


# -- garbage collection


def _loose_objects(repo: Path) -> int:
    counts = dict(line.split(": ", 1) for line in _git(repo, "count-objects", "-v").splitlines())
    return int(counts["count"])


def test_a_push_packs_the_repository_at_most_every_five_minutes(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestCommitAndPushLockedPushesBeforeRunningGC, and maybeRunGC's schedule: a push
    that finds gc due still reaches the remote, then leaves no loose object behind; the next
    push within GC_INTERVAL does not run gc (its objects stay loose)."""
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    for token in ("one", "two"):
        store._last_gc = time.monotonic() - git_module.GC_INTERVAL
        _save(store, "gc.json", token)
        assert orjson.loads(_remote_file(bare_repo, "main", "auths/gc.json"))["access_token"] == token
        assert _loose_objects(store.root) == 0
    _save(store, "gc.json", "three")
    assert _loose_objects(store.root) > 0


# -- bounded, masked git commands


def test_a_git_error_never_shows_the_credentials_of_the_url(tmp_path: Path) -> None:
    """No token in an error or log line: user and password written into the URL, and the
    GITSTORE_GIT_TOKEN, are masked in what git printed."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://alice:s3cret-pass@127.0.0.1:{port}/repo.git"
    store = GitStore(tmp_path / "ws", url, username="bob", token="tok-123")
    with pytest.raises(StoreError) as caught:
        store.bootstrap(None)
    assert "s3cret-pass" not in str(caught.value) and "tok-123" not in str(caught.value)
    assert "***@127.0.0.1" in store.mask(f"fatal: unable to access '{url}'")
    assert store.mask("Authorization: tok-123") == "Authorization: ***"


def test_a_git_command_that_hangs_is_stopped_at_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every git command is bounded: a remote that accepts the connection and never answers
    ends in a StoreError after TIMEOUT, with git and its HTTP helper killed."""
    monkeypatch.setattr(git_module, "TIMEOUT", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/repo.git"
        started = time.monotonic()
        with pytest.raises(StoreError, match="did not finish within 1 s"):
            GitStore(tmp_path / "ws", url).bootstrap(None)
        assert time.monotonic() - started < 10


def test_a_command_whose_group_ended_at_the_time_limit_still_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a CPA port: when git's process group is gone by the time the limit kills it
    (``killpg`` finds no process), the error is still the clear time-limit one, not a
    ProcessLookupError. The group is killed as usual, then the kill reports it gone."""
    monkeypatch.setattr(git_module, "TIMEOUT", 0.5)
    kill = os.killpg

    def killed_late(pgid: int, sig: int) -> None:
        kill(pgid, sig)
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(git_module.os, "killpg", killed_late)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/repo.git"
        with pytest.raises(StoreError, match=r"did not finish within 0\.5 s"):
            GitStore(tmp_path / "ws", url).bootstrap(None)
