"""CPA's host callback and plugin management tests (internal/pluginhost/
host_callbacks_test.go, auth_callbacks_test.go, management_test.go) ported through a
running proxy: a Python plugin's management routes call ``host.*`` methods on request and
answer what the host said, so every callback crosses the real dispatcher."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.plugins.test_flow_python import HEADER, _proxy

SECRET = "m-secret"

PROBE = (
    HEADER
    + """
class Probe(Plugin, ManagementAPI):
    name = "probe"; version = "1"; author = "t"; github_repository = "https://example.com/p"
    routes = [ManagementRoute(method="POST", path="probe/call"),
              ManagementRoute(method="GET", path="probe/json"),
              ManagementRoute(method="GET", path="probe/page"),
              ManagementRoute(method="GET", path="probe/crash"),
              ManagementRoute(method="GET", path="shared/status"),
              ManagementRoute(method="GET", path="config"),
              ManagementRoute(method="GET", path="/legacy", menu="Legacy")]
    resources = [ResourceRoute(path="/status", menu="Status", description="Shows status.")]

    async def handle_management(self, req):
        if req.path.endswith("/probe/call"):
            steps = json.loads(req.body)
            out, sid = [], ""
            for step in steps:  # a "$sid" param is the stream_id of the last answer that had one
                params = {k: sid if v == "$sid" else v for k, v in step.get("params", {}).items()}
                try:
                    res = await self.host.call(step["method"], params)
                    sid = (res or {}).get("stream_id", sid)
                    out.append({"ok": res})
                except PluginError as exc:
                    out.append({"error": exc.message, "status": exc.http_status})
            return ManagementResponse(body=json.dumps(out).encode(), headers={"Content-Type": ["text/plain"]})
        if req.path.endswith("/probe/json"):
            return ManagementResponse(
                headers={"Content-Type": ["application/json; charset=utf-8"]},
                body=b'{"title": "<script>alert(1)</script>", "items": ["<b>first</b>", '
                     b'{"description": "safe & sound"}], "count": 1}')
        if req.path.endswith("/probe/crash"):
            raise RuntimeError("boom")
        if req.path.endswith("/shared/status"):
            return ManagementResponse(body=b"high", headers={"Content-Type": ["text/plain"]})
        return ManagementResponse(body=("<!doctype html>" + req.path).encode(),
                                  headers={"Content-Type": ["text/html; charset=utf-8"]})
plugin = Probe()
"""
)

LOW = (
    HEADER
    + """
class Low(Plugin, ManagementAPI):
    name = "low"; version = "1"; author = "t"; github_repository = "https://example.com/l"
    routes = [ManagementRoute(method="GET", path="shared/status"),
              ManagementRoute(method="POST", path="plugins/low/run")]
    async def handle_management(self, req):
        if req.method == "POST":
            return ManagementResponse(status_code=202, body=b"low-only", headers={"Content-Type": ["text/plain"]})
        return ManagementResponse(body=b"low", headers={"Content-Type": ["text/plain"]})
plugin = Low()
"""
)

MGMT = {"X-Management-Key": SECRET}


@pytest.fixture
async def proxy(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", SECRET)
    return await _proxy(
        start_proxy, fakes, tmp_path, {"probe": PROBE, "low": LOW}, {"probe": {"priority": 10}, "low": {}}
    )


async def _steps(proxy, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v0/management/probe/call", headers=MGMT, data=json.dumps(steps)) as r,
    ):
        assert r.status == 200, await r.text()
        return json.loads(await r.read())


def _model(stream: bool, **extra: Any) -> dict[str, Any]:
    body = {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]}
    return {
        "entry_protocol": "openai",
        "exit_protocol": "openai",
        "model": "compat-model",
        "stream": stream,
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        **extra,
    }


async def test_model_callbacks_validate_stream_mode(proxy):
    """TestHostModelCallbacksValidateStreamMode: ``host.model.execute`` refuses
    ``stream: true`` and ``host.model.execute_stream`` refuses ``stream: false`` (before,
    cliproxy streamed whatever the flag said), with CPA's wording."""
    out = await _steps(
        proxy,
        {"method": "host.model.execute", "params": _model(True)},
        {"method": "host.model.execute_stream", "params": _model(False)},
    )
    assert "host.model.execute requires stream=false" in out[0]["error"]
    assert "host.model.execute_stream requires stream=true" in out[1]["error"]
    assert out[0]["status"] == out[1]["status"] == 400


