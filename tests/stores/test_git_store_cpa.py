"""The git token store against CPA's internal/store/gitstore_test.go: branch switching on a
restart, and what a restart does with local edits when the remote moved on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.storage import write_json
from cliproxy.credentials.stores import StoreError
from cliproxy.credentials.stores.git import GitStore
from tests.stores.test_stores import _head, _seed


def _remote_file(remote: Path, branch: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"{branch}:{path}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def _push_marker(store: GitStore, text: str) -> None:
    (store.root / "branch.txt").write_text(text)
    store._commit_and_push("Update branch marker", "branch.txt")


def test_a_restart_switches_to_a_newly_configured_branch(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryExistingRepoSwitchesToConfiguredBranch. A workspace cloned on
    the default branch moves to the configured one, and pushes go to that branch only."""
    _seed(tmp_path, bare_repo, {"trunk": "trunk\n", "develop": "develop\n"})
    GitStore(tmp_path / "ws", str(bare_repo)).ensure_repository()
    assert _head(tmp_path / "ws") == "trunk"
    store = GitStore(tmp_path / "ws", str(bare_repo), branch="develop")
    store.ensure_repository()
    assert _head(store.root) == "develop"
    assert (store.root / "branch.txt").read_text() == "develop\n"
    _push_marker(store, "local develop update\n")
    assert _remote_file(bare_repo, "develop", "branch.txt") == "local develop update\n"
    assert _remote_file(bare_repo, "trunk", "branch.txt") == "trunk\n"


