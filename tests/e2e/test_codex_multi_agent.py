"""``codex.optimize-multi-agent-v2`` through a running proxy: an official Codex client's
multi-agent request reaches the Codex upstream rewritten as CPA rewrites it, the answer
names the client's ``collaboration`` namespace again (whole and streamed), and the Codex
client catalog marks ``multi_agent_version: v2``. Off, or from another client: untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from cliproxy.config import load_or_default
from cliproxy.models.remote import URLS_ENV
from tests.e2e.clients import KEY
from tests.fakes.model_catalog import CatalogSource, codex_catalog, start_with_templates, template

CODEX_UA = "codex-tui/0.146.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10 (codex-tui; 0.146.0)"
HEADING = "Available model overrides (optional; inherited parent model is preferred):"


def config(base: str, on: bool) -> str:
    return f"""
api-keys: ["{KEY}"]
codex:
  optimize-multi-agent-v2: {"true" if on else "false"}
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{base}"
    models:
      - name: "gpt-5.4"
"""


def request_body(stream: bool) -> dict:
    return {
        "model": "gpt-5.4",
        "stream": stream,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "delegate"}]},
            {
                "type": "agent_message",
                "author": "/root",
                "content": [{"type": "encrypted_content", "encrypted_content": "task"}],
            },
        ],
        "tools": [
            {
                "type": "namespace",
                "name": "collaboration",
                "tools": [
                    {
                        "type": "function",
                        "name": "spawn_agent",
                        "description": f"{HEADING}\n- `old`: old\nSpawns an agent.",
                        "parameters": {
                            "type": "object",
                            "properties": {"message": {"type": "string", "encrypted": True}},
                        },
                    }
                ],
            }
        ],
    }


def _sse(event: dict) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class Upstream:
    """A Codex upstream that answers every request with a namespaced spawn_agent call."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.json())
        if request.path.endswith("/compact"):  # JSON in and out
            item = {"type": "function_call", "name": "spawn_agent", "arguments": "{}", "call_id": "call_1"}
            item["namespace"] = self.bodies[-1]["tools"][0]["name"]
            return web.json_response({"id": "resp_1", "object": "response.compaction", "output": [item]})
        call = {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "spawn_agent",
            "namespace": "collaboration-optimize",
            "arguments": '{"message":"go"}',
            "status": "completed",
        }
        response = {
            "id": "resp_1",
            "object": "response",
            "model": "gpt-5.4",
            "status": "in_progress",
            "output": [],
        }
        done = {
            **response,
            "status": "completed",
            "output": [call],
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        }
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in (
            {"type": "response.created", "sequence_number": 0, "response": response},
            {
                "type": "response.output_item.added",
                "sequence_number": 1,
                "output_index": 0,
                "item": {**call, "status": "in_progress", "arguments": ""},
            },
            {"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": call},
            {"type": "response.completed", "sequence_number": 3, "response": done},
        ):
            await resp.write(_sse(event))
        await resp.write_eof()
        return resp

    async def start(self) -> Upstream:
        app = web.Application()
        app.router.add_post("/responses", self.handle)
        app.router.add_post("/responses/compact", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = await Upstream().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


async def _post(proxy_url: str, body: dict, agent: str = CODEX_UA, path: str = "/v1/responses") -> bytes:
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": agent, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(proxy_url + path, data=orjson.dumps(body), headers=headers) as resp:
            data = await resp.read()
            assert resp.status == 200, data
            return data


@pytest.mark.parametrize("mode", ["stream", "whole", "compact"])
async def test_codex_client_request_is_optimized_and_answer_restored(
    start_proxy, upstream, mode: str
) -> None:
    """CPA TestCodexExecutorOptimizeMultiAgentV2 (enabled: execute, stream and compact): the
    namespace renamed, the model list written in, ``encrypted`` gone, the agent message's
    content plain text with its own fields kept, and the answer naming ``collaboration``."""
    proxy = await start_proxy(config(upstream.url, True))
    body = request_body(mode == "stream")
    if mode == "compact":
        del body["stream"]
    path = "/v1/responses/compact" if mode == "compact" else "/v1/responses"
    answer = await _post(proxy.url, body, path=path)
    sent = upstream.bodies[-1]
    namespace = sent["tools"][0]
    assert namespace["name"] == "collaboration-optimize"
    tool = namespace["tools"][0]
    assert tool["parameters"]["properties"]["message"] == {"type": "string"}
    description = tool["description"]
    assert "`old`" not in description and description.count(HEADING) == 1
    assert "- `gpt-5.4`: " in description  # the proxy's own catalog
    assert description.index("`gpt-5.4`") < description.index("Spawns an agent.")
    agent = sent["input"][1]
    assert agent["type"] == "agent_message" and agent["content"] == [{"type": "input_text", "text": "task"}]
    assert agent["author"] == "/root" and "role" not in agent
    # the client sees its own namespace again
    assert b"collaboration-optimize" not in answer
    assert b'"namespace":"collaboration"' in answer


@pytest.mark.parametrize(
    ("on", "agent", "path"),
    [
        (False, CODEX_UA, "/v1/responses"),
        (True, "curl/8.7.1", "/v1/responses"),
        (False, CODEX_UA, "/v1/responses/compact"),
    ],
    ids=["off", "other client", "off compact"],
)
async def test_untouched_when_off_or_for_another_client(
    start_proxy, upstream, on: bool, agent: str, path: str
) -> None:
    """CPA TestRewriteCodexSpawnAgentDescriptionDisabledLeavesPayloadUnchanged and
    TestRewriteCodexSpawnAgentDescriptionIgnoresOtherUserAgent: the switch off, or a client
    that is not Codex's, and the request reaches Codex as sent (the disabled rows of
    TestCodexExecutorOptimizeMultiAgentV2, compact included)."""
    proxy = await start_proxy(config(upstream.url, on))
    body = request_body(False)
    if path.endswith("compact"):
        del body["stream"]
    await _post(proxy.url, body, agent, path)
    sent = upstream.bodies[-1]
    assert sent["tools"][0]["name"] == "collaboration"
    assert sent["tools"][0]["tools"][0]["parameters"]["properties"]["message"]["encrypted"] is True
    assert sent["input"][1]["content"][0]["type"] == "encrypted_content"


@pytest.mark.parametrize("on", [True, False])
async def test_codex_client_catalog_marks_multi_agent_v2(
    start_proxy, upstream, monkeypatch, on: bool
) -> None:
    """CPA models_test.go TestCodexClientModelsResponse_RewritesTemplateMultiAgentVersionWhenEnabled
    (a template's entry and one built from the default template both say v2) and
    TestApplyCodexClientModelMetadataPreservesMultiAgentVersionWhenDisabled, and
    TestCodexClientModelsResponseMultiAgentV2FollowsConfig: off, the template's value stays
    (null here)."""
    async with CatalogSource() as source:
        source.codex = codex_catalog(template("gpt-5.5", 1), template("gpt-5.6-luna", 2))
        monkeypatch.setenv(URLS_ENV, source.models_url)
        text = config(upstream.url, on).replace(
            '      - name: "gpt-5.4"', '      - name: "gpt-5.4"\n      - name: "gpt-5.6-luna"'
        )
        proxy = await start_with_templates(start_proxy, source, text)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.get(proxy.url + "/v1/models?client_version=0.146.0", headers=headers) as resp:
                models = {m["slug"]: m for m in (await resp.json())["models"]}
    for slug in ("gpt-5.4", "gpt-5.6-luna"):
        assert models[slug]["multi_agent_version"] == ("v2" if on else None)


async def test_the_spawn_agent_list_follows_a_reload(start_proxy, upstream, tmp_path) -> None:
    """CPA TestCodexSpawnAgentModelsCacheInvalidation: the models ``spawn_agent`` may name
    follow the served models: one a reload adds is listed on the next request, one it
    removes is not (the list is made from the live registry, nothing cached past it)."""
    proxy = await start_proxy(config(upstream.url, True))
    await _post(proxy.url, request_body(False))
    first = upstream.bodies[-1]["tools"][0]["tools"][0]["description"]
    assert "`gpt-5.4`" in first and "`gpt-5.5`" not in first
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text().replace('      - name: "gpt-5.4"', '      - name: "gpt-5.5"'))
    loaded, _ = load_or_default(path)
    proxy.service.apply(loaded)
    body = request_body(False)
    body["model"] = "gpt-5.5"
    await _post(proxy.url, body)
    second = upstream.bodies[-1]["tools"][0]["tools"][0]["description"]
    assert "`gpt-5.5`" in second and "`gpt-5.4`" not in second


