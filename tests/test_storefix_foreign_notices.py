"""Hosts of a token store read their auth files again only for notices that concern their
own workspace (docs/deploy.md, "Several hosts").

A host's workers tell each other about a write into their workspace with an ``auth`` notice
(an upload, the files a pull brought). Before, every process of every other host re-read
its own auth folder on each of them too, although it holds other files (it learns another
host's change from that host's push notice, and reads once its pull brought it): one change
cost about H^2 * N auth-folder reads across H hosts of N workers. Each reload logs
"credential(s) loaded", which is what is counted here.
"""

from __future__ import annotations

import json
import time

from tests.stores.conftest import bare_repo  # noqa: F401 (fixture)
from tests.test_storepull_hosts import TOKEN, _call, _files, _hosts, _until
from tests.test_workers import Proc


def _loads(proc: Proc) -> int:
    return sum("credential(s) loaded" in line for line in proc.lines)


def test_a_change_is_read_once_on_each_host_of_a_store(bare_repo, redis_server, tmp_path):  # noqa: F811
    git = {"GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b, c) = _hosts(tmp_path, redis_server.url, [git, git, git], [1, 1, 1])
    try:
        time.sleep(0.5)  # start-up reloads done
        before = [_loads(p) for p in procs]
        url = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(url + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        assert _until(lambda: "codex-u.json" in _files(b) and "codex-u.json" in _files(c), 10.0)
        time.sleep(1.0)  # late notices (none expected) would land meanwhile
        reads = [_loads(p) - n for p, n in zip(procs, before, strict=True)]
        # A: its upload; B and C: their pull. Before: A also read for B's and C's pull
        # notices, B for A's upload and C's pull, C for A's upload and B's pull: [3, 3, 3]
        assert reads == [1, 1, 1], reads
    finally:
        for proc in procs:
            proc.stop()


def test_sibling_workers_read_their_hosts_pull(bare_repo, redis_server, tmp_path):  # noqa: F811
    git = {"GITSTORE_GIT_URL": str(bare_repo), "GITSTORE_LOCAL_PATH": "{host}"}
    procs, (a, b) = _hosts(tmp_path, redis_server.url, [git, git], [1, 2])
    try:
        time.sleep(0.5)
        before = [_loads(p) for p in procs]
        url = f"http://127.0.0.1:{a}/v0/management/auth-files"
        assert _call(url + "?name=codex-u.json", json.dumps(TOKEN).encode())[0] == 200
        assert _until(lambda: "codex-u.json" in _files(b), 10.0, times=6)  # both workers list it
        time.sleep(1.0)
        reads = [_loads(p) - n for p, n in zip(procs, before, strict=True)]
        assert reads == [1, 2], reads  # B: the worker that heard of the pull, and its sibling
    finally:
        for proc in procs:
            proc.stop()