def test_a_restart_switches_to_a_branch_created_after_the_clone(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryExistingRepoSwitchesToConfiguredBranchCreatedAfterClone."""
    _seed(tmp_path, bare_repo, {"trunk": "trunk\n"})
    GitStore(tmp_path / "ws", str(bare_repo)).ensure_repository()
    _seed(tmp_path, bare_repo, {"release/2026": "release branch\n"})
    store = GitStore(tmp_path / "ws", str(bare_repo), branch="release/2026")
    store.ensure_repository()
    assert _head(store.root) == "release/2026"
    assert (store.root / "branch.txt").read_text() == "release branch\n"


def test_unsetting_the_branch_goes_back_to_the_remote_default(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryResetsToRemoteDefaultWhenBranchUnset."""
    _seed(tmp_path, bare_repo, {"trunk": "trunk\n", "develop": "develop\n"})
    GitStore(tmp_path / "ws", str(bare_repo), branch="develop").ensure_repository()
    assert _head(tmp_path / "ws") == "develop"
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.ensure_repository()
    assert _head(store.root) == "trunk"
    _push_marker(store, "local trunk update\n")
    assert _remote_file(bare_repo, "trunk", "branch.txt") == "local trunk update\n"
    assert _remote_file(bare_repo, "develop", "branch.txt") == "develop\n"


def _three_hosts(bare_repo: Path, tmp_path: Path) -> tuple[GitStore, GitStore]:
    owner = GitStore(tmp_path / "owner", str(bare_repo))
    owner.bootstrap(None)
    for name in ("modified.json", "deleted.json", "local.json"):
        write_json(owner.auth_dir / name, {"type": "codex", "access_token": "old"})
        owner.put_auth(name, (owner.auth_dir / name).read_bytes())
    owner.config_path.write_bytes(b"source: original\n")
    owner.put_config(owner.config_path.read_bytes())
    a, b = GitStore(tmp_path / "a", str(bare_repo)), GitStore(tmp_path / "b", str(bare_repo))
    a.bootstrap(None)
    b.bootstrap(None)
    return a, b


def test_a_restart_pulls_remote_auth_changes_around_a_local_config_edit(
    bare_repo: Path, tmp_path: Path
) -> None:
    """CPA: TestEnsureRepositoryReconcilesRemoteAuthChangesAroundLocalConfig."""
    a, b = _three_hosts(bare_repo, tmp_path)
    a.config_path.write_bytes(b"source: local-a\n")
    write_json(b.auth_dir / "modified.json", {"type": "codex", "access_token": "new"})
    b.put_auth("modified.json", (b.auth_dir / "modified.json").read_bytes())
    (b.auth_dir / "deleted.json").unlink()
    b.put_auth("deleted.json", None)

    a.ensure_repository()
    assert a.config_path.read_bytes() == b"source: local-a\n"
    assert orjson.loads((a.auth_dir / "modified.json").read_bytes())["access_token"] == "new"
    assert not (a.auth_dir / "deleted.json").exists()


def test_a_restart_pulls_remote_config_changes_around_a_local_auth_edit(
    bare_repo: Path, tmp_path: Path
) -> None:
    """CPA: TestEnsureRepositoryReconcilesRemoteConfigChangesAroundLocalAuth."""
    a, b = _three_hosts(bare_repo, tmp_path)
    dirty = b'{"type":"codex","access_token":"local-dirty"}'
    (a.auth_dir / "local.json").write_bytes(dirty)
    b.config_path.write_bytes(b"source: remote-modified\n")
    b.put_config(b.config_path.read_bytes())

    a.ensure_repository()
    assert a.config_path.read_bytes() == b"source: remote-modified\n"
    assert (a.auth_dir / "local.json").read_bytes() == dirty

    b.config_path.unlink()
    b._commit_and_push("Delete config", "config/config.yaml")
    a.ensure_repository()
    assert not a.config_path.exists()
    assert (a.auth_dir / "local.json").read_bytes() == dirty


def test_a_restart_keeps_a_local_edit_the_remote_also_changed(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryFailsClosedOnSamePathConflict. When the remote changed a
    file this host also edited and has not pushed, start-up fails with a clear error and
    neither side's version is lost (before: the local edit was silently discarded)."""
    a, b = _three_hosts(bare_repo, tmp_path)
    a.config_path.write_bytes(b"source: local\n")
    b.config_path.write_bytes(b"source: remote\n")
    b.put_config(b.config_path.read_bytes())

    with pytest.raises(StoreError, match="conflicts with local change"):
        a.ensure_repository()
    assert a.config_path.read_bytes() == b"source: local\n"
    assert _remote_file(bare_repo, "main", "config/config.yaml") == "source: remote\n"


def test_deleting_twice_is_a_no_op_and_keeps_other_hosts_files(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestGitTokenStoreRepeatedDeleteDoesNotOverwriteRemoteOnlyChanges and
    TestGitTokenStoreWatcherRemovalNoOpsAfterExplicitDelete: a second delete of a file that
    is already gone succeeds without a commit and never pushes over another host's work."""
    a = GitStore(tmp_path / "a", str(bare_repo))
    a.bootstrap(None)
    write_json(a.auth_dir / "a.json", {"type": "codex", "access_token": "a"})
    a.put_auth("a.json", (a.auth_dir / "a.json").read_bytes())
    (a.auth_dir / "a.json").unlink()
    a.put_auth("a.json", None)
    b = GitStore(tmp_path / "b", str(bare_repo))
    b.bootstrap(None)
    write_json(b.auth_dir / "b.json", {"type": "codex", "access_token": "b"})
    b.put_auth("b.json", (b.auth_dir / "b.json").read_bytes())

    a.put_auth("a.json", None)
    assert orjson.loads(_remote_file(bare_repo, "main", "auths/b.json"))["access_token"] == "b"
    listed = subprocess.run(
        ["git", "--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main", "auths"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert "auths/a.json" not in listed


def _ls_remote(remote: Path, branch: str) -> list[str]:
    return subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", branch],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()


def test_a_push_after_another_host_pushed_keeps_both_changes(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestGitTokenStorePersistConfigPreservesRemoteOnlyAuthAfterDivergence,
    TestGitTokenStoreRejectsStaleForcePush and TestGitTokenStorePersistConfigRepairsIndexAfterUnstagedPull.
    A difference: CPA refuses the stale push (a lease error) and succeeds on the caller's
    retry; ours never force-pushes and replays the local commit on top of the remote's at
    once, so the first call already succeeds. Either way the other host's file survives."""
    _seed(tmp_path, bare_repo, {"trunk": "remote branch\n"})
    a, b = GitStore(tmp_path / "a", str(bare_repo)), GitStore(tmp_path / "b", str(bare_repo))
    a.bootstrap(None)
    b.bootstrap(None)
    write_json(b.auth_dir / "concurrent.json", {"type": "codex", "access_token": "remote"})
    b.put_auth("concurrent.json", (b.auth_dir / "concurrent.json").read_bytes())
    _seed(tmp_path, bare_repo, {"trunk": "remote branch advanced\n"})

    a.config_path.write_bytes(b"source: stale-a\n")
    a.put_config(a.config_path.read_bytes())
    assert "auths/concurrent.json" in _ls_remote(bare_repo, "trunk")
    assert _remote_file(bare_repo, "trunk", "config/config.yaml") == "source: stale-a\n"
    assert _remote_file(bare_repo, "trunk", "branch.txt") == "remote branch advanced\n"


def test_a_config_push_does_not_carry_an_unrelated_staged_deletion(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestGitTokenStorePersistConfigDropsUnrelatedStagedDeletions: a deletion staged
    in the work tree by hand does not ride along with a config commit."""
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    write_json(store.auth_dir / "protected.json", {"type": "codex", "access_token": "token"})
    store.put_auth("protected.json", (store.auth_dir / "protected.json").read_bytes())
    store.git("rm", "-q", "auths/protected.json")
    store.config_path.write_bytes(b"version: two\n")
    store.put_config(store.config_path.read_bytes())
    assert "auths/protected.json" in _ls_remote(bare_repo, "main")
    assert _remote_file(bare_repo, "main", "config/config.yaml") == "version: two\n"


def test_a_restart_follows_a_renamed_remote_default_branch(bare_repo: Path, tmp_path: Path) -> None:
    """CPA: TestEnsureRepositoryFollowsRenamedRemoteDefaultBranchWhenAvailable."""
    _seed(tmp_path, bare_repo, {"trunk": "trunk\n", "main": "main\n"})
    GitStore(tmp_path / "ws", str(bare_repo)).ensure_repository()
    assert _head(tmp_path / "ws") == "trunk"
    subprocess.run(
        ["git", "--git-dir", str(bare_repo), "symbolic-ref", "HEAD", "refs/heads/main"],
        check=True,
        timeout=30,
    )
    _seed(tmp_path, bare_repo, {"main": "main updated\n"})
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.ensure_repository()
    assert _head(store.root) == "main"
    assert (store.root / "branch.txt").read_text() == "main updated\n"


def test_a_restart_keeps_its_branch_when_the_remote_default_is_unknown(
    bare_repo: Path, tmp_path: Path
) -> None:
    """CPA: TestEnsureRepositoryKeepsCurrentBranchWhenRemoteDefaultCannotBeResolved. A
    remote whose HEAD names no existing branch advertises no default: the workspace stays
    on its branch instead of moving to whichever branch sorts first."""
    _seed(tmp_path, bare_repo, {"trunk": "trunk\n", "alpha": "alpha\n"})
    GitStore(tmp_path / "ws", str(bare_repo), branch="trunk").ensure_repository()
    subprocess.run(
        ["git", "--git-dir", str(bare_repo), "symbolic-ref", "HEAD", "refs/heads/gone"],
        check=True,
        timeout=30,
    )
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.ensure_repository()
    assert _head(store.root) == "trunk"
    assert (store.root / "branch.txt").read_text() == "trunk\n"


def test_a_host_that_lost_the_first_push_race_keeps_the_winners_files(
    bare_repo: Path, tmp_path: Path
) -> None:
    """CPA: TestGitTokenStoreConcurrentInitializationDoesNotOverwriteCreatedBranch. Two hosts
    start on an empty remote; the one that pushes second never overwrites the first's
    files, and ends up with them locally. A difference: CPA rejects the late push and the
    next start-up pulls; ours replays its (empty) first commit on top at once."""
    late = GitStore(tmp_path / "late", str(bare_repo))
    late.ensure_repository()  # sees an empty remote
    winner = GitStore(tmp_path / "winner", str(bare_repo))
    winner.bootstrap(None)
    write_json(winner.auth_dir / "remote.json", {"type": "codex", "access_token": "remote"})
    winner.put_auth("remote.json", (winner.auth_dir / "remote.json").read_bytes())
    winner.config_path.write_bytes(b"source: winner\n")
    winner.put_config(winner.config_path.read_bytes())

    late.bootstrap(None)
    assert _remote_file(bare_repo, "main", "config/config.yaml") == "source: winner\n"
    assert "auths/remote.json" in _ls_remote(bare_repo, "main")
    assert late.config_path.read_bytes() == b"source: winner\n"
    assert (late.auth_dir / "remote.json").is_file()


def test_a_first_start_keeps_a_local_file_the_winner_also_pushed(bare_repo: Path, tmp_path: Path) -> None:
    """The first-push race again, with a local config already written before this host
    made its first commit: the remote's config would overwrite it, so start-up stops with
    the conflict error and both versions are kept (as CPA's same-path conflict case)."""
    late = GitStore(tmp_path / "late", str(bare_repo))
    late.ensure_repository()
    late.config_path.parent.mkdir(parents=True)
    late.config_path.write_bytes(b"source: late\n")
    winner = GitStore(tmp_path / "winner", str(bare_repo))
    winner.bootstrap(None)
    winner.config_path.write_bytes(b"source: winner\n")
    winner.put_config(winner.config_path.read_bytes())

    with pytest.raises(StoreError, match="conflicts with local change"):
        late.ensure_repository()
    assert late.config_path.read_bytes() == b"source: late\n"
    assert _remote_file(bare_repo, "main", "config/config.yaml") == "source: winner\n"