async def test_stream_read_needs_an_id_and_close_does_not(proxy):
    """TestHostModelStreamReadAndCloseValidateStreamID: reading without a stream id is an
    error (before, cliproxy answered done); closing without one answers an empty result."""
    out = await _steps(
        proxy,
        {"method": "host.model.stream_read", "params": {}},
        {"method": "host.model.stream_close", "params": {}},
        {"method": "host.model.stream_read", "params": {"stream_id": "nope"}},
    )
    assert "stream id is required" in out[0]["error"]
    assert out[1] == {"ok": {}}
    assert out[2]["ok"]["done"] is True and not out[2]["ok"]["payload"] and not out[2]["ok"]["error"]


async def test_model_execute_runs_a_nested_request(proxy):
    """TestHostModelExecuteCallback: status, headers and the body of the answer."""
    out = await _steps(proxy, {"method": "host.model.execute", "params": _model(False)})
    answer = out[0]["ok"]
    assert answer["status_code"] == 200
    assert json.loads(base64.b64decode(answer["body"]))["choices"][0]["message"]["role"] == "assistant"


async def test_model_stream_reads_to_done_and_closes_with_its_scope(proxy):
    """TestHostModelStreamReadReturnsPayloadAndTerminalError (payload then done),
    TestHostModelStreamClosesWithCallbackScope and
    TestHostModelStreamReadAfterCallbackCloseReturnsDone: a stream opened while serving
    one management call is closed when that call returns; a later read answers done."""
    first = await _steps(proxy, {"method": "host.model.execute_stream", "params": _model(True)})
    stream_id = first[0]["ok"]["stream_id"]
    later = await _steps(proxy, {"method": "host.model.stream_read", "params": {"stream_id": stream_id}})
    assert later[0]["ok"] == {"payload": "", "error": "", "done": True}
    read = {"method": "host.model.stream_read", "params": {"stream_id": "$sid"}}
    out = await _steps(proxy, {"method": "host.model.execute_stream", "params": _model(True)}, *[read] * 40)
    assert out[0]["ok"]["status_code"] == 200
    reads = [o["ok"] for o in out[1:]]
    done = next(i for i, r in enumerate(reads) if r["done"])
    text = b"".join(base64.b64decode(r["payload"]) for r in reads[:done])
    assert b"data: " in text and b"[DONE]" in text and not any(r["done"] for r in reads[:done])
    assert reads[done] == {"payload": "", "error": "", "done": True}


async def test_explicit_close_ends_the_stream(proxy):
    """TestHostModelStreamExplicitCloseCancelsStream: after ``host.model.stream_close``
    a read answers done with nothing."""
    out = await _steps(
        proxy,
        {"method": "host.model.execute_stream", "params": _model(True)},
        {"method": "host.model.stream_close", "params": {"stream_id": "$sid"}},
        {"method": "host.model.stream_read", "params": {"stream_id": "$sid"}},
    )
    assert out[1] == {"ok": {}} and out[2]["ok"] == {"payload": "", "error": "", "done": True}


async def test_http_do_goes_through_the_host_client(proxy, fakes):
    """TestHostHTTPDoCallbackUsesHostHTTPClient: the host sends the request and answers
    status, headers and the base64 body."""
    req = {"request": {"method": "GET", "url": fakes.openai.base_url + "/v1/models"}}
    out = await _steps(proxy, {"method": "host.http.do", "params": req})
    answer = out[0]["ok"]
    assert answer["StatusCode"] == 200 and json.loads(base64.b64decode(answer["Body"]))


@pytest.mark.parametrize("weight", ["1.5", "1000001", "9223372036854775808", '"invalid"'])
async def test_auth_save_rejects_an_invalid_weight_before_writing(proxy, weight):
    """TestHostAuthSaveCallbackRejectsInvalidWeightBeforePersistence."""
    data = json.loads('{"type": "demo", "weight": ' + weight + "}")
    out = await _steps(
        proxy,
        {"method": "host.auth.save", "params": {"name": "bad.json", "json": data}},
        {"method": "host.auth.list"},
    )
    assert "weight" in out[0]["error"] and out[0]["status"] == 400
    assert all(f["name"] != "bad.json" for f in out[1]["ok"]["files"])


