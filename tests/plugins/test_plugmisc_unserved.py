"""Auth files of a type no provider serves (``qwen``, ``iflow``, ``empty``: CPA's types for
providers it has and we do not) were loaded, counted in "N credential(s) loaded" and never
used, without a word. Once plugin binding has settled, the proxy now warns once per load,
naming each such type with its file count, and says nothing more on a rescan that changed
nothing; a type a plugin executor serves (its identifier) is not named."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import ask
from tests.plugins.test_flow_python import HEADER, KEY, _proxy

PHRASE = "of types no provider serves"

# an executor serving auth files of type "qwen" (CPA: the executor whose identifier is the type)
QWEN = (
    HEADER
    + """
class Qwen(Plugin, ModelProvider, Executor):
    name = "qwen"; version = "1"; author = "t"; github_repository = "https://example.com/qwen"
    identifier = "qwen"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    async def models_for_auth(self, req):
        return ModelList(provider="qwen", models=[ModelInfo(id="qwen-max")])
    async def execute(self, req):
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "qwen:" + req.auth_id},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Qwen()
"""
)


def auth(tmp_path: Path, name: str, body: dict[str, Any]) -> None:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps(body))


def cpa_files(tmp_path: Path) -> None:
    auth(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "a"})
    auth(tmp_path, "qwen-b.json", {"type": "qwen", "access_token": "b"})
    auth(tmp_path, "iflow-a.json", {"type": "iflow", "api_key": "k"})
    auth(tmp_path, "claude-a.json", {"type": "claude", "access_token": "c", "email": "a@example.com"})
    auth(tmp_path, "compat.json", {"type": "acme", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
    auth(tmp_path, "qwen-off.json", {"type": "qwen", "access_token": "d", "disabled": True})


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if PHRASE in r.getMessage()]


async def test_unserved_types_are_named_once_per_load(start_proxy, tmp_path, caplog):
    cpa_files(tmp_path)
    caplog.set_level(logging.INFO, "cliproxy")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    assert warnings(caplog) == [
        "3 auth file(s) of types no provider serves: qwen (2), iflow (1); they are loaded and never used"
    ]
    caplog.clear()
    await proxy.service.reload_auth_files()  # a rescan that changes nothing
    await proxy.service.reload_auth_files()
    assert any("credential(s) loaded" in r.getMessage() for r in caplog.records)
    assert warnings(caplog) == []
    auth(tmp_path, "empty.json", {"type": "empty"})
    await proxy.service.reload_auth_files()
    assert warnings(caplog) == [
        "4 auth file(s) of types no provider serves: qwen (2), empty (1), iflow (1);"
        " they are loaded and never used"
    ]


async def test_a_type_a_plugin_executor_serves_is_not_named(start_proxy, tmp_path, caplog):
    cpa_files(tmp_path)
    caplog.set_level(logging.INFO, "cliproxy")
    proxy = await _proxy(start_proxy, None, tmp_path, {"qwen": QWEN}, {"qwen": {}}, base=False)
    assert warnings(caplog) == [
        "1 auth file(s) of types no provider serves: iflow (1); they are loaded and never used"
    ]
    answer = await ask(Format.OPENAI, proxy.url, "qwen-max", "hi", stream=False)
    assert answer.text.startswith("qwen:qwen-")  # the files it names as served are served


async def test_nothing_is_said_when_every_file_is_served(start_proxy, tmp_path, caplog):
    auth(tmp_path, "claude-a.json", {"type": "claude", "access_token": "c", "email": "a@example.com"})
    caplog.set_level(logging.INFO, "cliproxy")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await proxy.service.reload_auth_files()
    assert warnings(caplog) == []


async def test_a_file_the_watcher_picks_up_is_named(start_proxy, tmp_path, caplog):
    auth(tmp_path, "iflow-a.json", {"type": "iflow", "api_key": "k"})
    caplog.set_level(logging.INFO, "cliproxy")
    await start_proxy(f'api-keys: ["{KEY}"]\n', watch=True)
    assert warnings(caplog) == [
        "1 auth file(s) of types no provider serves: iflow (1); they are loaded and never used"
    ]
    auth(tmp_path, "qwen-a.json", {"type": "qwen", "access_token": "a"})
    async with asyncio.timeout(5):
        while len(warnings(caplog)) < 2:
            await asyncio.sleep(0.02)
    assert warnings(caplog)[1].startswith("2 auth file(s) of types no provider serves: iflow (1), qwen (1);")
