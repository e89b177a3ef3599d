"""Codex's image tool usage where else CPA's records go: the usage plugins (CPA hands every
usage record to each registered usage plugin, the additional model's too), and a restart
or a Redis that lost its data (the ledger's rows are counted back as the live counters
counted them: the image model's row adds its tokens, no request). (The Images API served
through Codex, CPA's direct path, has one record under the image model, its answer's own
``usage``: ``tests/e2e/test_images_usage.py``.)

Before, a usage plugin got the request's record only, without the image model's tokens.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from typing import Any

import aiohttp
import openai
import pytest
import redis.asyncio as aioredis

from cliproxy.state import redis_loss
from cliproxy.usage import recorder_of
from tests.fakes.openai_responses import IMAGE_GEN_USAGE
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.plugins.plugin_dir import plugins_yaml, write_python
from tests.usage.helpers import close_recorder

KEY = "sk-image-records-client"
DRAW = "draw a green square"

COLLECT = """
from cliproxy.plugins.api import Plugin, UsagePlugin, UsageRecord

class Collect(Plugin, UsagePlugin):
    name = "collect"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/c"
    records: list[UsageRecord] = []

    async def handle_usage(self, record: UsageRecord) -> None:
        self.records.append(record)

plugin = Collect()
"""


def _config(fake: Any, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
usage-statistics-enabled: true
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fake.base_url}/backend-api/codex"
    models: [{{name: gpt-5.4, alias: codex-model}}]
{extra}
"""


async def _collected(n: int) -> list[Any]:
    plugin = next(m for name, m in sys.modules.items() if name.startswith("cliproxy_plugin_collect")).plugin
    for _ in range(300):  # usage plugins run in the background, after the answer
        if len(plugin.records) >= n:
            break
        await asyncio.sleep(0.01)
    return list(plugin.records)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_usage_plugin_gets_the_image_models_record(
    start_proxy: Any, tmp_path: Any, fake_responses: Any, stream: bool
) -> None:
    """Two records for a request that drew: the request's, then the image model's with the
    same provider, credential, alias and times, the image tokens, not failed."""
    pdir = write_python(tmp_path, {"collect": COLLECT})
    proxy = await start_proxy(_config(fake_responses, plugins_yaml(pdir, {"collect": {}})))
    try:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            if stream:
                async with client.responses.stream(model="codex-model", input=DRAW) as events:
                    async for _ in events:
                        pass
            else:
                await client.responses.create(model="codex-model", input=DRAW)
            await client.responses.create(model="codex-model", input="hello")  # no image drawn
        own, image, plain = await _collected(3)
    finally:
        close_recorder(proxy)
    assert image.model == "gpt-image-2" and own.model == plain.model != image.model
    d = image.detail
    assert (d.input_tokens, d.output_tokens, d.total_tokens) == (27, 1056, 1083)
    assert image.failed is False and image.failure.status_code == 0
    for field in ("provider", "executor_type", "alias", "auth_id", "auth_index", "requested_at", "latency"):
        assert getattr(image, field) == getattr(own, field), field
    assert (image.provider, image.alias) == ("codex", "codex-model")


async def _counts(proxy: Any) -> tuple[Any, Any]:
    """``/usage/keys``'s keys and ``/api-key-usage``'s Codex entries (the credential's counts)."""
    status, keys = await mcall(proxy, "GET", "/usage/keys")
    assert status == 200
    status, by_provider = await mcall(proxy, "GET", "/api-key-usage")
    assert status == 200
    return keys["keys"], by_provider["codex"]


def _requests(entry: dict[str, Any]) -> tuple[int, int, int, int]:
    """success, failed, and the successes and failures in the recent buckets."""
    recent = entry["recent_requests"]
    return (
        entry["success"],
        entry["failed"],
        sum(b["success"] for b in recent),
        sum(b["failed"] for b in recent),
    )


