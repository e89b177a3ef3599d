"""NativeClient against small C plugins compiled for CPA's ABI: calls, errors, concurrency,
timeouts, shutdown and load failures."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import time
from pathlib import Path

import orjson
import pytest

from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, b64encode
from cliproxy.plugins.native import NativeClient, NativeLoadError
from tests.plugins.native import CC, FakeDispatcher, build_all

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")


@pytest.fixture(scope="session")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("native-plugins"))


@pytest.fixture
async def basic(libs):
    client = await NativeClient.load(str(libs["basic"]), "basic", FakeDispatcher())
    yield client
    await client.shutdown(timeout=5)


def counter(path: Path, name: str) -> int:
    """A global of the loaded library (dlopen of a loaded path returns the same handle)."""
    return ctypes.c_long.in_dll(ctypes.CDLL(str(path)), name).value


def int_counter(path: Path, name: str) -> int:
    return ctypes.c_int.in_dll(ctypes.CDLL(str(path)), name).value


async def test_register_returns_metadata_and_capabilities(basic):
    result = await basic.call("plugin.register", {"config_yaml": b64encode(b"a: 1\n"), "schema_version": 3})
    assert result["metadata"]["Name"] == "test-basic"
    assert result["metadata"]["Version"] == "1.2.3"
    assert result["capabilities"] == {"executor": True, "model_provider": True}
    assert result["host_schema"] == 3
    assert basic.transport == "native"
    assert basic.plugin_id == "basic"


async def test_execute_round_trips_base64_payload(basic):
    payload = bytes(range(256)) * 4
    params = {"Model": "m", "Payload": b64encode(payload)}
    result = await basic.call("executor.execute", params)
    assert b64decode(result["Payload"]) == payload
    assert result["Headers"]["X-Request-Len"] == [str(len(orjson.dumps(params)))]


async def test_request_bytes_arrive_unchanged(basic):
    params = {"text": "héllo ✓", "n": [1, 2, 3], "nested": {"a": None}}
    result = await basic.call("test.echo_raw", params)
    assert result["raw"] == params
    assert result["len"] == len(orjson.dumps(params))


async def test_error_envelope_keeps_http_status(basic):
    with pytest.raises(PluginError) as info:
        await basic.call("test.teapot", {})
    assert info.value.http_status == 418
    assert info.value.code == "teapot"
    assert info.value.message == "short and stout"


async def test_unknown_method_is_plugin_error(basic):
    with pytest.raises(PluginError, match="unknown method"):
        await basic.call("no.such.method", {})


async def test_nonzero_rc_with_garbage_is_a_crash(basic):
    with pytest.raises(PluginCrashed, match=r"^plugin call test.garbage returned 1: this is not json$"):
        await basic.call("test.garbage", {})


async def test_nonzero_rc_with_error_envelope_is_a_plugin_error(basic):
    with pytest.raises(PluginError) as info:
        await basic.call("test.rc_envelope", {})
    assert not isinstance(info.value, PluginCrashed)
    assert info.value.http_status == 429
    assert info.value.message == "refused"


async def test_nonzero_rc_without_body_is_a_crash(basic):
    with pytest.raises(PluginCrashed, match=r"returned 3: $"):
        await basic.call("test.rc_nobody", {})


async def test_non_json_answer_is_a_crash(basic):
    with pytest.raises(PluginCrashed, match="invalid JSON"):
        await basic.call("test.not_json", {})


async def test_every_plugin_buffer_is_freed(basic, libs):
    for method in ("plugin.register", "test.teapot", "test.garbage", "test.rc_envelope", "test.not_json"):
        with contextlib.suppress(PluginError, PluginCrashed):
            await basic.call(method, {})
    made = counter(libs["basic"], "responses_made")
    assert made >= 5
    assert counter(libs["basic"], "responses_freed") == made


async def test_fifty_concurrent_calls_run_in_parallel(basic):
    start = time.monotonic()
    results = await asyncio.gather(*(basic.call("test.slow", {"ms": 100}) for _ in range(50)))
    elapsed = time.monotonic() - start
    assert results == [{"slept": 100}] * 50
    assert elapsed < 2.0  # 5 s if serial
    assert basic.in_flight == 0


async def test_slow_call_does_not_block_the_loop(basic):
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        assert await basic.call("test.slow", {"ms": 300}) == {"slept": 300}
    finally:
        task.cancel()
    assert ticks >= 10


async def test_timeout_returns_early_and_shutdown_waits(libs):
    client = await NativeClient.load(str(libs["basic"]), "basic", FakeDispatcher())
    before = int_counter(libs["basic"], "shutdown_calls")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.call("test.slow", {"ms": 400}, timeout=0.05)
    assert time.monotonic() - start < 0.3
    assert client.in_flight == 1
    await client.shutdown(timeout=5)
    assert time.monotonic() - start >= 0.35
    assert client.in_flight == 0
    assert int_counter(libs["basic"], "shutdown_calls") == before + 1


async def test_cancelled_caller_returns_while_call_runs(basic):
    task = asyncio.create_task(basic.call("test.slow", {"ms": 300}))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert basic.in_flight == 1


async def test_shutdown_timeout_releases_in_background(libs):
    """CPA: TestGuardedPluginClientShutdownContextDetachesBlockedCall: shutdown does not wait
    for a call still running, and the plugin's own shutdown runs once, after that call."""
    client = await NativeClient.load(str(libs["basic"]), "basic", FakeDispatcher())
    before = int_counter(libs["basic"], "shutdown_calls")
    with pytest.raises(TimeoutError):
        await client.call("test.slow", {"ms": 300}, timeout=0.01)
    start = time.monotonic()
    await client.shutdown(timeout=0.05)
    assert time.monotonic() - start < 0.25
    assert int_counter(libs["basic"], "shutdown_calls") == before  # a call is still running
    for _ in range(100):
        if int_counter(libs["basic"], "shutdown_calls") == before + 1:
            break
        await asyncio.sleep(0.02)
    assert int_counter(libs["basic"], "shutdown_calls") == before + 1
    await client.shutdown(timeout=1)  # idempotent
    assert int_counter(libs["basic"], "shutdown_calls") == before + 1


