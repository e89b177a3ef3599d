"""A host's push notice that could not be published is published once it can be (docs/
deploy.md, "Several hosts").

The other hosts pull only on that notice (nothing polls the remote). Before, a notice the
host could not publish (Redis away from this host alone for a moment: the publish failed)
was dropped, so the other hosts never took that change (an upload, a disable, a delete)
until some later push anywhere. The outage: PUBLISH refused by an ACL rule, every other
command (the hosts' subscriptions, the data) left as it was, so no resubscribe happens and
the notice must be sent again by the host itself.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from tests.stores.conftest import bare_repo  # noqa: F401 (fixture)
from tests.test_storepull_hosts import TOKEN, _call, _files, _hosts, _until

ADMIN, PASSWORD = "storefix-admin", "storefix-pw"
CHANNEL = "pull:events"  # state.prefix "pull:" (tests.test_storepull_hosts._hosts)


def _pushed_notices(listener: Any, seconds: float) -> int:
    deadline, seen = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
        if message and message.get("type") == "message" and orjson.loads(message["data"]).get("pushed"):
            seen += 1
    return seen


def test_a_push_notice_that_failed_is_sent_once_redis_takes_it(bare_repo, redis_server, tmp_path: Path):  # noqa: F811
    git = {"GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b) = _hosts(tmp_path, redis_server.url, [git, git], [1, 1])
    root = redis.Redis.from_url(redis_server.url)
    root.execute_command("ACL", "SETUSER", ADMIN, "on", f">{PASSWORD}", "~*", "&*", "+@all")
    listener = redis.Redis.from_url(redis_server.url, username=ADMIN, password=PASSWORD).pubsub()
    try:
        listener.subscribe(CHANNEL)
        listener.get_message(timeout=1.0)  # (the subscribe confirmation)
        root.execute_command("ACL", "SETUSER", "default", "-publish")  # the hosts cannot publish
        url = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(url + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        # host A pushed to the remote, and could not say so
        assert _until(lambda: _remote_has(bare_repo, "auths/codex-u.json"), 10.0)
        assert _pushed_notices(listener, 1.5) == 0
        assert "codex-u.json" not in _files(b)

        root.execute_command("ACL", "SETUSER", "default", "+publish")  # Redis takes it again
        assert _until(lambda: "codex-u.json" in _files(b), 8.0), "host B never heard of A's push"
        assert (tmp_path / "host-1" / "gitstore" / "auths" / "codex-u.json").is_file()
        assert _pushed_notices(listener, 1.5) == 1  # sent again once, not over and over
    finally:
        listener.close()
        root.execute_command("ACL", "SETUSER", "default", "+publish")
        for proc in procs:
            proc.stop()


def _remote_has(repo: Path, path: str) -> bool:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "log", "--all", "--name-only", "--format="],
        capture_output=True,
        text=True,
        check=False,
    )
    return path in out.stdout.split()
