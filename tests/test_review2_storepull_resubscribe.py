"""A host of a token store whose notification channel was down while another host pushed an
auth change pulls once it follows the channel again (docs/deploy.md, "Several hosts").

Hosts learn other hosts' changes only from the ``auth`` notice marked ``pushed`` (nothing
polls the remote), and a notice sent while a host's channel is down is lost. Before, such a
host never took the change (an account disabled or deleted elsewhere stayed served here)
until some later push happened to start a pull. The outage: SUBSCRIBE refused by an ACL
rule and the subscribers cut (``CLIENT KILL TYPE pubsub``), the data and every other
command left as they were, so the push notice is published (a listener of the test's own
sees it) while no host listens.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from tests.stores.conftest import bare_repo  # noqa: F401 (fixture)
from tests.test_storepull_hosts import TOKEN, _call, _files, _hosts, _until

ADMIN, PASSWORD = "review2-admin", "review2-pw"
CHANNEL = "pull:events"  # state.prefix "pull:" (tests.test_storepull_hosts._hosts)


def _subscribers(admin: redis.Redis) -> int:
    return int(admin.pubsub_numsub(CHANNEL)[0][1])


def _pushed_notice(listener: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.2)
        if message and message.get("type") == "message" and orjson.loads(message["data"]).get("pushed"):
            return True
    return False


def test_a_host_pulls_what_was_pushed_while_its_channel_was_down(bare_repo, redis_server, tmp_path: Path):  # noqa: F811
    git = {"GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b) = _hosts(tmp_path, redis_server.url, [git, git], [1, 1])
    root = redis.Redis.from_url(redis_server.url)
    root.execute_command("ACL", "SETUSER", ADMIN, "on", f">{PASSWORD}", "~*", "&*", "+@all")
    admin = redis.Redis.from_url(redis_server.url, username=ADMIN, password=PASSWORD)
    listener = None
    try:
        assert _until(lambda: _subscribers(root) == 2)  # both hosts follow the channel
        root.execute_command("ACL", "SETUSER", "default", "-subscribe")  # no host can follow it again
        root.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert _until(lambda: _subscribers(root) == 0)
        listener = admin.pubsub()
        listener.subscribe(CHANNEL)
        listener.get_message(timeout=1.0)  # (the subscribe confirmation)

        url = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(url + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        assert _pushed_notice(listener, 10.0)  # host A pushed and said so: nobody heard it
        assert "codex-u.json" not in _files(b)

        root.execute_command("ACL", "SETUSER", "default", "+subscribe")  # the channel is back
        assert _until(lambda: _subscribers(root) == 3, 10.0)  # both hosts and the test's listener
        assert _until(lambda: "codex-u.json" in _files(b), 8.0), "host B never pulled the missed push"
        assert (tmp_path / "host-1" / "gitstore" / "auths" / "codex-u.json").is_file()
    finally:
        if listener is not None:
            listener.close()
        root.execute_command("ACL", "SETUSER", "default", "+subscribe")
        for proc in procs:
            proc.stop()