async def test_the_spawn_agent_list_comes_from_the_templates(start_proxy, upstream, monkeypatch) -> None:
    """CPA TestCodexSpawnAgentModelsFromSourcesIncludesModelMetadata through the proxy: a
    model with a template of its own is listed first with the template's description,
    reasoning efforts, default and service tiers; another model after it with the
    registry's description (its id when it has none, as CPA) and no service tiers. A
    newer template catalog is listed on the next request (TestCodexSpawnAgentModelsCacheInvalidation,
    for CPA's catalog revision).

    Deliberate difference: a model without a template whose reasoning the registry does
    not know is listed without efforts (CPA lists the default template's), as in our
    Codex CLI catalog: it would not take them."""
    four = template(
        "gpt-5.4",
        2,
        description="Template four",
        default_reasoning_level="low",
        service_tiers=[{"id": "priority"}, {"id": "priority"}],
    )
    async with CatalogSource() as source:
        source.codex = codex_catalog(template("gpt-5.5", 1), four)
        monkeypatch.setenv(URLS_ENV, source.models_url)
        text = config(upstream.url, True).replace(
            '      - name: "gpt-5.4"', '      - name: "gpt-5.4"\n      - name: "custom-x"'
        )
        proxy = await start_with_templates(start_proxy, source, text)
        await _post(proxy.url, request_body(False))
        lines = upstream.bodies[-1]["tools"][0]["tools"][0]["description"].splitlines()
        listed = lines[lines.index(HEADING) + 1 : lines.index(HEADING) + 3]
        assert listed == [
            "- `gpt-5.4`: Template four. Reasoning efforts: low (default), medium, high. Service tiers: priority.",
            "- `custom-x`: custom-x.",
        ]
        source.codex = codex_catalog(template("gpt-5.5", 1), {**four, "description": "Newer four."})
        assert await proxy.service.catalog_updater.refresh_codex_templates() is True
        await _post(proxy.url, request_body(False))
        assert "- `gpt-5.4`: Newer four. " in upstream.bodies[-1]["tools"][0]["tools"][0]["description"]
