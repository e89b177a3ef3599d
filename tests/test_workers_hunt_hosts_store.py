"""Two hosts on one Redis, each with its own workspace of one git token store: an account
uploaded through one host's management API reaches the other host while both run.

docs/deploy.md ("Several hosts"): "While running, hosts on one Redis learn about each
other's changes through its change notification." Before, the notification (``auth``) made
the other host read its own workspace again, which nothing filled from the remote while it
ran (the mirror only pushed), so it never listed the account until it restarted. Now the
uploading host's notice, sent once its mirror pushed, makes the other host's mirror pull.
More cases (a delete, a disable, Postgres, object storage): tests/test_storepull_hosts.py.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

from tests.stores.conftest import bare_repo  # noqa: F401 (a fixture)
from tests.test_workers import Proc

SECRET = "mgmt-secret"


def _call(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=20) as r:
        return int(r.status), r.read()


def test_an_upload_on_one_host_is_listed_by_the_other(bare_repo, redis_server, tmp_path):  # noqa: F811
    seed = tmp_path / "config.yaml"
    seed.write_text(
        f"""
api-keys: [sk-client]
remote-management: {{secret-key: {SECRET}}}
state: {{backend: redis, url: "{redis_server.url}", prefix: "hosts:"}}
usage-ledger: {{enabled: false}}
"""
    )
    procs, ports = [], []
    try:
        for name in ("a", "b"):
            host = tmp_path / f"host-{name}"
            host.mkdir()
            env = {**os.environ, "GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": str(host)}
            proc = Proc(["serve", "--config", str(seed), "--port", "0"], env, cwd=host)
            procs.append(proc)
            ports.append(int(proc.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")[0][1]))
        token = json.dumps({"type": "codex", "email": "u@example.com", "access_token": "at"}).encode()
        base = "http://127.0.0.1:{}/v0/management/auth-files"
        assert _call(base.format(ports[0]) + "?name=codex-u.json", token)[0] == 200
        listed = [f["name"] for f in json.loads(_call(base.format(ports[0]))[1])["files"]]
        assert listed == ["codex-u.json"]  # host A has it
        deadline, names = time.monotonic() + 3, []
        while time.monotonic() < deadline:
            names = [f["name"] for f in json.loads(_call(base.format(ports[1]))[1])["files"]]
            if "codex-u.json" in names:
                break
            time.sleep(0.1)
        assert "codex-u.json" in names
    finally:
        for proc in procs:
            proc.stop()
