"""The token stores against real servers: the same contract for Postgres, git and S3.

Each case uses two workspaces on one remote ("two hosts"): what one stores, the other's
bootstrap brings down.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.storage import write_json
from cliproxy.credentials.stores import Mirror, StoreError, TokenStore

Factory = Callable[[Path], TokenStore]


@pytest.fixture(params=["postgres", "git", "object"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """A factory of stores on one remote, one per workspace root."""
    kind = request.param
    made: list[TokenStore] = []
    if kind == "postgres":
        from cliproxy.credentials.stores.postgres import PostgresStore

        dsn = request.getfixturevalue("postgres_url")

        def factory(root: Path) -> TokenStore:
            made.append(PostgresStore(root, dsn, "tokens"))
            return made[-1]
    elif kind == "git":
        from cliproxy.credentials.stores.git import GitStore

        remote = request.getfixturevalue("bare_repo")

        def factory(root: Path) -> TokenStore:
            made.append(GitStore(root, str(remote)))
            return made[-1]
    else:
        from cliproxy.credentials.stores.objects import ObjectStore

        url = request.getfixturevalue("s3_url")

        def factory(root: Path) -> TokenStore:
            made.append(ObjectStore(root, url, "AKIDEXAMPLE", "secret", "cliproxy-auth"))
            return made[-1]

    request.addfinalizer(lambda: [s.close() for s in made])
    return factory


TEMPLATE = b"port: 8317\napi-keys: [k1]\n"
TOKEN = {"type": "codex", "email": "a@example.com", "access_token": "at-1", "refresh_token": "rt-1"}


def test_an_empty_remote_is_seeded_from_the_local_config(make_store, tmp_path):
    template = tmp_path / "config.yaml"
    template.write_bytes(TEMPLATE)
    a = make_store(tmp_path / "host-a")
    a.bootstrap(template)
    assert a.config_path.read_bytes() == TEMPLATE
    assert a.auth_dir.is_dir() and not list(a.auth_dir.glob("*.json"))
    b = make_store(tmp_path / "host-b")
    b.bootstrap(None)  # no local config: the remote's comes down
    assert b.config_path.read_bytes() == TEMPLATE


def test_auth_files_stored_by_one_host_reach_another(make_store, tmp_path):
    a = make_store(tmp_path / "host-a")
    a.bootstrap(None)
    write_json(a.auth_dir / "codex-a.json", TOKEN)
    write_json(a.auth_dir / "team" / "claude-b.json", {"type": "claude", "access_token": "x"})
    a.put_auth("codex-a.json", (a.auth_dir / "codex-a.json").read_bytes())
    a.put_auth("team/claude-b.json", (a.auth_dir / "team" / "claude-b.json").read_bytes())
    b = make_store(tmp_path / "host-b")
    b.bootstrap(None)
    assert orjson.loads((b.auth_dir / "codex-a.json").read_bytes()) == TOKEN
    assert orjson.loads((b.auth_dir / "team" / "claude-b.json").read_bytes())["type"] == "claude"
    assert (b.auth_dir / "codex-a.json").stat().st_mode & 0o777 == 0o600

    (a.auth_dir / "codex-a.json").unlink()
    a.put_auth("codex-a.json", None)
    b.bootstrap(None)
    assert not (b.auth_dir / "codex-a.json").exists()
    assert (b.auth_dir / "team" / "claude-b.json").exists()


def test_bootstrap_replaces_local_auth_files_with_the_remote_ones(make_store, tmp_path):
    """CPA's syncAuthFromDatabase / syncAuthFromBucket: the local auth folder is reset."""
    a = make_store(tmp_path / "host-a")
    a.bootstrap(None)
    write_json(a.auth_dir / "kept.json", TOKEN)
    a.put_auth("kept.json", (a.auth_dir / "kept.json").read_bytes())
    b = make_store(tmp_path / "host-b")
    b.bootstrap(None)
    if b.kind == "git":  # a stray file in the git work tree is local work, not a stale copy
        pytest.skip("the git store keeps untracked files of its work tree")
    write_json(b.auth_dir / "stale.json", {"type": "codex"})
    b.bootstrap(None)
    assert sorted(p.name for p in b.auth_dir.rglob("*.json")) == ["kept.json"]