async def test_auth_save_writes_the_file_and_list_get_see_it(proxy):
    """TestHostAuthSaveCallbackWritesPhysicalFile, TestHostAuthListCallbackUsesAuthManager,
    TestHostAuthGetCallbackReturnsPhysicalJSONByAuthIndex,
    TestHostAuthGetRuntimeCallbackReturnsRuntimeInfo."""
    cred = {"type": "claude", "email": "saved@example.com", "api_key": "saved-key"}
    out = await _steps(
        proxy,
        {"method": "host.auth.save", "params": {"name": "saved.json", "json": cred}},
        {"method": "host.auth.list"},
    )
    path = Path(out[0]["ok"]["path"])
    assert out[0]["ok"]["name"] == "saved.json" and json.loads(path.read_text()) == cred
    entry = next(f for f in out[1]["ok"]["files"] if f["name"] == "saved.json")
    assert entry["auth_index"] and entry["provider"] == "claude"
    got = await _steps(
        proxy,
        {"method": "host.auth.get", "params": {"auth_index": entry["auth_index"]}},
        {"method": "host.auth.get_runtime", "params": {"auth_index": entry["auth_index"]}},
    )
    assert got[0]["ok"]["json"] == cred and got[0]["ok"]["name"] == "saved.json"
    assert got[1]["ok"]["auth"]["auth_index"] == entry["auth_index"]


async def test_auth_list_shows_the_panels_runtime_state(proxy):
    """CPA builds a plugin's auth entry as the panel's (buildHostAuthFileEntry: status,
    status_message, unavailable, next_retry_after, success / failed, recent_requests). A
    credential cooling shows so through ``host.auth.list`` and ``host.auth.get_runtime``, and
    the entry is ``GET /v0/management/auth-files``'s (plus priority and prefix). Before, a plugin
    saw every credential ``active`` and available, whatever cooled, with no counters."""
    cred = {"type": "claude", "email": "cool@example.com", "api_key": "cool-key"}
    out = await _steps(proxy, {"method": "host.auth.save", "params": {"name": "cool.json", "json": cred}})
    path = out[0]["ok"]["path"]
    pool = proxy.service.pool
    saved = next(c for c in pool.credentials() if c.path is not None and c.path.name == "cool.json")
    decision = await pool.mark_failure(saved, "claude-sonnet-4-6", 429, retry_after=600.0)
    assert decision.cooldown_seconds > 0
    out = await _steps(
        proxy,
        {"method": "host.auth.list"},
        {"method": "host.auth.get_runtime", "params": {"auth_index": saved.index}},
    )
    entry = next(f for f in out[0]["ok"]["files"] if f["name"] == "cool.json")
    assert (entry["status"], entry["unavailable"], entry["path"]) == ("error", True, path)
    assert entry["success"] == 0 and len(entry["recent_requests"]) == 20
    assert out[1]["ok"]["auth"] == entry
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management/auth-files", headers=MGMT, params={"name": "cool.json"}) as r,
    ):
        (panel,) = (await r.json())["files"]
    assert {k: entry[k] for k in panel} == panel and set(entry) - set(panel) <= {"priority", "prefix"}


# ---------------------------------------------------------------- management_test.go


async def test_routes_skip_native_paths_and_go_to_the_higher_priority(proxy):
    """TestRegisterManagementRoutesSkipsReservedAndUsesPriority."""
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/management/shared/status", headers=MGMT) as r:
            assert r.status == 200 and await r.text() == "high"
        async with s.post(proxy.url + "/v0/management/plugins/low/run", headers=MGMT) as r:
            assert r.status == 202 and await r.text() == "low-only"
        async with s.get(proxy.url + "/v0/management/config", headers=MGMT) as r:
            assert r.status == 200 and not (await r.text()).startswith("<!doctype")


