"""Plugin-provider auth files are bound one task per file (cliproxy.plugins.binding), and
``host.auth.save`` answers once the file it wrote is in the pool, bound, as a management
write does; through a running proxy with real in-process Python plugins."""

from __future__ import annotations

import asyncio
import json
import time

import orjson

from cliproxy.formats import Format
from cliproxy.plugins import binding
from tests.e2e.clients import ask
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.management.test_auth_files_rebind import SLOW, auth_file, start, unbound
from tests.plugins.test_flow_python import HEADER, _proxy

# a router whose executor saves an auth file of the ``multi`` plugin's provider and tells
# back what host.auth.list shows right after
SAVER = (
    HEADER
    + """
class Saver(Plugin, ModelRouter, Executor):
    name = "saver"; version = "1"; author = "t"; github_repository = "https://example.com/saver"
    identifier = "saver"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "save-now" else None
    async def execute(self, req):
        saved = await self.host.auth.save("saved.json", {"type": "multi", "accounts": [{"id": "s1"}, {"id": "s2"}]})
        ids = sorted(f.id for f in await self.host.auth.list())
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps([saved.name, ids])},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Saver()
"""
)


async def test_a_hanging_parse_holds_back_no_other_file(start_proxy, tmp_path, monkeypatch):
    """A plugin whose auth.parse of one file never answers: a file uploaded after it is
    bound and in the pool when its upload answers (the write still waits its bounded
    time for the hanging one). Before, one task bound the files in turn, so the second
    file waited behind the hanging call until that call's limit (30 s)."""
    auth_file(tmp_path, "first.json", {"id": "first.json"})
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    proxy.service.bind_wait = 1.0
    monkeypatch.setattr(binding, "CALL_TIMEOUT", 20.0)
    hang = orjson.dumps({"type": "multi", "hang": True, "accounts": [{"id": "h"}]})
    assert (await mcall(proxy, "POST", "/auth-files?name=hang.json", data=hang))[0] == 200
    started = time.monotonic()
    body = orjson.dumps({"type": "multi", "accounts": [{"id": "b"}]})
    assert (await mcall(proxy, "POST", "/auth-files?name=second.json", data=body))[0] == 200
    assert time.monotonic() - started < 5  # bind_wait, not the hanging call's 20 s
    pool = proxy.service.pool
    assert sorted(c.id for c in pool.credentials()) == ["b", "first.json"]
    assert pool.get("b") is not None and pool.get("b").attributes["plugin"] == "multi"
    assert unbound(proxy) == []


async def test_a_file_past_its_own_limit_goes_in_as_read(start_proxy, tmp_path, monkeypatch):
    """Each file's binding as a whole is bounded too (``FILE_TIMEOUT``, whatever the
    per-call limit): past it the file goes in as read, and the other files are bound."""
    proxy = await start(start_proxy, tmp_path, monkeypatch)
    proxy.service.bind_wait = 0.5
    monkeypatch.setattr(binding, "FILE_TIMEOUT", 0.5)
    hang = orjson.dumps({"type": "multi", "hang": True, "accounts": [{"id": "h"}]})
    assert (await mcall(proxy, "POST", "/auth-files?name=hang.json", data=hang))[0] == 200
    pool = proxy.service.pool
    async with asyncio.timeout(5):
        while pool.get("hang.json") is None:
            await asyncio.sleep(0.02)
    monkeypatch.setattr(binding, "FILE_TIMEOUT", 30.0)
    body = orjson.dumps({"type": "multi", "accounts": [{"id": "b"}]})
    assert (await mcall(proxy, "POST", "/auth-files?name=other.json", data=body))[0] == 200
    assert pool.get("b") is not None and unbound(proxy) == ["hang.json"]


async def test_host_auth_save_answers_once_the_file_is_bound(start_proxy, tmp_path, monkeypatch):
    """host.auth.save of a plugin provider's file: when it answers, host.auth.list already
    shows the credentials that provider's plugin made of it, as after a management
    upload (CPA's save upserts the record before answering). Before, the save answered
    at once and the list did not hold the file yet (it was still being bound)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    auth_file(tmp_path, "first.json", {"id": "first.json"})
    proxy = await _proxy(
        start_proxy, None, tmp_path, {"multi": SLOW, "saver": SAVER}, {"multi": {}, "saver": {}}, base=False
    )
    answer = await ask(Format.OPENAI, proxy.url, "save-now", "hi", stream=False)
    name, ids = json.loads(answer.text)
    assert name == "saved.json" and ids == ["first.json", "s1", "s2"]
    assert (tmp_path / "auths" / "saved.json").exists()