async def test_a_restart_counts_the_image_record_back(
    start_proxy: Any, tmp_path: Any, fake_responses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counters after a restart (read back from the ledger's totals and recent rows) are
    the live ones: the image model's row adds its tokens and is no request, on the client
    key's counter and the credential's (before: success 2 for one request, live and after)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    ledger = tmp_path / "usage.sqlite"
    text = _config(fake_responses, f'usage-ledger: {{path: "{ledger}"}}')
    proxy = await start_proxy(text)
    try:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            await client.responses.create(model="codex-model", input=DRAW)
        live = await _counts(proxy)
    finally:
        close_recorder(proxy)
        await proxy.close()
    again = await start_proxy(text)
    try:
        restored = await _counts(again)
    finally:
        close_recorder(again)
    (key,), creds = live
    (cred,) = creds.values()
    assert key["total_tokens"] > IMAGE_GEN_USAGE["total_tokens"]
    assert _requests(key) == _requests(cred) == (1, 0, 1, 0)
    assert restored == live
    with sqlite3.connect(ledger) as db:  # two rows; the image model's made no upstream call
        rows = db.execute("SELECT model, attempts FROM usage_requests ORDER BY attempts DESC").fetchall()
    assert rows == [("gpt-5.4", 1), ("gpt-image-2", -1)]


async def test_an_image_row_written_before_stays_a_request(
    start_proxy: Any, tmp_path: Any, fake_responses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger written by the version that counted the image row as a request (its
    ``attempts`` 1; the totals counted it): it stays one, in the totals and the recent
    buckets, until retention deletes it (and takes off what it added), so the counters and
    the totals agree. Only rows written from now on say they are none."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    ledger = tmp_path / "usage.sqlite"
    text = _config(fake_responses, f'usage-ledger: {{path: "{ledger}"}}')
    proxy = await start_proxy(text)
    try:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            await client.responses.create(model="codex-model", input=DRAW)
        (live,), _ = await _counts(proxy)
    finally:
        close_recorder(proxy)
        await proxy.close()
    with sqlite3.connect(ledger) as db:  # as that version wrote it: totals built from such rows
        db.execute("UPDATE usage_requests SET attempts = 1 WHERE model = 'gpt-image-2'")
        db.execute("DELETE FROM usage_meta")
    again = await start_proxy(text)
    try:
        (key,), creds = await _counts(again)
    finally:
        close_recorder(again)
    (cred,) = creds.values()
    assert _requests(key) == _requests(cred) == (2, 0, 2, 0)
    assert key["total_tokens"] == live["total_tokens"]


async def test_a_redis_that_lost_its_data_gets_the_image_tokens_back_and_no_request(
    start_proxy: Any, tmp_path: Any, fake_responses: Any, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared counters (``state: redis``): a drawing request is one request there too; when
    Redis loses its data the ledger puts back the tokens of both rows and one request, and a
    drawing request counted since the loss is not added twice."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)  # the test looks itself
    extra = (
        f'usage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
        f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'img:'\n"
    )
    proxy = await start_proxy(_config(fake_responses, extra))
    try:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            await client.responses.create(model="codex-model", input=DRAW)
            (one,), creds = await _counts(proxy)
            (cred,) = creds.values()
            assert _requests(one) == _requests(cred) == (1, 0, 1, 0)
            assert one["total_tokens"] > IMAGE_GEN_USAGE["total_tokens"]
            await _until_marked(proxy)
            client_redis = aioredis.from_url(redis_server.url)
            try:
                await client_redis.flushall()
            finally:
                await client_redis.aclose()
            await client.responses.create(model="codex-model", input=DRAW)  # counted since the loss
            assert recorder_of(proxy.service).stats.ledger.flush()
            assert await proxy.service.state.loss.check()  # the restore
            (key,), creds = await _counts(proxy)
    finally:
        close_recorder(proxy)
    (cred,) = creds.values()
    assert _requests(key) == _requests(cred) == (2, 0, 2, 0)
    assert key["total_tokens"] == 2 * one["total_tokens"]


async def _until_marked(proxy: Any) -> None:
    loss = proxy.service.state.loss
    for _ in range(250):
        if loss._seen:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the Redis marker was never seen")


@pytest.mark.parametrize("websockets", [False, True])
async def test_a_responses_websocket_turn_that_draws_makes_a_second_record(
    start_proxy: Any, fake_responses: Any, monkeypatch: pytest.MonkeyPatch, websockets: bool
) -> None:
    """A turn on the client's Responses WebSocket, sent over HTTP or over Codex's own
    WebSocket (``websockets: true``: the upstream socket's events are read the same way)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    text = _config(fake_responses).replace(
        "    models: [", f"    websockets: {str(websockets).lower()}\n    models: ["
    )
    proxy = await start_proxy(text)
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(proxy.url + "/v1/responses", headers=headers) as ws,
        ):
            await ws.send_json({"type": "response.create", "model": "codex-model", "input": DRAW})
            while (event := await ws.receive_json(timeout=10))["type"] not in ("response.completed", "error"):
                pass
        assert event["type"] == "response.completed"
        status, records = await mcall(proxy, "GET", "/usage-queue?count=5")
    finally:
        close_recorder(proxy)
    assert status == 200 and [r["model"] for r in records] == ["gpt-5.4", "gpt-image-2"]
    assert records[1]["tokens"]["total_tokens"] == IMAGE_GEN_USAGE["total_tokens"]
    upstream_socket = [r for r in fake_responses.requests if r.method == "WS"]
    assert bool(upstream_socket) is websockets  # the turn went the way the credential says
