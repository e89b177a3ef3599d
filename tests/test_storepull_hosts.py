"""Hosts on one Redis, each with its own workspace of one token store, see each other's auth
changes while they run (docs/deploy.md, "Several hosts"): the host that changed an account
pushes it, says so on Redis (``auth``, marked ``pushed``), and the process that holds each
other host's mirror (the single process, or the supervisor with ``workers: N``) pulls it.

End to end: a delete through one git-store host reaches another that runs two workers; a
disable through one Postgres host reaches the other. On the mirrors themselves (the
backends are real: git, Postgres, moto's S3): a pull takes new, changed and deleted records
only, keeps a local change not yet pushed, and a remote that is down is retried on the
next notice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cliproxy.credentials.stores.git import GitStore
from cliproxy.credentials.stores.mirror import Mirror
from tests.stores.conftest import bare_repo, postgres_url, s3_url  # noqa: F401 (fixtures)
from tests.test_workers import Proc

SECRET = "mgmt-secret"
TOKEN = {"type": "codex", "email": "u@example.com", "access_token": "at"}


def _call(url: str, body: bytes | None = None, method: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=20) as r:
        return int(r.status), json.loads(r.read())


def _files(port: int) -> dict[str, dict[str, Any]]:
    listed = _call(f"http://127.0.0.1:{port}/v0/management/auth-files")[1]["files"]
    return {f["name"]: f for f in listed}


def _until(check: Callable[[], bool], seconds: float = 5.0, times: int = 1) -> bool:
    """``check`` held ``times`` calls in a row before ``seconds`` passed."""
    deadline, held = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        held = held + 1 if check() else 0
        if held >= times:
            return True
        time.sleep(0.05)
    return False


def _hosts(
    tmp_path: Path, redis_url: str, envs: list[dict[str, str]], workers: list[int]
) -> tuple[list[Proc], list[int]]:
    seed = tmp_path / "config.yaml"
    seed.write_text(
        f"""
api-keys: [sk-client]
remote-management: {{secret-key: {SECRET}}}
state: {{backend: redis, url: "{redis_url}", prefix: "pull:"}}
usage-ledger: {{enabled: false}}
"""
    )
    procs, ports = [], []
    for i, (extra, count) in enumerate(zip(envs, workers, strict=True)):
        host = tmp_path / f"host-{i}"
        host.mkdir()
        env = {**os.environ, **{k: v.replace("{host}", str(host)) for k, v in extra.items()}}
        args = ["serve", "--config", str(seed), "--port", "0", "--workers", str(count)]
        proc = Proc(args, env, cwd=host)
        procs.append(proc)
        pattern = (
            r"listening on http://127\.0\.0\.1:(\d+)"
            if count == 1
            else r"supervising \d+ workers on 127\.0\.0\.1:(\d+)"
        )
        ports.append(int(proc.wait_for(pattern)[0][1]))
        if count > 1:  # every worker up
            proc.wait_for(r"listening on http://127\.0\.0\.1:", count=count)
    return procs, ports


def _pulled(proc: Proc) -> list[str]:
    return [line for line in proc.lines if "from the remote" in line]


def test_a_delete_through_one_host_leaves_every_worker_of_the_other(bare_repo, redis_server, tmp_path):  # noqa: F811
    git = {"GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b) = _hosts(tmp_path, redis_server.url, [git, git], [1, 2])
    try:
        url = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(url + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        assert _until(lambda: "codex-u.json" in _files(b), times=6)  # both workers list it
        assert _call(url + "?name=codex-u.json", method="DELETE")[0] == 200
        assert _until(lambda: "codex-u.json" not in _files(b), times=6)
        assert not (tmp_path / "host-1" / "gitstore" / "auths" / "codex-u.json").exists()
        # host A pulled nothing: the notices of its own pushes start no pull there
        assert _pulled(procs[0]) == []
        assert len(_pulled(procs[1])) == 2  # the upload, then the delete
    finally:
        for proc in procs:
            proc.stop()


def test_a_disable_through_one_host_reaches_the_other(postgres_url, redis_server, tmp_path):  # noqa: F811
    pg = {"PGSTORE_DSN": postgres_url, "PGSTORE_SCHEMA": "pull", "PGSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b) = _hosts(tmp_path, redis_server.url, [pg, pg], [1, 1])
    try:
        base = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(base + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        assert _until(lambda: "codex-u.json" in _files(b))
        assert _files(b)["codex-u.json"]["disabled"] is False
        body = json.dumps({"name": "codex-u.json", "disabled": True}).encode()
        assert _call(base + "/status", body, method="PATCH")[0] == 200
        assert _until(lambda: _files(b)["codex-u.json"]["disabled"] is True)
        assert _files(a)["codex-u.json"]["disabled"] is True
    finally:
        for proc in procs:
            proc.stop()


# -- the mirrors, on real backends


def _pair(make: Callable[[Path], Any], tmp_path: Path) -> tuple[Mirror, Mirror]:
    a, b = make(tmp_path / "a"), make(tmp_path / "b")
    a.bootstrap()
    b.bootstrap()
    ma, mb = Mirror(a, interval=60), Mirror(b, interval=60)
    ma.start()
    mb.start()
    return ma, mb


def _write(mirror: Mirror, name: str, record: dict[str, Any]) -> Path:
    path = mirror.store.auth_dir / name
    path.write_text(json.dumps(record, indent=2))
    return path


def _exercise(ma: Mirror, mb: Mirror) -> None:
    """New, changed, deleted on A reach B; an unchanged record is not written again; a
    record B changed and has not pushed stays B's."""
    _write(ma, "x.json", TOKEN)
    _write(ma, "y.json", {**TOKEN, "email": "y@example.com"})
    assert ma.sync() == 2
    assert mb.pull() == 2
    y = mb.store.auth_dir / "y.json"
    assert json.loads(y.read_bytes()) == {**TOKEN, "email": "y@example.com"}
    stamp = y.stat().st_mtime_ns
    assert mb.pull() == 0  # nothing new: nothing written
    _write(ma, "x.json", {**TOKEN, "disabled": True})
    (ma.store.auth_dir / "y.json").unlink()
    assert ma.sync() == 2
    assert mb.pull() == 2
    assert json.loads((mb.store.auth_dir / "x.json").read_bytes())["disabled"] is True
    assert not y.exists()
    assert stamp  # (y was written once)
    # B's own push comes back as the remote's newest version: same content, not written
    _write(mb, "x.json", {**TOKEN, "access_token": "b-refreshed"})
    assert mb.sync() == 1
    before = (mb.store.auth_dir / "x.json").stat().st_mtime_ns
    assert ma.pull() == 1 and mb.pull() == 0
    assert (mb.store.auth_dir / "x.json").stat().st_mtime_ns == before


