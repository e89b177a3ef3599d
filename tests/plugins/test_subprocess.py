"""SubprocessClient against real child processes (stdlib-only plugin scripts)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from cliproxy.plugins.abi import PluginCrashed, PluginError
from cliproxy.plugins.subprocess import PluginTimeoutError, SubprocessClient

SCRIPT = Path(__file__).parent / "subproc" / "echo_plugin.py"


class FakeHost:
    """A HostDispatcher: records calls; ``host.wait`` blocks until ``host.open`` runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.gate = asyncio.Event()

    async def host_call(self, plugin_id: str, method: str, params: object) -> object:
        self.calls.append((plugin_id, method, params))
        if method == "host.fail":
            raise RuntimeError("no such auth")
        if method == "host.wait":
            await self.gate.wait()
            return {"waited": True}
        if method == "host.open":
            self.gate.set()
            return {"opened": True}
        return {"echo": params, "plugin": plugin_id}


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
async def start(host):
    clients: list[SubprocessClient] = []

    async def _start(*args: str, **kwargs) -> SubprocessClient:
        client = await SubprocessClient.start([sys.executable, str(SCRIPT), *args], "echo", host, **kwargs)
        clients.append(client)
        return client

    yield _start
    for client in clients:
        await client.shutdown(timeout=2)
        assert_released(client)


def assert_released(client: SubprocessClient) -> None:
    """Process reaped, pipes and transport closed (a leak only warns in ``__del__``)."""
    assert client.returncode is not None
    assert client._proc._transport.is_closing()


def assert_reaped(pid: int) -> None:
    with pytest.raises(ProcessLookupError):  # a zombie would still answer signal 0
        os.kill(pid, 0)


async def test_register_and_execute_echo(start):
    client = await start()
    assert client.transport == "subprocess" and client.plugin_id == "echo"
    reg = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
    assert reg["capabilities"] == {"executor": True}
    payload = bytes(range(256)) * 4 + "\n\u00e9\u4e2d".encode()
    out = await client.call("executor.execute", {"Payload": base64.b64encode(payload).decode()})
    assert base64.b64decode(out["Payload"]) == payload
    assert out["Length"] == len(payload)


async def test_error_envelope_keeps_http_status(start):
    client = await start()
    with pytest.raises(PluginError) as info:
        await client.call("test.fail", {"message": "quota exhausted", "status": 429})
    assert (info.value.message, info.value.http_status, info.value.code) == (
        "quota exhausted",
        429,
        "upstream",
    )
    assert not isinstance(info.value, PluginCrashed)
    assert await client.call("executor.execute", {}) == {"Payload": "", "Length": 0}  # still alive


async def test_large_message_roundtrip(start):
    client = await start()
    payload = os.urandom(8 * 1024 * 1024)  # 8 MiB: ~11 MiB of base64 on one line
    out = await client.call("executor.execute", {"Payload": base64.b64encode(payload).decode()})
    assert base64.b64decode(out["Payload"]) == payload


async def test_hundred_concurrent_calls_answered_in_reverse(start):
    client = await start()
    calls = [client.call("test.collect", {"n": 100, "value": i}) for i in range(100)]
    async with asyncio.timeout(10):
        results = await asyncio.gather(*calls)
    assert [r["value"] for r in results] == list(range(100))


async def test_reentrant_host_call_answer_used_in_result(start, host):
    client = await start()
    out = await client.call("test.ask_host", {"host_method": "host.auth.list", "host_params": {"x": 1}})
    assert out == {"host_envelope": {"ok": True, "result": {"echo": {"x": 1}, "plugin": "echo"}}}
    assert host.calls == [("echo", "host.auth.list", {"x": 1})]


async def test_host_call_failure_becomes_error_envelope(start):
    client = await start()
    out = await client.call("test.ask_host", {"host_method": "host.fail"})
    assert out["host_envelope"] == {
        "ok": False,
        "error": {"code": "host_call_failed", "message": "no such auth"},
    }


async def test_host_calls_are_served_concurrently(start):
    client = await start()
    waiting = asyncio.create_task(client.call("test.ask_host", {"host_method": "host.wait"}))
    await asyncio.sleep(0.1)  # host.wait is now blocked inside the host
    async with asyncio.timeout(5):
        opened = await client.call("test.ask_host", {"host_method": "host.open"})
        waited = await waiting
    assert opened["host_envelope"]["result"] == {"opened": True}
    assert waited["host_envelope"]["result"] == {"waited": True}


async def test_timeout_sends_cancel_and_raises(start):
    # the client-wide default is the thing under test; the follow-up call gets its own
    # generous limit so a loaded machine cannot time it out too
    client = await start(call_timeout=0.2)
    began = time.monotonic()
    with pytest.raises(PluginTimeoutError) as info:
        await client.call("test.slow", {"seconds": 5})
    assert time.monotonic() - began < 2
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, PluginError)
    assert (info.value.code, info.value.http_status) == ("timeout", 504)
    assert len((await client.call("test.cancelled", {}, timeout=30))["ids"]) == 1
    assert client.alive


async def test_late_result_after_timeout_is_dropped(start):
    client = await start()
    with pytest.raises(asyncio.TimeoutError):
        await client.call("test.slow", {"seconds": 0.3, "ignore_cancel": True}, timeout=0.05)
    await asyncio.sleep(0.5)  # the late answer arrives now and must be dropped
    assert await client.call("test.collect", {"n": 1, "value": "next"}) == {"value": "next"}
    assert client.alive


