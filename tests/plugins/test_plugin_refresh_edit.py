"""A panel edit of a plugin's credential (PATCH /v0/management/auth-files/status disabling
it) made while the plugin's ``auth.refresh`` of that credential is under way is kept: the
refreshed token joins the credential as it is when the refresh ends, in the pool (the
panel's listing) as in its file. Before, the refresh put back the credential it began with,
so the account disabled in the panel was listed enabled and its file lost ``disabled``.
Both plugin refresh paths: the token refresher's schedule for an OpenAI-compatible plugin
credential (``plugins.compat_refresh``) and the 401 retry of a credential a plugin's
executor serves (``plugins.flow``). Through a running proxy with in-process plugins."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from cliproxy.formats import Format
from tests.e2e.clients import ask
from tests.plugins.test_compat_auth_cpa import MKEY
from tests.plugins.test_compat_scheduled_refresh_cpa import SCHEDULED, _sched_file
from tests.plugins.test_flow_python import AUTH_PLUGIN, _proxy


def _held(source: str, anchor: str) -> str:
    """``source`` whose ``auth.refresh`` notes its start and then waits (its token step,
    held) for the test's ``release`` after ``anchor``, its first line."""
    assert source.count(anchor) == 1
    held = anchor + "\n        type(self).started.append(1); await type(self).release.wait()"
    head = "    async def refresh(self, req):"
    source = source.replace(head, "    started = []; release = asyncio.Event()\n" + head)
    return "import asyncio\n" + source.replace(anchor, held)


async def _panel(proxy: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = proxy.url + "/v0/management" + path
    async with aiohttp.ClientSession() as s, s.request(method, url, headers=MKEY, json=body) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _disable_and_check(proxy: Any, path: Path, plugin: str, done: Any) -> dict[str, Any]:
    """Disable ``path``'s credential in the panel while ``plugin`` holds its refresh; after
    ``done()``, the panel's entry and the file (both disabled); the file's content."""
    rec = proxy.service.plugins.get(plugin)
    assert rec is not None
    held = type(rec.client.plugin)
    async with asyncio.timeout(10):
        while not held.started:
            await asyncio.sleep(0.01)
    await _panel(proxy, "PATCH", "/auth-files/status", {"name": path.name, "disabled": True})
    cred = proxy.service.pool.get(path.name)
    assert cred is not None and cred.disabled  # the edit is live
    assert not done()
    held.release.set()
    async with asyncio.timeout(10):
        while not done():
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # a file watcher's reload of the refresh's write, if any
    cred = proxy.service.pool.get(path.name)
    assert cred is not None and cred.disabled  # before: enabled again
    [entry] = [e for e in (await _panel(proxy, "GET", "/auth-files"))["files"] if e["name"] == path.name]
    assert entry["disabled"] is True
    saved: dict[str, Any] = json.loads(path.read_text())
    assert saved["disabled"] is True  # before: the refresh wrote the old credential back
    return saved


async def test_a_panel_edit_during_a_scheduled_plugin_refresh_is_kept(
    start_proxy, fakes, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    path = _sched_file(tmp_path, fakes, refresh_token="r-1")
    source = _held(SCHEDULED.replace("GATE", "0.3"), "type(self).refreshed.append(time.time())")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"scheduled": source}, {"scheduled": {}}, base=False)

    def done() -> bool:
        return json.loads(path.read_text()).get("api_key") == "scheduled-token"

    saved = await _disable_and_check(proxy, path, "scheduled", done)
    assert saved["api_key"] == saved["access_token"] == "scheduled-token"
    assert saved["refresh_token"] == "r-1" and saved["type"] == "plugin-provider"
    cred = proxy.service.pool.get(path.name)
    assert cred is not None and cred.api_key == "scheduled-token"  # the refresh's token joined the edit


async def test_a_panel_edit_during_a_plugin_executors_401_refresh_is_kept(
    start_proxy, fakes, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    path = auths / "acme-bob.json"
    path.write_text('{"type": "acme", "user": "bob", "token": "old-token"}')
    source = _held(AUTH_PLUGIN, "data = json.loads(req.storage_json)")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": source}, {"acme": {}})
    request = asyncio.ensure_future(ask(Format.OPENAI, proxy.url, "acme-model", "hi", stream=False))
    saved = await _disable_and_check(proxy, path, "acme", request.done)
    assert (await request).text == "ok with new-token"  # the request in flight was retried with it
    assert saved == {"type": "acme", "user": "bob", "token": "new-token", "disabled": True}
    cred = proxy.service.pool.get(path.name)
    assert cred is not None and cred.metadata["token"] == "new-token"
