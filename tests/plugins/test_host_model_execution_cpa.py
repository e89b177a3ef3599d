"""CPA's nested model execution tests (sdk/api/handlers/model_execution_test.go) through
a running proxy: a plugin's management route calls ``host.model.execute`` and
``host.model.execute_stream``; a second plugin's interceptors watch what the nested
request carries, and the calling plugin's own interceptors must stay silent."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest

from tests.fakes.server import Behavior
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.plugins.test_host_callbacks_cpa import PROBE, SECRET, _model, _steps

# the calling plugin, also an interceptor of every kind: it counts what it is shown
ORIGIN = PROBE.replace(
    "class Probe(Plugin, ManagementAPI):",
    "SEEN = []\n"
    "class Probe(Plugin, ManagementAPI, RequestInterceptor, ResponseInterceptor, StreamChunkInterceptor):\n"
    "    async def intercept_before(self, req): SEEN.append('before')\n"
    "    async def intercept_after(self, req): SEEN.append('after')\n"
    "    async def intercept_response(self, req): SEEN.append('response')\n"
    "    async def intercept_chunk(self, req): SEEN.append('chunk')",
)

WATCHER = (
    HEADER
    + """
SEEN = []
class Watcher(Plugin, RequestInterceptor, ResponseInterceptor, StreamChunkInterceptor):
    name = "watcher"; version = "1"; author = "t"; github_repository = "https://example.com/w"
    async def intercept_before(self, req):
        SEEN.append(("before", req.source_format, dict(req.headers)))
    async def intercept_after(self, req):
        SEEN.append(("after", req.source_format, req.to_format))
    async def intercept_response(self, req):
        SEEN.append(("response",))
    async def intercept_chunk(self, req):
        SEEN.append(("chunk",))
plugin = Watcher()
"""
)


def _seen(name: str) -> list[Any]:
    mod = next(m for n, m in sys.modules.items() if n.endswith(name) and hasattr(m, "SEEN"))
    return mod.SEEN


@pytest.fixture
async def proxy(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", SECRET)
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"probe": ORIGIN, "watcher": WATCHER},
        {"probe": {"priority": 10}, "watcher": {}},
        extra="passthrough-headers: true\nrequest-retry: 0\n",
    )
    fakes.openai.answer_headers[None] = {"X-Upstream": "fake-openai"}
    _seen("probe").clear()
    _seen("watcher").clear()
    return proxy


def _to_claude(stream: bool) -> dict[str, Any]:
    return _model(stream, exit_protocol="claude", headers={"X-Callback": ["nested"]})


async def test_nested_execute_answers_in_the_exit_protocol(proxy, fakes):
    """CPA: TestExecuteModelCarriesEntryAndExitProtocols, TestExecuteModelSkipsOriginatingPluginInterceptors.
    A Chat request answered as a Claude message; the upstream's header comes back
    (passthrough-headers); the nested call's headers reach the pipeline (the watcher sees
    them); the calling plugin's own interceptors are skipped, the other plugin's run."""
    out = await _steps(proxy, {"method": "host.model.execute", "params": _to_claude(False)})
    answer = out[0]["ok"]
    assert answer["status_code"] == 200
    assert answer["headers"]["X-Upstream"] == ["fake-openai"]
    body = json.loads(base64.b64decode(answer["body"]))
    assert body["type"] == "message" and body["role"] == "assistant"
    assert "Hello from fake" in body["content"][0]["text"]
    assert fakes.openai.last.model == "gpt-4o-mini"
    watched = _seen("watcher")
    before = next(s for s in watched if s[0] == "before")
    assert before[1] == "openai" and before[2]["X-Callback"] == ["nested"]
    assert ("after", "openai", "openai") in watched and ("response",) in watched
    assert _seen("probe") == []


async def test_nested_stream_answers_in_the_exit_protocol(proxy, fakes):
    """CPA: TestExecuteModelStream, TestExecuteModelStreamSkipsOriginatingPluginInterceptors.
    A streamed Chat request read back as Claude events with the upstream's header; the
    other plugin's chunk interceptor runs on the nested stream, the caller's never does."""
    read = {"method": "host.model.stream_read", "params": {"stream_id": "$sid"}}
    out = await _steps(
        proxy, {"method": "host.model.execute_stream", "params": _to_claude(True)}, *[read] * 30
    )
    opened = out[0]["ok"]
    assert opened["status_code"] == 200 and opened["headers"]["X-Upstream"] == ["fake-openai"]
    reads = [o["ok"] for o in out[1:]]
    done = next(i for i, r in enumerate(reads) if r["done"])
    text = b"".join(base64.b64decode(r["payload"]) for r in reads[:done]).decode()
    assert "event: message_start" in text and "event: message_stop" in text and "[DONE]" not in text
    assert reads[done]["error"] == ""
    assert fakes.openai.last.json["stream"] is True
    watched = _seen("watcher")
    assert ("after", "openai", "openai") in watched and ("chunk",) in watched
    assert _seen("probe") == []


async def test_a_stream_that_fails_before_its_first_byte_is_an_error(proxy, fakes):
    """CPA: TestExecuteModelStreamStartupError: no stream id, an error with a status.
    CPA: TestHostModelExecuteStreamStartupErrorCleansUp: no model stream is left open.
    Deliberate difference: the upstream's own status (503) is kept where CPA's test
    executor, which fails with a plain error, gets 500."""
    fakes.openai.fail_next(503, message="upstream is down")
    out = await _steps(proxy, {"method": "host.model.execute_stream", "params": _model(True)})
    assert out[0]["status"] == 503 and "upstream is down" in out[0]["error"]
    assert "ok" not in out[0]
    assert not proxy.service.plugins.callbacks._readers


async def test_a_stream_that_breaks_after_content_ends_in_an_error_event(proxy, fakes):
    """CPA: TestExecuteModelStreamTerminalError: the content is read first, then the
    failure, then the stream is done with nothing after it. Deliberate difference: the
    failure arrives as the exit protocol's own in-band error event (the bytes a client of
    that format would get, so a plugin relaying the stream passes it on as is) with an
    empty ``error`` field; CPA hands its Go callers a separate error with status and
    headers instead of a payload."""
    fakes.openai.script(Behavior(cut_after=2))
    read = {"method": "host.model.stream_read", "params": {"stream_id": "$sid"}}
    out = await _steps(proxy, {"method": "host.model.execute_stream", "params": _model(True)}, *[read] * 10)
    reads = [o["ok"] for o in out[1:]]
    done = next(i for i, r in enumerate(reads) if r["done"])
    frames = b"".join(base64.b64decode(r["payload"]) for r in reads[:done])
    assert frames.count(b"chat.completion.chunk") >= 1
    last = json.loads(frames.rstrip().rsplit(b"data: ", 1)[1])
    assert last["error"]["type"] == "server_error" and "broke" in last["error"]["message"]
    assert reads[done] == {"payload": "", "error": "", "done": True}
    assert all(r == reads[done] for r in reads[done + 1 :])
