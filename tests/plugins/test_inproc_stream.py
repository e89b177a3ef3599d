"""Executor streams through host.stream.emit / host.stream.close (CPA's async mode)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from cliproxy.plugins import api
from cliproxy.plugins.abi import PluginCrashed, PluginError
from cliproxy.plugins.inproc import PythonClient
from tests.plugins.test_api import Meta


class StreamHost:
    """A dispatcher acting as the host's stream bridge: collects emits, awaits close."""

    def __init__(self, fail_emit_after: int | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.emitted: list[bytes] = []
        self.closed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.fail_emit_after = fail_emit_after

    async def host_call(self, plugin_id: str, method: str, params: Any) -> Any:
        self.calls.append((method, params))
        if method == "host.stream.emit":
            if self.fail_emit_after is not None and len(self.emitted) >= self.fail_emit_after:
                raise PluginError("stream s1 is closed", code="host_call_failed")
            self.emitted.append(base64.b64decode(params["payload"]))
        elif method == "host.stream.close" and not self.closed.done():
            self.closed.set_result(params)
        return {}


class Streamer(Meta, api.Executor):
    identifier, input_formats, output_formats = "acme", ["openai"], ["openai"]

    def __init__(self) -> None:
        self.finished = asyncio.Event()

    async def execute(self, request):
        return api.ExecutorResponse()

    async def execute_stream(self, request):
        try:
            mode = request.model
            if mode == "fail-first":
                raise PluginError("upstream said 429", http_status=429)
            if mode == "crash-first":
                raise ValueError("bad")
            for i in range(3):
                if mode == "nested":
                    await self.host.log("debug", "chunk", i=i)
                yield f"data: {i}\n\n".encode()
                await asyncio.sleep(0)
            if mode == "fail-late":
                raise PluginError("upstream reset")
            if mode == "crash-late":
                raise RuntimeError("boom")
            if mode == "endless":
                while True:
                    yield b"data: more\n\n"
                    await asyncio.sleep(0)
        finally:
            self.finished.set()


@pytest.fixture
async def host():
    return StreamHost()


async def start(host: StreamHost, model: str, **extra: Any) -> tuple[PythonClient, Any]:
    client = PythonClient(Streamer(), "acme", host)
    await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
    params = {"Model": model, "Payload": base64.b64encode(b"{}").decode(), "stream_id": "s1", **extra}
    return client, await client.call("executor.execute_stream", params)


async def test_chunks_go_through_emit_then_close(host):
    client, result = await start(host, "ok")
    assert result == {"headers": {}, "chunks": []}
    assert await asyncio.wait_for(host.closed, 1) == {"stream_id": "s1", "error": ""}
    assert host.emitted == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
    assert all(params["stream_id"] == "s1" and "host_callback_id" not in params for _, params in host.calls)
    await client.shutdown()


async def test_the_callback_scope_lasts_for_the_whole_stream(host):
    """CPA: TestRPCExecuteStreamKeepsHostCallbackScopeUntilStreamCloses (plugin side:
    every callback made while streaming names the stream's scope)."""
    client, _ = await start(host, "nested", host_callback_id="cb-5")
    await asyncio.wait_for(host.closed, 1)
    logs = [params for method, params in host.calls if method == "host.log"]
    assert [p["host_callback_id"] for p in logs] == ["cb-5", "cb-5", "cb-5"]
    await client.shutdown()


async def test_an_error_before_the_first_chunk_fails_the_call(host):
    client = PythonClient(Streamer(), "acme", host)
    with pytest.raises(PluginError) as caught:
        await client.call("executor.execute_stream", {"Model": "fail-first", "stream_id": "s1"})
    assert caught.value.http_status == 429
    with pytest.raises(PluginCrashed):
        await client.call("executor.execute_stream", {"Model": "crash-first", "stream_id": "s1"})
    assert host.calls == []
    await client.shutdown()


@pytest.mark.parametrize(
    ("model", "error"),
    [("fail-late", "upstream reset"), ("crash-late", "plugin acme crashed in executor.execute_stream")],
)
async def test_a_later_error_closes_the_stream_with_its_text(host, model, error):
    client, _ = await start(host, model)
    closed = await asyncio.wait_for(host.closed, 1)
    assert closed["error"].startswith(error)
    assert len(host.emitted) == 3
    await client.shutdown()


async def test_the_generator_stops_when_the_host_drops_the_stream():
    host = StreamHost(fail_emit_after=2)
    client, _ = await start(host, "endless")
    await asyncio.wait_for(client.plugin.finished.wait(), 1)
    assert len(host.emitted) == 2
    await client.shutdown()


async def test_shutdown_cancels_a_running_stream(host):
    client, _ = await start(host, "endless")
    await asyncio.sleep(0.01)
    await client.shutdown(timeout=0.01)
    assert client.plugin.finished.is_set()
    assert (await asyncio.wait_for(host.closed, 1))["error"] == "plugin stream cancelled"


async def test_without_stream_id_chunks_come_back_inline(host):
    client = PythonClient(Streamer(), "acme", host)
    result = await client.call("executor.execute_stream", {"Model": "ok"})
    assert [base64.b64decode(c["Payload"]) for c in result["chunks"]] == [
        b"data: 0\n\n",
        b"data: 1\n\n",
        b"data: 2\n\n",
    ]
    assert host.calls == []
    await client.shutdown()


async def test_execute_stream_may_return_headers_with_its_chunks(host):
    class WithHeaders(Streamer):
        async def execute_stream(self, request):
            async def chunks():
                yield b"data: x\n\n"

            return api.ExecutorStream(chunks(), {"X-Upstream": ["acme"]})

    client = PythonClient(WithHeaders(), "acme", host)
    result = await client.call("executor.execute_stream", {"stream_id": "s1"})
    assert result == {"headers": {"X-Upstream": ["acme"]}, "chunks": []}
    await asyncio.wait_for(host.closed, 1)
    assert host.emitted == [b"data: x\n\n"]
    await client.shutdown()