async def test_cancelled_caller_sends_cancel(start):
    client = await start()
    task = asyncio.create_task(client.call("test.slow", {"seconds": 5}))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len((await client.call("test.cancelled", {}))["ids"]) == 1


async def test_sigkill_mid_request_fails_fast_and_fuses_once(start):
    crashes: list[tuple[str, PluginCrashed]] = []
    client = await start(on_crash=lambda pid, err: crashes.append((pid, err)))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    calls = [asyncio.create_task(client.call("test.hang", {})) for _ in range(5)]
    await asyncio.sleep(0.2)
    pid = client.pid
    os.kill(pid, signal.SIGKILL)
    began = time.monotonic()
    async with asyncio.timeout(3):
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert time.monotonic() - began < 2
    assert all(isinstance(r, PluginCrashed) for r in results)
    assert "SIGKILL" in str(results[0])
    with pytest.raises(PluginCrashed):
        async with asyncio.timeout(0.5):
            await client.call("executor.execute", {})
    await asyncio.sleep(0.1)
    assert len(crashes) == 1 and crashes[0][0] == "echo"
    assert not client.alive
    assert ticks > 10
    ticking.cancel()
    await client.shutdown(timeout=1)
    assert_reaped(pid)


async def test_exit_mid_request_is_a_crash(start):
    crashes: list[PluginCrashed] = []
    client = await start(on_crash=lambda _pid, err: crashes.append(err))
    with pytest.raises(PluginCrashed, match="exited with code 3"):
        await client.call("test.exit", {"code": 3})
    assert len(crashes) == 1


async def test_undecodable_line_kills_the_plugin(start):
    crashes: list[PluginCrashed] = []
    client = await start(on_crash=lambda _pid, err: crashes.append(err))
    with pytest.raises(PluginCrashed, match="undecodable"):
        await client.call("test.garbage", {})
    await client.shutdown(timeout=1)
    assert len(crashes) == 1
    assert client.returncode is not None
    assert_reaped(client.pid)


async def test_async_on_crash_is_awaited(start):
    seen = asyncio.Event()

    async def on_crash(plugin_id: str, err: PluginCrashed) -> None:
        await asyncio.sleep(0)
        seen.set()

    client = await start(on_crash=on_crash)
    with pytest.raises(PluginCrashed):
        await client.call("test.exit", {"code": 1})
    async with asyncio.timeout(2):
        await seen.wait()


async def test_log_frames_and_stderr_are_logged(start, caplog):
    caplog.set_level(logging.DEBUG, logger="cliproxy.plugins.subprocess")
    client = await start()
    await client.call("test.log", {"message": "hello from the plugin", "stderr": "a line on stderr"})
    async with asyncio.timeout(3):
        while "a line on stderr" not in caplog.text:
            await asyncio.sleep(0.02)
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels["plugin echo: hello from the plugin"] == logging.WARNING
    assert "plugin echo stderr: a line on stderr" in levels


async def test_shutdown_drains_in_flight_calls_then_exits(start):
    client = await start()
    pid = client.pid
    slow = asyncio.create_task(client.call("test.slow", {"seconds": 0.3}))
    await asyncio.sleep(0.05)
    await client.shutdown(timeout=3)
    assert await slow == {"slept": 0.3}
    assert client.returncode == 0
    assert_reaped(pid)
    with pytest.raises(PluginCrashed, match="shut down"):
        await client.call("executor.execute", {})


async def test_shutdown_kills_a_stubborn_plugin(start):
    client = await start("--stubborn")
    hang = asyncio.create_task(client.call("test.hang", {}))
    await asyncio.sleep(0.1)
    began = time.monotonic()
    await client.shutdown(timeout=0.3)
    assert time.monotonic() - began < 4
    assert client.returncode == -signal.SIGKILL
    with pytest.raises(PluginCrashed):
        await hang
    assert_reaped(client.pid)


async def test_concurrent_shutdowns_share_one(start):
    client = await start()
    await asyncio.gather(client.shutdown(), client.shutdown(), client.shutdown())
    assert client.returncode == 0


async def test_unstartable_command_raises_plugin_crashed(host):
    with pytest.raises(PluginCrashed, match="cannot start"):
        await SubprocessClient.start(["/nonexistent/plugin-binary"], "ghost", host)


async def test_exit_is_noticed_while_a_grandchild_holds_stdout(host):
    crashes: list[PluginCrashed] = []
    script = f"sleep 5 & exec {sys.executable} {SCRIPT}"
    client = await SubprocessClient.start(
        ["sh", "-c", script], "wrapped", host, on_crash=lambda _pid, err: crashes.append(err)
    )
    try:
        hang = asyncio.create_task(client.call("test.hang", {}))
        await asyncio.sleep(0.2)
        os.kill(client.pid, signal.SIGKILL)
        async with asyncio.timeout(3):
            with pytest.raises(PluginCrashed, match="SIGKILL"):
                await hang
        assert len(crashes) == 1
        async with asyncio.timeout(5):
            await client.shutdown(timeout=1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(client.pid, signal.SIGKILL)  # the sleep, in the plugin's own process group
        await client.shutdown(timeout=1)
    assert_released(client)


async def test_result_without_envelope_object_is_a_crash(start):
    client = await start()
    with pytest.raises(PluginCrashed, match="envelope"):
        await client.call("test.bad_envelope", {})
    assert not client.alive


async def test_unknown_frame_types_are_ignored(start):
    client = await start()
    assert await client.call("test.future_frame", {}) == {"after": True}
    assert client.alive