def test_the_mirror_pushes_writes_deletes_and_config_edits(make_store, tmp_path):
    """CPA: TestPersistConfigAndAuthAsyncInvokePersister (config and auth-file changes reach
    the store, off the request path). A difference from CPA:
    TestGitTokenStoreRefusesWatcherOriginatedAuthDeletion: CPA's git store refuses to push
    a removal the file watcher saw; ours pushes it like any other change, because the auth
    folder is what the store mirrors and a file deleted by hand should not come back."""
    a = make_store(tmp_path / "host-a")
    a.bootstrap(None)
    mirror = Mirror(a, interval=60)
    mirror.start()
    try:
        write_json(a.auth_dir / "codex-a.json", TOKEN)  # the credential writer (a sign-in, a refresh)
        (a.auth_dir / "by-hand.json").write_bytes(b'{"type": "kimi"}')  # and an edit from outside
        (a.auth_dir / ".codex-a.json.123.tmp").write_bytes(b"{")  # a writer's temp file: never pushed
        a.config_path.write_bytes(b"port: 9999\n")
        assert mirror.sync() == 3
        assert mirror.sync() == 0  # nothing new: nothing sent
        b = make_store(tmp_path / "host-b")
        b.bootstrap(None)
        assert sorted(p.name for p in b.auth_dir.glob("*.json")) == ["by-hand.json", "codex-a.json"]
        assert b.config_path.read_bytes() == b"port: 9999\n"

        (a.auth_dir / "by-hand.json").unlink()
        write_json(a.auth_dir / "codex-a.json", {**TOKEN, "access_token": "at-2"})  # a refresh
        assert mirror.sync() == 2
        b.bootstrap(None)
        assert [p.name for p in b.auth_dir.glob("*.json")] == ["codex-a.json"]
        assert orjson.loads((b.auth_dir / "codex-a.json").read_bytes())["access_token"] == "at-2"
    finally:
        mirror.stop()


def test_the_mirror_retries_a_push_the_remote_refused(make_store, tmp_path):
    """A change that could not be stored stays pending and goes on the next pass.
    CPA: TestPersistAsyncErrorPaths, a difference: CPA logs a failed persist and drops it;
    ours retries it, so a store that was down gets the change once it is back."""
    a = make_store(tmp_path / "host-a")
    a.bootstrap(None)
    mirror = Mirror(a, interval=60)
    mirror.start()
    real = a.put_auth
    calls: list[str] = []

    def down(rel: str, data: bytes | None) -> None:
        calls.append(rel)
        raise OSError("remote down")

    a.put_auth = down  # type: ignore[method-assign]  # the remote, not our code, fails here
    write_json(a.auth_dir / "x.json", TOKEN)
    assert mirror.sync() == 0 and mirror.failures == 1
    a.put_auth = real  # type: ignore[method-assign]
    assert mirror.sync() == 1
    mirror.stop()
    b = make_store(tmp_path / "host-b")
    b.bootstrap(None)
    assert (b.auth_dir / "x.json").exists() and calls == ["x.json"]


def test_a_record_outside_the_auth_folder_is_skipped(make_store, tmp_path):
    """CPA: "skipping auth ... outside spool"; an id never writes outside auths/."""
    a = make_store(tmp_path / "host-a")
    a.bootstrap(None)
    assert a.local_auth_path("../evil.json") is None
    assert a.local_auth_path("/etc/evil.json") is None
    a.reset_auth_dir({"../evil.json": b"{}", "ok.json": b"{}"})
    assert not (a.root / "evil.json").exists() and (a.auth_dir / "ok.json").exists()


# -- git: CPA's internal/store/gitstore_test.go


def _seed(tmp_path: Path, remote: Path, branches: dict[str, str]) -> None:
    """Push one commit per branch (file ``branch.txt``) to ``remote``."""
    seed = tmp_path / "seed"
    subprocess.run(
        ["git", "clone", "-q", str(remote), str(seed)], check=True, capture_output=True, timeout=30
    )
    ident = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for branch, text in branches.items():
        subprocess.run(["git", "checkout", "-q", "-B", branch], cwd=seed, check=True, timeout=30)
        (seed / "branch.txt").write_text(text)
        subprocess.run(["git", "add", "branch.txt"], cwd=seed, check=True, timeout=30)
        subprocess.run(["git", *ident, "commit", "-q", "-m", text], cwd=seed, check=True, timeout=30)
        subprocess.run(
            ["git", "push", "-q", "origin", branch], cwd=seed, check=True, capture_output=True, timeout=30
        )
    subprocess.run(["rm", "-rf", str(seed)], check=True, timeout=30)


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "symbolic-ref", "--short", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


