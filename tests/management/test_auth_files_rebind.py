"""What the pool and the management API hold right after a management write to an auth
file a plugin's ``auth.parse`` expands into several credentials, through a running proxy
with a real in-process Python plugin.

A write answers once the pool holds the file's credentials as the plugin made them
(never the file as one credential not yet handed to the plugin); a plugin that hangs
delays the answer only a bounded time. A reload of such a file keeps the tokens its
credentials refreshed in memory while the file does not change them (the shared file is
not rewritten on refresh, as in CPA). CPA's synthesizer cases for invalid weights and a
file handled without credentials are ported here too."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.plugins import binding
from tests.e2e.clients import ask
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.plugins.test_flow_python import HEADER, KEY, _plugin_cfg, _proxy

SLOW = (
    HEADER
    + """
import asyncio
class Multi(Plugin, AuthProvider, ModelProvider, Executor):
    name = "multi"; version = "1"; author = "t"; github_repository = "https://example.com/multi"
    identifier = "multi"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        await asyncio.sleep(3600 if raw.get("hang") else 0.2)  # a plugin slower than a reload
        auths = [AuthData(id=a["id"], label="multi:" + a["id"], attributes=a.get("attributes", {}),
                          metadata={"account": a["id"], "token": a.get("token", "old-token")})
                 for a in raw["accounts"]]
        return AuthParseResponse(handled=True, auths=auths)
    async def refresh(self, req):
        return AuthRefreshResponse(auth=AuthData(metadata={"token": "new-token"}))
    async def models_for_auth(self, req):
        return ModelList(provider="multi", models=[ModelInfo(id="multi-model")])
    async def execute(self, req):
        if req.auth_metadata["token"] == "old-token":
            raise PluginError("token expired", http_status=401)
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": req.auth_id},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Multi()
"""
)


def auth_file(tmp_path: Path, name: str, *accounts: dict[str, Any], **extra: Any) -> Path:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps({"type": "multi", "accounts": list(accounts), **extra}))
    return path


async def start(start_proxy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    return await _proxy(start_proxy, None, tmp_path, {"multi": SLOW}, {"multi": {}}, base=False)


def unbound(proxy: Any) -> list[str]:
    """Credentials of auth files the pool holds without their plugin having bound them."""
    return [
        c.id
        for c in proxy.service.pool.credentials()
        if c.path is not None and not c.attributes.get("plugin")
    ]


async def watching(proxy: Any, seen: list[str]) -> None:
    """Note every unbound credential the pool shows, until cancelled."""
    while True:
        seen += unbound(proxy)
        await asyncio.sleep(0.005)


async def test_a_write_answers_once_the_file_is_bound(start_proxy, tmp_path, monkeypatch):
    """Uploading a file and disabling it: when the answer comes, the pool and the listing
    already hold its two credentials as the plugin made them (models, disabled), and at
    no moment did the pool hold the file unbound. Before, the file was swapped in as one
    credential and bound in the background, so a listing or request right after the write
    saw that (the earlier tests waited up to 5 s for the binding). CPA:
    TestModelsForAuthOAuthScopeFallsBackToExecutorIdentifier (the file's models come from
    model.for_auth of the oauth-scope executor whose identifier is its provider)."""
    auth_file(tmp_path, "first.json", {"id": "first.json"})
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    seen: list[str] = []
    watcher = asyncio.create_task(watching(proxy, seen))
    try:
        body = orjson.dumps({"type": "multi", "accounts": [{"id": "a"}, {"id": "b"}]})
        status, _ = await mcall(proxy, "POST", "/auth-files?name=second.json", data=body)
        assert status == 200
        pool = proxy.service.pool
        assert {c.id for c in pool.credentials()} == {"first.json", "a", "b"}
        assert all(c.models and c.attributes["plugin"] == "multi" for c in pool.credentials())
        status, body = await mcall(proxy, "GET", "/auth-files")
        assert sorted(f["id"] for f in body["files"]) == ["a", "b", "first.json"]
        status, _ = await mcall(
            proxy, "PATCH", "/auth-files/status", {"name": "second.json", "disabled": True}
        )
        assert status == 200
        assert [(c.id, c.disabled) for c in pool.credentials()] == [
            ("a", True),
            ("b", True),
            ("first.json", False),
        ]
    finally:
        watcher.cancel()
    assert seen == []


async def test_a_file_changed_on_disk_is_bound_before_the_pool_shows_it(start_proxy, tmp_path):
    """The same for a file the auth-dir watcher sees change (written by another tool): the
    pool goes from the file's old credentials straight to its new ones."""
    path = auth_file(tmp_path, "source.json", {"id": "a"})
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    (pdir / "multi.py").write_text(SLOW)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + _plugin_cfg(pdir, {"multi": {}}), watch=True)
    seen: list[str] = []
    watcher = asyncio.create_task(watching(proxy, seen))
    try:
        auth_file(tmp_path, "source.json", {"id": "a"}, {"id": "b"})
        async with asyncio.timeout(5):
            while {c.id for c in proxy.service.pool.credentials()} != {"a", "b"}:
                await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
    assert seen == [] and path.exists()