async def test_calls_after_shutdown_fail(libs):
    client = await NativeClient.load(str(libs["basic"]), "basic", FakeDispatcher())
    await client.shutdown()
    assert client.closed
    with pytest.raises(PluginError, match="plugin client is closed"):
        await client.call("plugin.register", {})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken1", "missing symbol cliproxy_plugin_init"),
        ("broken2", "plugin ABI version 2 is not supported"),
        ("broken3", "cliproxy_plugin_init returned 5"),
        ("broken4", "plugin function table is incomplete"),
    ],
)
async def test_load_errors_name_the_file(libs, name, reason):
    with pytest.raises(NativeLoadError) as info:
        await NativeClient.load(str(libs[name]), name, FakeDispatcher())
    assert str(libs[name]) in str(info.value)
    assert reason in str(info.value)


async def test_failed_init_still_gets_shutdown(libs):
    before = int_counter(libs["broken3"], "shutdown_calls")
    with pytest.raises(NativeLoadError):
        await NativeClient.load(str(libs["broken3"]), "broken3", FakeDispatcher())
    assert int_counter(libs["broken3"], "shutdown_calls") == before + 1


async def test_missing_or_invalid_file(tmp_path):
    missing = tmp_path / "nope.so"
    with pytest.raises(NativeLoadError, match="cannot load library") as info:
        await NativeClient.load(str(missing), "nope", FakeDispatcher())
    assert str(missing) in str(info.value)
    text = tmp_path / "text.so"
    text.write_text("not a library")
    with pytest.raises(NativeLoadError, match="cannot load library"):
        await NativeClient.load(str(text), "text", FakeDispatcher())