def test_git_follows_the_remote_default_branch_when_none_is_set(bare_repo, tmp_path):
    """TestEnsureRepositoryUsesRemoteDefaultBranchWhenBranchNotConfigured."""
    from cliproxy.credentials.stores.git import GitStore

    _seed(tmp_path, bare_repo, {"trunk": "remote default branch\n", "release/2026": "release branch\n"})
    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    assert _head(store.root) == "trunk"
    assert (store.root / "branch.txt").read_text() == "remote default branch\n"
    _seed(tmp_path, bare_repo, {"trunk": "remote default branch updated\n"})
    store.bootstrap(None)  # a restart pulls
    assert (store.root / "branch.txt").read_text() == "remote default branch updated\n"


def test_git_uses_the_configured_branch(bare_repo, tmp_path):
    """TestEnsureRepositoryUsesConfiguredBranchWhenExplicitlySet."""
    from cliproxy.credentials.stores.git import GitStore

    _seed(tmp_path, bare_repo, {"trunk": "remote default branch\n", "release/2026": "release branch\n"})
    store = GitStore(tmp_path / "ws", str(bare_repo), branch="release/2026")
    store.bootstrap(None)
    assert _head(store.root) == "release/2026"
    assert (store.root / "branch.txt").read_text() == "release branch\n"
    heads = subprocess.run(
        ["git", "symbolic-ref", "HEAD"], cwd=bare_repo, capture_output=True, text=True, check=True, timeout=30
    )
    assert heads.stdout.strip() == "refs/heads/trunk"  # the remote's default is left alone


def test_git_refuses_a_configured_branch_the_remote_lacks(bare_repo, tmp_path):
    """TestEnsureRepositoryReturnsErrorForMissingConfiguredBranch (and ...OnExistingRepositoryPull).
    CPA: TestEnsureRepositoryReturnsErrorForMissingConfiguredBranchOnExistingRepositoryPull"""
    from cliproxy.credentials.stores.git import GitStore

    _seed(tmp_path, bare_repo, {"trunk": "remote default branch\n"})
    with pytest.raises(StoreError, match="missing-branch"):
        GitStore(tmp_path / "ws", str(bare_repo), branch="missing-branch").bootstrap(None)
    GitStore(tmp_path / "ws2", str(bare_repo)).bootstrap(None)
    with pytest.raises(StoreError, match="missing-branch"):
        GitStore(tmp_path / "ws2", str(bare_repo), branch="missing-branch").bootstrap(None)
    assert _head(tmp_path / "ws2") == "trunk"


def test_git_starts_an_empty_remote_on_the_configured_branch(bare_repo, tmp_path):
    """TestEnsureRepositoryInitializesEmptyRemoteUsingConfiguredBranch."""
    from cliproxy.credentials.stores.git import GitStore

    branch = "feature/gemini-fix"
    store = GitStore(tmp_path / "ws", str(bare_repo), branch=branch)
    store.bootstrap(None)
    assert _head(store.root) == branch
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)"],
        cwd=bare_repo,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    assert refs == [f"refs/heads/{branch}"]  # and no master


def test_git_refuses_an_auth_id_outside_the_repository(bare_repo, tmp_path):
    """TestGitTokenStoreRejectsPathsOutsideRepositoryBeforeMutation."""
    from cliproxy.credentials.stores.git import GitStore

    store = GitStore(tmp_path / "ws", str(bare_repo))
    store.bootstrap(None)
    before = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=store.root, capture_output=True, text=True, timeout=30
    )
    with pytest.raises(StoreError, match="outside"):
        store.put_auth("../outside.json", b"{}")
    after = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=store.root, capture_output=True, text=True, timeout=30
    )
    assert before.stdout == after.stdout