async def test_a_hanging_plugin_delays_a_write_a_bounded_time(start_proxy, tmp_path, monkeypatch, caplog):
    """A plugin whose auth.parse never answers: the upload answers after the service's
    bind_wait with a warning, the other files' credentials serve meanwhile and the new
    file stays out of the pool until the call's own limit ends it (then it is bound as
    a plain file, as when auth.parse fails)."""
    auth_file(tmp_path, "first.json", {"id": "first.json"})
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    proxy.service.bind_wait = 0.3
    monkeypatch.setattr(binding, "CALL_TIMEOUT", 2.0)
    body = orjson.dumps({"type": "multi", "hang": True, "accounts": [{"id": "a"}]})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cliproxy.service"):
        status, _ = await mcall(proxy, "POST", "/auth-files?name=hang.json", data=body)
    assert status == 200 and time.monotonic() - started < 1.5  # not the call's own 2 s
    assert "still being bound" in caplog.text
    assert [c.id for c in proxy.service.pool.credentials()] == ["first.json"]
    answer = await ask(Format.OPENAI, proxy.url, "multi-model", "hi", stream=False)
    assert answer.text == "first.json"
    async with asyncio.timeout(4):
        while proxy.service.pool.get("hang.json") is None:
            await asyncio.sleep(0.02)
    assert unbound(proxy) == []


async def test_a_reload_keeps_tokens_refreshed_in_memory(start_proxy, tmp_path, monkeypatch):
    """Tokens a plugin refreshed on the credentials of a shared file stay across a reload
    of that file (disabling and enabling it) while the file does not change them; once
    the file brings tokens of its own, those win. Before, every reload of the file read
    the old tokens back, so each credential had to fail and refresh again."""
    path = auth_file(tmp_path, "source.json", {"id": "a"}, {"id": "b"})
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    pool = proxy.service.pool
    for _ in range(6):  # each credential's first request is refused and refreshes it
        await ask(Format.OPENAI, proxy.url, "multi-model", "hi", stream=False)
        if all(c.metadata["token"] == "new-token" for c in pool.credentials()):
            break
    assert [c.metadata["token"] for c in pool.credentials()] == ["new-token", "new-token"]
    for disabled in (True, False):
        status, _ = await mcall(
            proxy, "PATCH", "/auth-files/status", {"name": "source.json", "disabled": disabled}
        )
        assert status == 200
        assert [(c.disabled, c.metadata["token"]) for c in pool.credentials()] == [
            (disabled, "new-token")
        ] * 2
    assert orjson.loads(path.read_bytes())["accounts"] == [{"id": "a"}, {"id": "b"}]  # never rewritten
    body = orjson.dumps({"type": "multi", "accounts": [{"id": "a", "token": "file-token"}, {"id": "b"}]})
    status, _ = await mcall(proxy, "POST", "/auth-files?name=source.json", data=body)
    assert status == 200
    assert [c.metadata["token"] for c in pool.credentials()] == ["file-token", "new-token"]


async def test_auths_with_an_invalid_weight_are_left_out(start_proxy, tmp_path, monkeypatch):
    """TestSynthesizeAuthFileSkipsInvalidPluginAuthWeight: an AuthData whose weight is not
    an integer is no credential; the one left is the file's only credential, under the ID
    the plugin gave it (CPA's AuthDataToCoreAuth), with its valid weight 0 (excluded from
    weighted rotation). Before, the invalid one was kept, the weights were ignored and a
    file's only credential kept the file's name as its id."""
    auth_file(
        tmp_path,
        "plugin.json",
        {"id": "invalid", "attributes": {"weight": "1.5"}},
        {"id": "valid", "attributes": {"weight": "0"}},
    )
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    assert [(c.id, c.weight) for c in proxy.service.pool.credentials()] == [("valid", 0)]
    status, body = await mcall(proxy, "GET", "/auth-files?name=plugin.json")
    assert status == 200 and [(f["id"], f["weight"]) for f in body["files"]] == [("valid", 0)]


async def test_a_file_handled_without_credentials_yields_none(start_proxy, tmp_path, monkeypatch):
    """TestSynthesizeAuthFilePluginHandledEmptySuppressesBuiltin and
    TestFileTokenStoreListPluginHandledEmptySuppressesBuiltin, for a plugin provider's
    file: auth.parse handles it and answers no credential, so the file is none. Before,
    the file itself became a credential. Deliberate difference: CPA also asks a plugin
    about a built-in provider's file (codex here), so a plugin can take it over; ours
    never hands a built-in provider's file to a plugin (a built-in provider wins)."""
    auth_file(tmp_path, "empty.json")
    auth_file(tmp_path, "full.json", {"id": "a"}, {"id": "b"})
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    assert [c.id for c in proxy.service.pool.credentials()] == ["a", "b"]
