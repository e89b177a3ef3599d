"""Credentials a plugin's ``auth.parse`` expands out of one auth file (CPA's plugin
virtual auths) through ``/v0/management/auth-files``: CPA's
``auth_files_plugin_oauth_test.go`` cases, ported through a running proxy with a real
in-process Python plugin whose ``auth.parse`` answers several ``Auths``.

Such credentials share one file, so none of them can be edited or deleted on its own:
the file is the unit (disable or delete it by its name, and all of them follow)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.plugins.test_flow_python import HEADER, _proxy

MULTI = (
    HEADER
    + """
class Multi(Plugin, AuthProvider, ModelProvider, Executor):
    name = "multi"; version = "1"; author = "t"; github_repository = "https://example.com/multi"
    identifier = "multi"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        auths = [AuthData(id=a["id"], file_name=a.get("file_name", ""), label="multi:" + a["id"],
                          metadata={"account": a["id"]}) for a in raw["accounts"]]
        return AuthParseResponse(handled=True, auths=auths)
    async def models_for_auth(self, req):
        return ModelList(provider="multi", models=[ModelInfo(id="multi-model")])
    async def execute(self, req):
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": req.auth_id},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Multi()
"""
)


def source_file(tmp_path: Path, *accounts: dict[str, str], **extra: Any) -> Path:
    """``auths/source.json`` of provider ``multi`` that the plugin parses into ``accounts``."""
    path = tmp_path / "auths" / "source.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps({"type": "multi", "accounts": list(accounts), **extra}))
    return path


async def start(start_proxy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: Iterable[str]) -> Any:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    proxy = await _proxy(start_proxy, None, tmp_path, {"multi": MULTI}, {"multi": {}}, base=False)
    await expanded(proxy, ids)
    return proxy


async def expanded(proxy: Any, ids: Iterable[str]) -> None:
    """Wait (bounded) until the pool holds exactly the credentials ``ids`` of the file (a
    reload binds plugin files in the background)."""
    want = set(ids)
    async with asyncio.timeout(5):
        while {c.id for c in proxy.service.pool.credentials()} != want or not all(
            c.attributes.get("plugin") for c in proxy.service.pool.credentials()
        ):
            await asyncio.sleep(0.01)


async def listed(proxy: Any) -> list[dict[str, Any]]:
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    return list(body["files"])


async def test_listing_shows_each_expanded_credential(start_proxy, tmp_path, monkeypatch):
    """TestSynthesizeAuthFileExpandsPluginMultiAuths (and TestFileTokenStoreListExpandsPluginMultiAuths),
    as the listing shows it: each
    credential of the file is its own entry with its own id and auth index, the source
    file's path, size and ``source: file``; its name is the ``FileName`` the plugin gave,
    else the source file's name (CPA's ``Auth.FileName``). Before, every entry was named
    after the source file."""
    path = source_file(
        tmp_path, {"id": "source.json"}, {"id": "project-a", "file_name": "source-project-a.json"}
    )
    proxy = await start(start_proxy, tmp_path, monkeypatch, ["source.json", "project-a"])
    files = await listed(proxy)
    assert [(f["id"], f["name"]) for f in files] == [  # by name, as CPA sorts
        ("project-a", "source-project-a.json"),
        ("source.json", "source.json"),
    ]
    assert files[0]["auth_index"] and files[0]["auth_index"] != files[1]["auth_index"]
    for entry in files:
        assert (
            entry["path"] == str(path) and entry["source"] == "file" and entry["size"] == path.stat().st_size
        )
        assert (entry["type"], entry["provider"], entry["runtime_only"], entry["disabled"]) == (
            "multi",
            "multi",
            False,
            False,
        )
    status, body = await mcall(proxy, "GET", "/auth-files?name=source-project-a.json")
    assert status == 200 and [f["id"] for f in body["files"]] == ["project-a"]


async def test_status_of_one_expanded_credential_is_refused(start_proxy, tmp_path, monkeypatch):
    """TestPatchPluginVirtualAuthStatusReturnsConflictForVirtualChild: disabling one
    credential of the file by its own id (or its own file name) answers 409 and changes
    nothing. Before, the shared file was rewritten, which disabled all of them."""
    path = source_file(tmp_path, {"id": "auth-1"}, {"id": "auth-2", "file_name": "auth-2.json"})
    before = path.read_bytes()
    proxy = await start(start_proxy, tmp_path, monkeypatch, ["auth-1", "auth-2"])
    for name in ("auth-1", "auth-2.json"):
        status, body = await mcall(proxy, "PATCH", "/auth-files/status", {"name": name, "disabled": True})
        assert status == 409 and "source.json" in body["error"]
    assert path.read_bytes() == before
    assert not any(c.disabled for c in proxy.service.pool.credentials())


async def test_status_of_the_source_file_disables_every_expanded_credential(
    start_proxy, tmp_path, monkeypatch
):
    """TestPatchPluginVirtualSourceStatusDisablesAllExpandedAuths and
    TestSynthesizeAuthFileAppliesSourceDisabledToPluginMultiAuths (and
    TestFileTokenStoreListAppliesSourceDisabledToPluginMultiAuths): by the source file's
    name (here also the id of the first credential, as in CPA's case) the file gets
    ``disabled: true`` and every credential of it is disabled (status ``disabled``,
    ``disabled`` in its metadata); enabling it again brings them all back."""
    path = source_file(tmp_path, {"id": "source.json"}, {"id": "virtual-project-a"})
    ids = ["source.json", "virtual-project-a"]
    proxy = await start(start_proxy, tmp_path, monkeypatch, ids)
    status, body = await mcall(
        proxy, "PATCH", "/auth-files/status", {"name": "source.json", "disabled": True}
    )
    assert (status, body) == (200, {"status": "ok", "disabled": True})
    assert orjson.loads(path.read_bytes())["disabled"] is True
    await expanded(proxy, ids)
    for cred_id in ids:
        cred = proxy.service.pool.get(cred_id)
        assert cred is not None and cred.disabled and cred.metadata["disabled"] is True
    assert [(f["id"], f["status"], f["disabled"]) for f in await listed(proxy)] == [
        ("source.json", "disabled", True),
        ("virtual-project-a", "disabled", True),
    ]
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {"name": "source.json", "disabled": False})
    assert status == 200
    await expanded(proxy, ids)
    assert not any(c.disabled for c in proxy.service.pool.credentials())


async def test_fields_of_an_expanded_credential_are_refused(start_proxy, tmp_path, monkeypatch):
    """TestPatchPluginVirtualAuthFieldsReturnsConflict: fields of a credential the file
    was expanded into cannot be patched, by its id or by the source file's name (CPA has
    no source-file exception here); the file is untouched. Before, the note went into
    the shared file and so onto every credential of it."""
    path = source_file(tmp_path, {"id": "auth-1"}, {"id": "auth-2"})
    before = path.read_bytes()
    proxy = await start(start_proxy, tmp_path, monkeypatch, ["auth-1", "auth-2"])
    for name in ("auth-1", "source.json"):
        status, body = await mcall(proxy, "PATCH", "/auth-files/fields", {"name": name, "note": "hello"})
        assert status == 409 and "source.json" in body["error"]
    assert path.read_bytes() == before


async def test_deleting_the_source_file_removes_every_expanded_credential(start_proxy, tmp_path, monkeypatch):
    """TestDeletePluginVirtualSourceRemovesExpandedRuntimeAuths: deleting one credential
    of the file by its id answers 409 and keeps the file (CPA's
    isPluginVirtualSourceDelete); deleting the source file by name removes the file and
    every credential expanded from it. Before, deleting by a credential's id removed
    the shared file and so all of its siblings."""
    path = source_file(tmp_path, {"id": "auth-1"}, {"id": "auth-2"})
    proxy = await start(start_proxy, tmp_path, monkeypatch, ["auth-1", "auth-2"])
    status, body = await mcall(proxy, "DELETE", "/auth-files?name=auth-1")
    assert status == 409 and "source.json" in body["error"] and path.exists()
    status, body = await mcall(proxy, "DELETE", "/auth-files?name=source.json")
    assert (status, body) == (200, {"status": "ok"})
    assert not path.exists()
    await expanded(proxy, [])
    assert await listed(proxy) == []
