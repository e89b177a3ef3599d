"""A plugin's OpenAI-compatible credential refreshed on schedule by the token refresher
through its plugin's ``auth.refresh`` (CPA's auth manager refresh loop,
sdk/cliproxy/auth/auto_refresh_loop.go), not before the ``NextRefreshAfter`` the plugin
gave. Through a running proxy with an in-process plugin."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from tests.plugins.test_compat_auth_cpa import MKEY, _auth_file
from tests.plugins.test_flow_python import HEADER, _proxy

# parses its file with a refresh gate {gate}s ahead; refreshes with a gate an hour ahead
SCHEDULED = (
    HEADER
    + """
import datetime, time
def ahead(secs):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=secs)
class Scheduled(Plugin, AuthProvider):
    name = "scheduled"; version = "1"; author = "t"; github_repository = "https://example.com/s"
    identifier = "plugin-provider"
    refreshed = []
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        return AuthParseResponse(handled=True, auth=AuthData(provider="plugin-provider",
            attributes={"base_url": raw["endpoint"], "api_key": raw["token"]},
            next_refresh_after=ahead(GATE)))
    async def refresh(self, req):
        type(self).refreshed.append(time.time())
        return AuthRefreshResponse(auth=AuthData(attributes={"api_key": "scheduled-token"},
            metadata={"access_token": "scheduled-token"}), next_refresh_after=ahead(3600))
plugin = Scheduled()
"""
)


def _sched_file(tmp_path: Path, fakes, **extra: str) -> Path:
    """The plugin's auth file sched.json: its old token, refreshed every second."""
    data = {
        "type": "plugin-provider",
        "endpoint": fakes.openai.url("/v1"),
        "token": "old-token",
        "api_key": "old-token",
        **extra,
        "refresh_interval_seconds": 1,
    }
    return _auth_file(tmp_path, "sched.json", data)


async def test_a_plugin_credential_is_refreshed_on_schedule_after_its_gate(start_proxy, fakes, tmp_path):
    """TestNextRefreshCheckAt_NextRefreshAfterGate and
    TestNextRefreshCheckAt_PreferredInterval_PicksEarliestCandidate, for an auth a plugin
    refreshes: a file with ``refresh_interval_seconds`` 1 and no last refresh is due at
    once, but the ``NextRefreshAfter`` its plugin's ``auth.parse`` gave holds the refresh
    back until then; the refresher then calls the plugin's ``auth.refresh`` (no request
    needed) and the pool and the file hold its token. The refresh answer's own
    ``NextRefreshAfter`` (an hour on) holds the next one back although the interval has
    passed: a deliberate difference, CPA's manager clears that answer's value after a
    refresh. Before, such a credential was refreshed only after an upstream 401."""
    gate = 1.5
    path = _sched_file(tmp_path, fakes, refresh_token="r-1")
    source = SCHEDULED.replace("GATE", str(gate))
    started = time.time()
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"scheduled": source}, {"scheduled": {}}, base=False)
    plugin = proxy.service.plugins.get("scheduled")
    refreshed = type(plugin.client.plugin).refreshed if plugin is not None else None
    assert refreshed == []
    async with asyncio.timeout(10):
        while not refreshed:
            await asyncio.sleep(0.05)
    assert refreshed[0] >= started + gate - 0.1
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and cred.api_key == "scheduled-token"
    assert json.loads(path.read_text())["api_key"] == "scheduled-token"
    await asyncio.sleep(1.3)  # past the interval: the refresh's own gate holds
    assert len(refreshed) == 1


async def _enable(proxy, on: bool) -> None:
    url = proxy.url + "/v0/management/plugins/scheduled/enabled"
    async with aiohttp.ClientSession() as s, s.patch(url, headers=MKEY, json={"enabled": on}) as r:
        assert r.status == 200


async def test_a_disabled_plugins_credential_leaves_the_schedule_and_returns_with_it(
    start_proxy, fakes, tmp_path, monkeypatch
):
    """TestUnregisterOpenAICompatExecutorRemovesPluginRefreshWrapper, for the schedule:
    with the auth provider's plugin disabled (management API), CPA's manager has no
    refresher for the auth and does not schedule it. Here its credential leaves the
    refresher's schedule at once (no failed attempt, no 5-minute backoff; the plugin
    change rebuilds the credential, so its due time is asked again), and with the plugin
    enabled again it is due as before and refreshed without waiting out a backoff."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    _sched_file(tmp_path, fakes)
    source = SCHEDULED.replace("GATE", "0.8")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"scheduled": source}, {"scheduled": {}}, base=False)
    refresher = proxy.service.refresher
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and refresher.due_at(cred) is not None
    await _enable(proxy, False)
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and refresher.due_at(cred) is None
    await asyncio.sleep(1.0)  # past the gate: nothing is tried
    await refresher.tick()
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and cred.api_key == "old-token" and refresher.due_at(cred) is None
    await _enable(proxy, True)
    plugin = proxy.service.plugins.get("scheduled")
    refreshed = type(plugin.client.plugin).refreshed if plugin is not None else None
    async with asyncio.timeout(10):
        while not refreshed:
            await asyncio.sleep(0.05)
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and cred.api_key == "scheduled-token"


async def test_a_fused_plugins_credential_leaves_the_schedule_and_returns_with_a_new_file(
    start_proxy, fakes, tmp_path, monkeypatch
):
    """TestHostApplyConfig_PanicFusesPluginForProcessLifetime (a crash fuses the plugin
    until another file is loaded for it), for the schedule of the credentials whose
    ``auth.refresh`` it serves. Deliberate difference: CPA's auth manager keeps such an
    auth scheduled, each refresh failing against the fused adapter and backing off; here
    the credential leaves the schedule with the crash (no attempt bound to fail every 5
    minutes, the crash's back-off forgotten), as it does for a disabled plugin
    (TestUnregisterOpenAICompatExecutorRemovesPluginRefreshWrapper). A new file for the
    plugin (hot reload through the management API) brings it back and the credential is
    refreshed at once. Before, it stayed due and waited out 5-minute back-offs, also after
    the plugin's return."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    _sched_file(tmp_path, fakes)
    source = SCHEDULED
    crashing = source.replace("GATE", "0.3").replace(
        "type(self).refreshed.append(time.time())", "type(self).refreshed.append(time.time()); 1 / 0"
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"scheduled": crashing}, {"scheduled": {}}, base=False)
    host, refresher = proxy.service.plugins, proxy.service.refresher
    crashed = type(host.records["scheduled"].client.plugin).refreshed
    async with asyncio.timeout(10):
        while not host.records["scheduled"].fused:
            await asyncio.sleep(0.05)
    assert len(crashed) == 1
    await asyncio.sleep(1.0)  # past the interval
    await refresher.tick()
    assert refresher.due(time.time() + 3600) == []  # neither due nor waiting out a back-off
    assert len(crashed) == 1
    (tmp_path / "plugins" / "scheduled-v2.py").write_text(source.replace("GATE", "0"))
    await _enable(proxy, True)  # the config reload loads the new file
    assert host.get("scheduled") is not None
    refreshed = type(host.records["scheduled"].client.plugin).refreshed
    async with asyncio.timeout(3):  # well before a 5-minute back-off
        while not refreshed:
            await asyncio.sleep(0.05)
    cred = proxy.service.pool.get("sched.json")
    assert cred is not None and cred.api_key == "scheduled-token" and len(crashed) == 1