async def test_json_answers_are_html_escaped(proxy):
    """TestServeManagementHTMLEscapesJSONResponseStrings (before, cliproxy passed the
    plugin's JSON through unescaped). CPA: TestJSONBodyEscapesStringValues,
    TestJSONBodyIfLikelySkipsNonJSONHTML (an HTML answer is left as it is)."""
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/management/probe/json", headers=MGMT) as r:
            body = json.loads(await r.read())
        async with s.get(proxy.url + "/v0/management/probe/page", headers=MGMT) as r:
            assert (r.status, await r.read()) == (200, b"<!doctype html>/v0/management/probe/page")
    assert body == {
        "title": "&lt;script&gt;alert(1)&lt;/script&gt;",
        "items": ["&lt;b&gt;first&lt;/b&gt;", {"description": "safe &amp; sound"}],
        "count": 1,
    }


async def test_resources_get_their_full_path_and_menus_are_listed(proxy):
    """TestServeResourceHTTPDispatchesPluginResource (the plugin sees the full path
    ``/v0/resource/plugins/probe/status``; before, cliproxy sent ``/status``),
    TestLegacyGETManagementMenuRegistersAsResource, TestRegisteredPluginsIncludesResourceMenus."""
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/resource/plugins/probe/status") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert await r.text() == "<!doctype html>/v0/resource/plugins/probe/status"
        async with s.get(proxy.url + "/v0/resource/plugins/probe/legacy") as r:
            assert r.status == 200
        async with s.get(proxy.url + "/v0/management/plugins", headers=MGMT) as r:
            listed = {p["id"]: p for p in (await r.json())["plugins"]}
    menus = {m["path"]: m for m in listed["probe"]["menus"]}
    assert menus["/v0/resource/plugins/probe/status"]["menu"] == "Status"
    assert menus["/v0/resource/plugins/probe/status"]["description"] == "Shows status."
    assert menus["/v0/resource/plugins/probe/legacy"]["menu"] == "Legacy"


async def test_a_crashing_handler_answers_502_and_fuses_the_plugin(proxy):
    """TestManagementHandlerPanicFusesPlugin."""
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/management/probe/crash", headers=MGMT) as r:
            assert r.status == 502
        async with s.get(proxy.url + "/v0/resource/plugins/probe/status") as r:
            assert r.status == 404


async def test_http_stream_read_of_an_unknown_id_is_an_error(proxy, fakes):
    """TestHostHTTPDoStreamCallbackReturnsBeforeUpstreamCompletes (the read half) and
    CPA's http_stream_bridge.go: an HTTP stream reads its body then answers done; after
    that, or for an id the host never gave out (a model stream's id included), the read is
    the error "http stream <id> is not open" (before, cliproxy answered done), and an empty
    id is "http stream id is required". Model streams keep answering done (checked above)."""
    req = {"request": {"method": "GET", "url": fakes.openai.base_url + "/v1/models"}}
    read = {"method": "host.http.stream_read", "params": {"stream_id": "$sid"}}
    out = await _steps(proxy, {"method": "host.http.do_stream", "params": req}, *[read] * 20)
    assert out[0]["ok"]["status_code"] == 200
    reads = out[1:]
    done = next(i for i, r in enumerate(reads) if "ok" in r and r["ok"]["done"])
    body = b"".join(base64.b64decode(r["ok"]["payload"]) for r in reads[:done])
    assert json.loads(body)["data"]
    after = reads[done + 1]
    assert "is not open" in after["error"] and after["status"] == 400
    out = await _steps(
        proxy,
        {"method": "host.http.stream_read", "params": {"stream_id": "nope"}},
        {"method": "host.http.stream_read", "params": {}},
        {"method": "host.model.execute_stream", "params": _model(True)},
        {"method": "host.http.stream_read", "params": {"stream_id": "$sid"}},
        {"method": "host.http.stream_close", "params": {"stream_id": "$sid"}},
        {"method": "host.model.stream_read", "params": {"stream_id": "$sid"}},
    )
    assert out[0]["error"] == "http stream nope is not open"
    assert out[1]["error"] == "http stream id is required"
    assert "is not open" in out[3]["error"]
    assert out[4] == {"ok": {}}
    assert out[5]["ok"]["payload"] and not out[5]["ok"]["done"]  # http close left it open
