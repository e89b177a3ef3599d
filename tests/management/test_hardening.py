"""Hardening of management writes and checks: empty config.yaml, the watcher's view after
a write, a deleted config file, and the management key check off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cliproxy.config import ConfigDocument, hash_secret, verify_secret
from cliproxy.management.auth import BAN_SECONDS, ManagementGate
from tests.management.conftest import mcall

CONFIG = """\
# my proxy config
api-keys:
  - "client-1"  # first client
request-retry: 1
"""


async def _wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- defect 2: an empty or key-less config.yaml never replaces the file


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n",
        "# only a comment\n# and another\n",
        "{}\n",
        "~\n",
        "null\n",
        "- a\n- b\n",
        "just a string\n",
        "port: " + "[" * 3000 + "]" * 3000 + "\n",
    ],
)
async def test_put_config_yaml_refuses_a_document_without_keys(mproxy, text):
    proxy = await mproxy(CONFIG)
    before = proxy.config_path.read_bytes()
    status, body = await mcall(proxy, "PUT", "/config.yaml", data=text.encode())
    assert status == 400, body
    assert body["error"] in ("invalid_config", "invalid_yaml") and body["message"]
    assert proxy.config_path.read_bytes() == before
    assert proxy.service.config.api_keys == ["client-1"]
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/v1/models") as r:
        assert r.status == 401  # still closed to callers without a key


async def test_copying_the_previous_file_back_after_a_write_is_seen(mproxy):
    proxy = await mproxy(CONFIG, watch=True, poll_interval=0.02)
    previous = proxy.config_path.read_bytes()
    new = previous.replace(b'"client-1"', b'"client-2"')
    assert (await mcall(proxy, "PUT", "/config.yaml", data=new))[0] == 200
    assert proxy.service.config.api_keys == ["client-2"]
    _replace(proxy.config_path, previous)  # before the watcher had time to settle on the write
    await _wait_for(lambda: proxy.service.config.api_keys == ["client-1"])


async def test_a_management_write_is_not_reloaded_again_by_the_watcher(mproxy):
    proxy = await mproxy(CONFIG, watch=True, poll_interval=0.02)
    assert (await mcall(proxy, "PUT", "/request-retry", json={"value": 3}))[0] == 200
    reloads = proxy.service.reloads
    # a marker file written after our write: the watcher polls the config before the auth
    # dir, so once the marker is loaded the watcher has settled on our write as well
    _replace(proxy.service.auth_dir / "marker.json", b'{"type": "claude", "access_token": "at-m"}')
    await _wait_for(lambda: _loaded(proxy, "marker.json"))
    assert proxy.service.reloads == reloads
    assert proxy.service.config.request_retry == 3


def _loaded(proxy: Any, name: str) -> bool:
    return any(c.path is not None and c.path.name == name for c in proxy.service.pool.credentials())


async def test_auth_files_written_by_the_service_are_not_reported_again(mproxy, caplog):
    proxy = await mproxy(CONFIG, watch=True, poll_interval=0.02)
    caplog.set_level("INFO", logger="cliproxy")
    body = b'{"type": "claude", "access_token": "at-1", "email": "a@example.com"}'
    status, _ = await mcall(proxy, "POST", "/auth-files?name=mine.json", data=body)
    assert status == 200
    assert _loaded(proxy, "mine.json")
    auth_dir = proxy.service.auth_dir
    _replace(
        auth_dir / "outside.json", b'{"type": "claude", "access_token": "at-2", "email": "b@example.com"}'
    )
    await _wait_for(lambda: "auth file added: outside.json" in caplog.text)
    assert "mine.json" not in caplog.text


# -- defect 10: the config file deleted while the proxy runs


async def test_write_after_the_config_file_was_deleted_answers_409(mproxy):
    proxy = await mproxy(CONFIG)
    proxy.config_path.unlink()
    for method, path, body in (
        ("PUT", "/request-retry", {"value": 3}),
        ("PUT", "/debug", {"value": True}),
        ("PUT", "/api-keys", ["k-1"]),
    ):
        status, answer = await mcall(proxy, method, path, body)
        assert status == 409, (path, answer)
        assert "config file" in answer["error"] and str(proxy.config_path) in answer["error"]
        assert "Traceback" not in str(answer)
    assert not proxy.config_path.exists()
    assert proxy.service.config.api_keys == ["client-1"]


async def test_put_config_yaml_recreates_a_deleted_config_file(mproxy):
    proxy = await mproxy(CONFIG)
    proxy.config_path.unlink()
    text = CONFIG.replace("client-1", "client-9")
    assert await mcall(proxy, "PUT", "/config.yaml", data=text.encode()) == (
        200,
        {"ok": True, "changed": ["config"]},
    )
    assert proxy.config_path.read_text() == text
    assert proxy.service.config.api_keys == ["client-9"]


# -- defect 6: the management key check does not block the event loop


async def test_management_calls_do_not_stall_other_requests(start_proxy, monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy("remote-management:\n  secret-key: m-secret\n")
    assert proxy.service.config.remote_management.secret_key.startswith("$2")  # bcrypt, ~60 ms a check
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def verify(candidate: str, stored: str) -> bool:  # the real bcrypt check, noting where it runs
        threads.append(threading.get_ident())
        return verify_secret(candidate, stored)

    proxy.service.management = ManagementGate(verify=verify)
    headers = {"Authorization": "Bearer m-secret"}
    worst = 0.0
    done = asyncio.Event()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def probe() -> None:
            nonlocal worst
            while not done.is_set():
                start = time.perf_counter()
                async with session.get(proxy.url + "/healthz") as r:
                    assert r.status == 200
                worst = max(worst, time.perf_counter() - start)

        async def call() -> int:
            async with session.get(proxy.url + "/v0/management/request-retry", headers=headers) as r:
                return r.status

        async with session.get(proxy.url + "/healthz"):
            pass  # the probe's connection is open before the burst
        prober = asyncio.create_task(probe())
        statuses = await asyncio.gather(*(call() for _ in range(30)))
        done.set()
        await prober
    assert statuses == [200] * 30
    # the fix itself, free of timing: bcrypt never ran on the event loop's thread
    assert threads and loop_thread not in threads
    # on the loop, 30 bcrypt checks held /healthz for ~1.7 s; off it, tens of ms (a loaded
    # machine adds noise, so this bound is loose)
    assert worst < 1.0, f"/healthz took {worst * 1000:.0f} ms during 30 management calls"


def _config(stored: str) -> Any:
    return ConfigDocument.from_text(f"remote-management:\n  secret-key: '{stored}'\n").config


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, candidate: str, stored: str) -> bool:
        self.calls += 1
        return verify_secret(candidate, stored)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


KEY = {"Authorization": "Bearer s3cret"}


async def test_a_successful_check_is_cached_and_bcrypt_runs_once(monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    verify, clock = _Counting(), _Clock()
    gate = ManagementGate(clock, verify=verify)
    config = _config(hash_secret("s3cret"))
    assert await asyncio.gather(*(gate.check(config, "127.0.0.1", KEY) for _ in range(10))) == [None] * 10
    for _ in range(5):
        assert await gate.check(config, "127.0.0.1", KEY) is None
    assert verify.calls == 1
    clock.now += 61  # the cached success expires
    assert await gate.check(config, "127.0.0.1", KEY) is None
    assert verify.calls == 2


async def test_a_new_secret_invalidates_the_cache(monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    verify = _Counting()
    gate = ManagementGate(verify=verify)
    assert await gate.check(_config(hash_secret("s3cret")), "127.0.0.1", KEY) is None
    changed = _config(hash_secret("other"))
    denied = await gate.check(changed, "127.0.0.1", KEY)
    assert denied is not None and denied.status == 401
    assert verify.calls == 2


async def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    verify = _Counting()
    gate = ManagementGate(verify=verify, cache_size=2)
    configs = [_config(hash_secret("s3cret")) for _ in range(3)]  # three hashes of one key
    for config in configs:
        assert await gate.check(config, "127.0.0.1", KEY) is None
    assert await gate.check(configs[2], "127.0.0.1", KEY) is None
    assert verify.calls == 3
    assert await gate.check(configs[0], "127.0.0.1", KEY) is None  # pushed out by the third
    assert verify.calls == 4


async def test_failures_are_never_cached_and_still_ban(monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    verify, clock = _Counting(), _Clock()
    gate = ManagementGate(clock, verify=verify)
    config = _config(hash_secret("s3cret"))
    assert await gate.check(config, "10.0.0.1", KEY) is not None  # remote, allow-remote off: 403
    config = ConfigDocument.from_text(
        f"remote-management:\n  allow-remote: true\n  secret-key: '{config.remote_management.secret_key}'\n"
    ).config
    assert await gate.check(config, "10.0.0.1", KEY) is None
    wrong = {"Authorization": "Bearer nope"}
    for attempt in range(5):
        denied = await gate.check(config, "10.0.0.1", wrong)
        assert denied is not None and denied.status == 401, attempt
    assert verify.calls == 6  # every wrong key was really checked
    denied = await gate.check(config, "10.0.0.1", KEY)  # banned now, even with the right key
    assert denied is not None and denied.status == 403 and "banned" in denied.message
    clock.now += BAN_SECONDS + 1
    assert await gate.check(config, "10.0.0.1", KEY) is None
