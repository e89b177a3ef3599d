"""``state.url`` forms besides ``redis://host:port/db``: a Unix socket, a password given as
a query option, and URLs that cannot work (a clear start-up error, not a traceback)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.state.redis_server import RedisServer, redis_binary


@pytest.fixture
def unix_redis() -> Iterator[RedisServer]:
    server = RedisServer(redis_binary(), unix=True)
    server.start()
    yield server
    server.close()


async def _shared_by_two(start_proxy, fakes, url: str, caplog) -> None:
    """Rotation is one cursor for both, A's management edit reaches B, nothing is reported
    unreachable."""
    caplog.set_level(logging.WARNING, "cliproxy.state")
    text = two_claude_keys(fakes, f"state:\n  backend: redis\n  url: '{url}'\n")
    a, b = await start_proxy(text), await start_proxy(text)
    for proxy in (a, b, a, b):
        assert (await _post(proxy, MSG))[0] == 200
    keys = _keys(fakes.claude)
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[2] != keys[3], keys
    assert await mcall(a, "PUT", "/api-keys", [KEY, "client-new"]) == (200, {"status": "ok"})
    deadline = asyncio.get_running_loop().time() + 5
    while "client-new" not in b.service.config.api_keys:
        assert asyncio.get_running_loop().time() < deadline, "B did not hear A's edit"
        await asyncio.sleep(0.02)
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]


async def test_a_unix_socket_url_is_shared(start_proxy, fakes, unix_redis, caplog, monkeypatch):
    """Before, cliproxy's own connections (the round-robin cursor, the notification channel)
    went to TCP 127.0.0.1:6379 whatever the ``unix://`` URL said: to nothing (every request
    took Redis for unreachable) or to another Redis listening there."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    await _shared_by_two(start_proxy, fakes, unix_redis.url, caplog)


async def test_a_password_given_as_a_query_option(start_proxy, fakes, redis_server, caplog, monkeypatch):
    """redis-py takes ``?password=`` (and ``?db=``) as well as the URL's user part; before,
    cliproxy's own connections sent no AUTH then and were refused."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    admin = aioredis.from_url(redis_server.url)
    try:
        await admin.config_set("requirepass", "s3cret")
        base = redis_server.url.rsplit("/", 1)[0]
        await _shared_by_two(start_proxy, fakes, f"{base}/0?password=s3cret", caplog)
    finally:
        await admin.execute_command("AUTH", "s3cret")
        await admin.config_set("requirepass", "")
        await admin.aclose()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:6379/0", "redis://, rediss://, unix://"),
        ("redis://127.0.0.1:notaport/0", "port"),
    ],
)
def test_a_state_url_that_cannot_work_stops_the_start_with_one_line(tmp_path: Path, url: str, said: str):
    """Before, the start ended in a Python traceback (exit code 1), and under ``workers: N``
    the supervisor restarted the failing workers again and again."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"api-keys: [k]\nauth-dir: {tmp_path / 'auths'}\nstate: {{backend: redis, url: '{url}'}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = next(line for line in done.stderr.splitlines() if "cannot start" in line)
    assert "state.url" in line and said in line
