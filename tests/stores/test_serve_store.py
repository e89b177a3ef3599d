"""`cliproxy serve` on a token store: the config comes from Postgres (PGSTORE_DSN, as in CPA),
and a credential uploaded through the management API lands in the database."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from cliproxy.credentials.stores.git import GitStore
from cliproxy.credentials.stores.postgres import PostgresStore
from tests.fakes.openai import OpenAIFake
from tests.test_workers import Proc

SECRET = "mgmt-secret"


@pytest.fixture
def fake() -> OpenAIFake:
    with OpenAIFake() as f:
        yield f


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=20) as r:
        r.read()
        return int(r.status)


def test_serve_takes_its_config_from_postgres_and_stores_uploads_there(postgres_url, fake, tmp_path):
    config = f"""
api-keys: [sk-client]
remote-management: {{secret-key: {SECRET}}}
openai-compatibility:
  - name: fake
    base-url: "{fake.base_url}/v1"
    api-key-entries: [{{api-key: sk-up}}]
    models: [{{name: gpt-4o-mini}}]
"""
    seed = tmp_path / "seed.yaml"
    seed.write_text(config)
    admin = PostgresStore(tmp_path / "admin", postgres_url, "tokens")
    admin.bootstrap(seed)  # an operator put the config in the database
    admin.close()

    host = tmp_path / "host"
    host.mkdir()
    env = {
        **os.environ,
        "PGSTORE_DSN": postgres_url,
        "PGSTORE_SCHEMA": "tokens",
        "PGSTORE_LOCAL_PATH": str(host),
    }
    proc = Proc(["serve", "--port", "0"], env, cwd=host)
    try:
        proc.wait_for(r"postgres \(schema tokens\) token store: config and auth files in .*pgstore")
        port = int(proc.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")[0][1])
        chat = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()
        auth = {"Authorization": "Bearer sk-client", "Content-Type": "application/json"}
        assert _post(f"http://127.0.0.1:{port}/v1/chat/completions", chat, auth) == 200

        token = json.dumps({"type": "codex", "email": "u@example.com", "access_token": "at"}).encode()
        url = f"http://127.0.0.1:{port}/v0/management/auth-files?name=codex-u.json"
        assert (
            _post(url, token, {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"})
            == 200
        )
        assert (host / "pgstore" / "auths" / "codex-u.json").is_file()
        deadline = time.monotonic() + 10
        row = None
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            while row is None and time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT content FROM tokens.auth_store WHERE id = 'codex-u.json'"
                ).fetchone()
                time.sleep(0.1)
        assert row is not None and row[0]["email"] == "u@example.com"
    finally:
        proc.stop()
    assert not Path(host / "config.yaml").exists()  # nothing written beside the workspace


def test_workers_share_one_workspace_and_the_supervisor_mirrors_it(bare_repo, fake, tmp_path):
    """With workers: 2 on the git store the supervisor bootstraps once and runs the only
    mirror: an upload answered by either worker becomes one commit on the remote."""
    from tests.test_workers import MEMORY_OVERRIDE_ENV

    seed = tmp_path / "config.yaml"
    seed.write_text(
        f"""
workers: 2
api-keys: [sk-client]
remote-management: {{secret-key: {SECRET}}}
openai-compatibility:
  - name: fake
    base-url: "{fake.base_url}/v1"
    api-key-entries: [{{api-key: sk-up}}]
    models: [{{name: gpt-4o-mini}}]
"""
    )
    host = tmp_path / "host"
    host.mkdir()
    env = {
        **os.environ,
        "GITSTORE_GIT_URL": str(bare_repo),
        "GITSTORE_LOCAL_PATH": str(host),
        MEMORY_OVERRIDE_ENV: "1",
    }
    proc = Proc(["serve", "--config", str(seed), "--port", "0"], env, cwd=host)
    try:
        port = int(proc.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
        proc.wait_for(r"listening on", count=2)
        assert len([x for x in proc.lines if "token store: config and auth files" in x]) == 1
        token = json.dumps({"type": "codex", "email": "w@example.com", "access_token": "at"}).encode()
        url = f"http://127.0.0.1:{port}/v0/management/auth-files?name=codex-w.json"
        assert (
            _post(url, token, {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"})
            == 200
        )
        deadline = time.monotonic() + 10
        shown = ""
        while time.monotonic() < deadline and "codex-w.json" not in shown:
            shown = subprocess.run(
                ["git", "--git-dir", str(bare_repo), "log", "--format=%s", "--all"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            time.sleep(0.1)
        assert "Update auth codex-w.json" in shown
    finally:
        proc.stop()


def _remote_tree(bare_repo: Path) -> list[str]:
    return subprocess.run(
        ["git", "--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "main", "auths"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()


def _wait_remote(bare_repo: Path, want: set[str]) -> list[str]:
    deadline = time.monotonic() + 10
    tree = _remote_tree(bare_repo)
    while time.monotonic() < deadline and {p for p in tree if p.endswith(".json")} != want:
        time.sleep(0.1)
        tree = _remote_tree(bare_repo)
    return tree


def test_a_management_delete_reaches_the_git_store_and_a_hand_delete_does_not(bare_repo, fake, tmp_path):
    """CPA: TestGitTokenStoreWatcherRemovalNoOpsAfterExplicitDelete and
    TestEnsureRepositoryRetryRestoresTrackedAuthOnUpToDatePull, end to end: a file deleted
    through the management API is deleted on the remote; one deleted by hand while the proxy
    was down is restored at the next start and stays on the remote."""
    seed = tmp_path / "config.yaml"
    seed.write_text(f"api-keys: [sk-client]\nremote-management: {{secret-key: {SECRET}}}\n")
    host = tmp_path / "host"
    host.mkdir()
    env = {**os.environ, "GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": str(host)}
    admin = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    auths = host / "gitstore" / "auths"
    proc = Proc(["serve", "--config", str(seed), "--port", "0"], env, cwd=host)
    try:
        port = int(proc.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")[0][1])
        base = f"http://127.0.0.1:{port}/v0/management/auth-files"
        for name in ("api.json", "hand.json"):
            token = json.dumps({"type": "codex", "email": f"{name}@example.com", "access_token": "at"})
            assert _post(f"{base}?name={name}", token.encode(), admin) == 200
        assert "auths/hand.json" in _wait_remote(bare_repo, {"auths/api.json", "auths/hand.json"})
        gone = urllib.request.Request(f"{base}?name=api.json", headers=admin, method="DELETE")
        with urllib.request.urlopen(gone, timeout=20) as r:
            assert r.status == 200
        assert "auths/api.json" not in _wait_remote(bare_repo, {"auths/hand.json"})
    finally:
        proc.stop()

    kept = (auths / "hand.json").read_bytes()
    (auths / "hand.json").unlink()
    GitStore(host / "gitstore", str(bare_repo)).bootstrap(seed)  # what the next `serve` runs first
    assert (auths / "hand.json").read_bytes() == kept
    assert not (auths / "api.json").exists()
    assert "auths/hand.json" in _remote_tree(bare_repo)
