"""Host callbacks from native plugins: re-entrant calls, plugin-owned threads, failures,
bad arguments, and CPA's own C example plugins when their sources are at hand."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from cliproxy.plugins import _native_host
from cliproxy.plugins.native import NativeClient
from tests.plugins.native import CC, FakeDispatcher, build_all

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")

CPA_MIRROR = Path("/work/.mirror/router-for-me+CLIProxyAPI/repo")


@pytest.fixture(scope="session")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("native-plugins"))


@pytest.fixture
async def load(libs):
    clients: list[NativeClient] = []

    async def _load(name: str, plugin_id: str, dispatcher: FakeDispatcher) -> NativeClient:
        client = await NativeClient.load(str(libs.get(name, name)), plugin_id, dispatcher)
        dispatcher.client = client
        clients.append(client)
        return client

    yield _load
    for client in clients:
        await client.shutdown(timeout=5)


async def test_plugin_reenters_host_inside_its_call(load):
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    result = await client.call("test.reenter", {"x": 1})
    assert result["log_rc"] == 0
    assert result["log_answer"] == {"ok": True, "result": {}}
    assert result["custom_rc"] == 0
    assert result["host_answer"] == {"ok": True, "result": {"echo": {"x": 1}}}
    assert host.calls == [
        ("alpha", "host.log", {"level": "info", "message": "from C", "fields": {"k": "v"}}),
        ("alpha", "test.custom", {"x": 1}),
    ]
    assert set(host.threads) == {threading.get_ident()}  # dispatched on the event loop


async def test_host_failure_answers_error_envelope(load):
    client = await load("reentrant", "alpha", FakeDispatcher())
    result = await client.call("test.forward", {"method": "test.fail"})
    assert result["rc"] == 0
    assert result["host_answer"] == {"ok": False, "error": {"code": "host_call_failed", "message": "boom"}}


async def test_unserializable_host_result_answers_error_envelope(load):
    class Odd(FakeDispatcher):
        async def host_call(self, plugin_id, method, params):
            return {"value": object()}

    client = await load("reentrant", "alpha", Odd())
    result = await client.call("test.forward", {"method": "test.any"})
    assert result["rc"] == 0
    assert result["host_answer"]["ok"] is False
    assert result["host_answer"]["error"]["code"] == "host_call_failed"


async def test_bad_callback_arguments(load):
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    result = await client.call("test.bad_calls", {})
    assert result["null_method"] == 1
    assert result["cleared"] == 1
    assert result["null_ctx"] == 1
    assert result["bad_ctx"] == 1
    assert result["null_resp"] == 0
    assert result["bad_json_rc"] == 0
    assert result["bad_json"]["ok"] is False
    assert result["bad_json"]["error"]["code"] == "host_call_failed"
    assert host.calls == [("alpha", "host.log", {})]  # only the NULL-response call was dispatched


async def test_plugin_host_plugin_nesting(load):
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    result = await client.call("test.forward", {"method": "test.call_back", "n": 7})
    assert result["host_answer"] == {"ok": True, "result": {"leaf": 7}}


async def test_concurrent_reentrant_calls(load):
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    results = await asyncio.gather(*(client.call("test.reenter", {"i": i}) for i in range(30)))
    assert [r["host_answer"]["result"]["echo"]["i"] for r in results] == list(range(30))
    assert len(host.calls) == 60


async def test_callback_from_plugin_thread_during_call(load):
    host = FakeDispatcher()
    client = await load("threaded", "beta", host)
    result = await client.call("test.thread", {"q": "hi"})
    assert result == {"rc": 0, "host_answer": {"ok": True, "result": {"echo": {"q": "hi"}}}}
    assert host.calls == [("beta", "test.from_thread", {"q": "hi"})]
    assert host.threads == [threading.get_ident()]


async def test_detached_thread_calls_host_after_call_returns(load):
    host = FakeDispatcher()
    client = await load("threaded", "beta", host)
    assert await client.call("executor.execute_stream", {"stream_id": "s1"}) == {"started": True}
    for _ in range(200):
        if len(host.calls) == 4:
            break
        await asyncio.sleep(0.01)
    assert host.calls == [
        ("beta", "host.stream.emit", {"stream_id": "s1", "payload": "0"}),
        ("beta", "host.stream.emit", {"stream_id": "s1", "payload": "1"}),
        ("beta", "host.stream.emit", {"stream_id": "s1", "payload": "2"}),
        ("beta", "host.stream.close", {"stream_id": "s1"}),
    ]


async def test_callbacks_identify_each_plugin(load):
    host = FakeDispatcher()
    alpha = await load("reentrant", "alpha", host)
    beta = await load("threaded", "beta", FakeDispatcher())
    await alpha.call("test.forward", {"method": "test.who"})
    await beta.call("test.thread", {})
    assert host.calls == [("alpha", "test.who", {"method": "test.who"})]
    assert beta._dispatcher.calls == [("beta", "test.from_thread", {})]


async def test_callback_on_loop_thread_answers_instead_of_deadlocking(load):
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    answer = client.answer_host_call("host.log", b"{}")
    assert b'"ok":false' in answer
    assert b"event loop thread" in answer
    assert host.calls == []


async def test_shutdown_forgets_the_host_context(libs):
    client = await NativeClient.load(str(libs["reentrant"]), "alpha", FakeDispatcher())
    assert _native_host.registered(client._ident)
    await client.shutdown()
    assert not _native_host.registered(client._ident)


def cpa_example(name: str, out_dir: Path) -> Path:
    if CC is None or shutil.which("git") is None or not CPA_MIRROR.exists():
        pytest.skip("CPA sources not available")
    source = out_dir / f"{name}.c"
    text = subprocess.run(
        ["git", "-C", str(CPA_MIRROR), "show", f"HEAD:examples/plugin/{name}/c/src/plugin.c"],
        capture_output=True,
        check=False,
    )
    if text.returncode != 0:
        pytest.skip("CPA example not in mirror")
    source.write_bytes(text.stdout)
    out = out_dir / f"{name}.so"
    subprocess.run(
        [CC, "-shared", "-fPIC", "-O1", "-o", str(out), str(source)], check=True, capture_output=True
    )
    return out


async def test_cpa_host_callback_example(load, tmp_path):
    host = FakeDispatcher()
    client = await load(cpa_example("host-callback", tmp_path), "example-host-callback-c", host)
    registration = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
    assert registration["capabilities"]["management_api"] is True
    result = await client.call("management.handle", {"Method": "GET", "Path": "/status"})
    assert result["StatusCode"] == 200
    assert host.methods() == ["host.log", "host.http.do"]
    assert host.calls[0][2]["message"] == "example-host-callback-c host callback log"


async def test_cpa_simple_example(load, tmp_path):
    client = await load(cpa_example("simple", tmp_path), "example-simple-c", FakeDispatcher())
    registration = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
    assert registration["metadata"]["Name"] == "example-simple-c"
    assert registration["capabilities"]["executor"] is True


async def test_many_nested_calls_cannot_starve_each_other(load):
    # Every outer call holds a thread while its host callback calls the plugin again.
    host = FakeDispatcher()
    client = await load("reentrant", "alpha", host)
    calls = (client.call("test.forward", {"method": "test.call_back", "n": i}) for i in range(100))
    results = await asyncio.wait_for(asyncio.gather(*calls), 10)
    assert [r["host_answer"]["result"]["leaf"] for r in results] == list(range(100))