def test_postgres_mirrors_pull_changed_rows(postgres_url, tmp_path):  # noqa: F811
    from cliproxy.credentials.stores.postgres import PostgresStore

    ma, mb = _pair(lambda root: PostgresStore(root, postgres_url, "mirrors"), tmp_path)
    try:
        _exercise(ma, mb)
        # a row whose id would land outside the auth folder is never written (as at start-up)
        ma.store.put_auth("../evil.json", json.dumps(TOKEN).encode())
        assert mb.pull() == 0
        assert not (mb.store.root / "evil.json").exists()
    finally:
        for mirror in (ma, mb):
            mirror.stop()
            mirror.store.close()


def test_object_store_mirrors_pull_changed_keys(s3_url, tmp_path):  # noqa: F811
    from cliproxy.credentials.stores.objects import ObjectStore

    ma, mb = _pair(lambda root: ObjectStore(root, s3_url, "ak", "sk", "tokens"), tmp_path)
    try:
        _exercise(ma, mb)
    finally:
        for mirror in (ma, mb):
            mirror.stop()
            mirror.store.close()


def test_git_mirrors_pull_and_keep_a_local_change_not_yet_pushed(bare_repo, tmp_path):  # noqa: F811
    ma, mb = _pair(lambda root: GitStore(root, str(bare_repo)), tmp_path)
    try:
        _exercise(ma, mb)
        # B refreshed x (not pushed yet) while A changed x and added z: B keeps its x, takes z
        _write(mb, "x.json", {**TOKEN, "access_token": "b-newer"})
        _write(ma, "x.json", {**TOKEN, "access_token": "a-older"})
        _write(ma, "z.json", {**TOKEN, "email": "z@example.com"})
        assert ma.sync() == 2
        assert mb.pull() == 1  # z only; B's push of x was refused (the remote changed x too)
        assert json.loads((mb.store.auth_dir / "x.json").read_bytes())["access_token"] == "b-newer"
        assert (mb.store.auth_dir / "z.json").is_file()
        assert mb.sync() == 1  # now on top of the remote's commit: B's x goes up
        assert ma.pull() == 1
        assert json.loads((ma.store.auth_dir / "x.json").read_bytes())["access_token"] == "b-newer"
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=mb.store.root, capture_output=True, text=True, check=True
        )
        assert status.stdout == ""
    finally:
        ma.stop()
        mb.stop()


def test_a_remote_that_is_down_is_pulled_on_the_next_notice(bare_repo, tmp_path, caplog):  # noqa: F811
    ma, mb = _pair(lambda root: GitStore(root, str(bare_repo)), tmp_path)
    try:
        _write(ma, "x.json", TOKEN)
        assert ma.sync() == 1
        away = bare_repo.with_name("away.git")
        shutil.move(bare_repo, away)
        caplog.set_level("WARNING")
        assert mb.pull() == 0
        assert mb.failures == 1
        assert "cannot pull other hosts' changes" in caplog.text
        assert not (mb.store.auth_dir / "x.json").exists()
        shutil.move(away, bare_repo)
        assert mb.pull() == 1
        assert (mb.store.auth_dir / "x.json").is_file()
    finally:
        ma.stop()
        mb.stop()


@pytest.mark.parametrize("pushed", [True, False])
def test_a_notice_starts_a_pull_only_for_another_workspaces_push(pushed, tmp_path, bare_repo):  # noqa: F811
    """Through the pipes of :mod:`cliproxy.credentials.stores.link`, in one process."""
    from cliproxy.credentials.stores import link as link_module

    store = GitStore(tmp_path / "w", str(bare_repo))
    store.bootstrap()
    mirror = Mirror(store, interval=60)
    asked: list[bool] = []
    mirror.request_pull = lambda: asked.append(True)  # type: ignore[method-assign]
    mirror.start(link=True)
    try:
        joined = link_module.store_link()
        assert joined is not None and mirror.link is not None and joined.token == mirror.link.token
        own = {"k": "auth", "ws": joined.token, "pushed": pushed}
        other = {"k": "auth", "ws": "another", "pushed": pushed}
        assert joined.answered(own) is pushed  # own push: nothing to read; own write: read
        assert joined.answered(other) is True  # its push: a pull; its write: not these files
        assert joined.answered({"k": "auth"}) is False  # a host without a store: read as before
        assert _until(lambda: bool(asked), 1.0) is pushed
    finally:
        mirror.stop()
    assert link_module.LINK_ENV not in os.environ
