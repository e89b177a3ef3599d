"""Model-list bodies parse with each vendor SDK; suspended models disappear."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anthropic.types
import openai.types
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types as genai_types

from cliproxy.models.catalog import ModelInfo
from cliproxy.models.codex_client import codex_client_models
from cliproxy.models.codex_templates import parse_codex_templates
from cliproxy.models.listing import (
    anthropic_models,
    cloak_claude_id,
    gemini_model,
    gemini_models,
    openai_models,
    suspensions,
    uncloak_claude_id,
)
from cliproxy.state.base import CooldownRecord
from tests.fakes.model_catalog import codex_catalog
from tests.fakes.model_catalog import template as codex_template

from .conftest import build, oauth


def roundtrip(body):
    return orjson.loads(orjson.dumps(body))


@contextlib.asynccontextmanager
async def gemini_server(list_body: dict, model_bodies: dict) -> AsyncIterator[str]:
    """A local HTTP server answering the Gemini model-list routes with our bodies."""

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(list_body)

    async def single(request: web.Request) -> web.Response:
        body = model_bodies.get(request.match_info["name"])
        return web.json_response(body) if body else web.json_response({}, status=404)

    app = web.Application()
    app.router.add_get("/v1beta/models", listing)
    app.router.add_get("/v1beta/models/{name}", single)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def test_openai_list_parses_with_the_openai_sdk(registry):
    build(registry, {}, [oauth("c.json", "claude"), oauth("k.json", "kimi")])
    body = roundtrip(openai_models(registry.listable()))
    assert body["object"] == "list"
    models = [openai.types.Model.model_validate(m) for m in body["data"]]
    assert {"claude-sonnet-4-6", "kimi-k2"} <= {m.id for m in models}
    assert all(m.object == "model" and m.owned_by for m in models)


def test_anthropic_list_parses_and_cloaks(registry):
    build(registry, {}, [oauth("c.json", "claude"), oauth("k.json", "kimi")])
    body = roundtrip(anthropic_models(registry.listable()))
    infos = [anthropic.types.ModelInfo.model_validate(m) for m in body["data"]]
    assert body["has_more"] is False
    assert body["first_id"] == infos[0].id and body["last_id"] == infos[-1].id
    assert [(i.display_name, i.id) for i in infos] == sorted((i.display_name, i.id) for i in infos)
    assert all(i.id.startswith("claude-") for i in infos)
    assert cloak_claude_id("kimi-k2") in {i.id for i in infos}
    haiku = next(i for i in infos if i.id == "claude-haiku-4-5-20251001")
    assert haiku.max_input_tokens == 200000 and haiku.max_tokens == 64000
    assert haiku.created_at > datetime(2025, 1, 1, tzinfo=UTC)
    plain = anthropic_models(registry.listable(), cloak=False)
    assert "kimi-k2" in {m["id"] for m in plain["data"]}


def test_anthropic_list_limits_defaults_and_fresh_snapshots(registry):
    """CPA: TestGetAvailableModelsClaudeIncludesTokenLimits (limits and an RFC 3339
    ``created_at``; a model without limits gets 200000/64000, its id as display name and
    ``type: model``), TestGetAvailableModelsReturnsClonedSnapshots (a caller changing one
    list does not change the next), TestGetAvailableModelsInvalidatesCacheOnRegistryChanges
    (a re-registration's new display name and a suspension show at once)."""
    known = ModelInfo(id="claude-sonnet-4-6", created=1771372800, context_window=200000, max_output=64000)
    (entry,) = anthropic_models([known], cloak=False)["data"]
    assert entry["created_at"] == "2026-02-18T00:00:00Z"
    assert (entry["max_input_tokens"], entry["max_tokens"]) == (200000, 64000)

    def claude_list(display: str, suspended=None) -> dict:
        models = [{"name": "claude-no-limits", "display-name": display}]
        _, (cred,) = build(registry, {"claude-api-key": [{"api-key": "k", "models": models}]})
        listed = registry.listable({cred.id: suspended} if suspended else None)
        return {m["id"]: m for m in anthropic_models(listed, cloak=False)["data"]}

    bare = claude_list("")["claude-no-limits"]
    assert (bare["max_input_tokens"], bare["max_tokens"]) == (200000, 64000)
    assert (bare["display_name"], bare["type"]) == ("claude-no-limits", "model")
    bare["display_name"] = "Mutated"
    assert claude_list("")["claude-no-limits"]["display_name"] == "claude-no-limits"
    assert claude_list("Updated")["claude-no-limits"]["display_name"] == "Updated"
    assert claude_list("Updated", {"claude-no-limits"}) == {}


def test_claude_cloaking_round_trips():
    cloaked = cloak_claude_id("gpt-5.5")
    assert cloaked == "claude-fable-5-dd-5.5-tpg"
    assert uncloak_claude_id(cloaked) == "gpt-5.5"
    assert uncloak_claude_id(cloaked + "(high)") == "gpt-5.5(high)"
    assert cloak_claude_id("claude-x") == "claude-x" and uncloak_claude_id("claude-x") == "claude-x"


async def test_gemini_list_and_single_model_parse_with_genai(registry):
    build(registry, {}, [oauth("v.json", "vertex"), oauth("c.json", "claude")])
    listable = registry.listable()
    body = roundtrip(gemini_models(listable))
    singles = {"gemini-2.5-pro": roundtrip(gemini_model(listable, "models/gemini-2.5-pro"))}
    async with gemini_server(body, singles) as url:
        client = genai.Client(
            api_key="k", http_options=genai_types.HttpOptions(base_url=url, api_version="v1beta")
        )
        try:
            models = [m async for m in await client.aio.models.list()]
            one = await client.aio.models.get(model="gemini-2.5-pro")
        finally:
            await client.aio.aclose()
    assert len(models) == len(body["models"])
    pro = next(m for m in models if m.name == "models/gemini-2.5-pro")
    assert pro.input_token_limit == 1048576 and pro.output_token_limit == 65536
    assert pro.thinking is True and "generateContent" in pro.supported_actions
    claude = next(m for m in models if m.name == "models/claude-sonnet-4-6")
    assert claude.supported_actions == ["generateContent"] and claude.display_name
    assert one.name == pro.name and one.input_token_limit == pro.input_token_limit
    assert gemini_model(listable, "gemini-2.5-pro") is not None
    assert gemini_model(listable, "nope") is None


def test_codex_client_catalog_shape(registry):
    build(registry, {}, [oauth("x.json", "codex"), oauth("c.json", "claude")])
    models = registry.listable()
    body = codex_client_models(models, registry.providers)
    entries = {e["slug"]: e for e in body["models"]}
    five = entries["gpt-5.5"]
    for key in (
        "display_name",
        "description",
        "supported_reasoning_levels",
        "shell_type",
        "visibility",
        "supported_in_api",
        "priority",
        "base_instructions",
        "truncation_policy",
        "supports_parallel_tool_calls",
        "experimental_supported_tools",
    ):
        assert key in five, key
    assert five["default_reasoning_level"] == "medium"
    assert {lv["effort"] for lv in five["supported_reasoning_levels"]} >= {"low", "high"}
    assert entries["gpt-image-2"]["visibility"] == "hide"
    priorities = [e["priority"] for e in body["models"]]
    assert priorities == sorted(priorities)
    template = codex_template("gpt-5.5", 3, display_name="T", base_instructions="be helpful")
    templates = parse_codex_templates(orjson.dumps(codex_catalog(template)))
    body = codex_client_models(models, registry.providers, templates)
    first = body["models"][0]
    assert first["slug"] == "gpt-5.5" and first["base_instructions"] == "be helpful"
    assert first["supports_search_tool"] is True and first["priority"] == 3
    assert all(e["priority"] > 100 for e in body["models"][1:])
    assert all(e["base_instructions"] == "be helpful" for e in body["models"])
    assert templates.default["display_name"] == "T"  # the template is not modified


def test_suspended_models_disappear_quota_cooled_stay(registry):
    """CPA: TestGetAvailableModelInfosHonorsQuotaAndSuspensionAvailability (a quota
    cooldown keeps a model listed; a non-quota suspension on every credential hides it)."""
    a, b = oauth("a.json", "kimi"), oauth("b.json", "kimi")
    build(registry, {}, [a, b])
    now = 1000.0
    records = {
        "a.json": [
            CooldownRecord("a.json", "kimi-k2", reason="not_found", next_retry_after=now + 60),
            CooldownRecord(
                "a.json",
                "kimi-k2.5",
                reason="quota",
                quota_exceeded=True,
                next_retry_after=now + 60,
                next_recover_at=now + 60,
            ),
            CooldownRecord("a.json", "kimi-k3", reason="unauthorized", next_retry_after=now - 1),
        ],
        "b.json": [
            CooldownRecord("b.json", "kimi-k2", reason="model_not_supported", next_retry_after=now + 60),
            CooldownRecord(
                "b.json",
                "kimi-k2.5",
                reason="quota",
                quota_exceeded=True,
                next_retry_after=now + 60,
                next_recover_at=now + 60,
            ),
            CooldownRecord("b.json", "", reason="unauthorized", next_retry_after=now + 60),
        ],
    }
    suspended = suspensions(records, now)
    assert suspended == {"a.json": {"kimi-k2"}, "b.json": {"kimi-k2"}}
    listed = {m.id for m in registry.listable(suspended)}
    assert "kimi-k2" not in listed
    assert {"kimi-k2.5", "kimi-k3", "kimi-k2-thinking"} <= listed
    # One credential still serving the model keeps it listed.
    assert "kimi-k2" in {m.id for m in registry.listable({"a.json": {"kimi-k2"}})}


def test_suspension_by_upstream_name_hides_the_alias(registry):
    cred = oauth("c.json", "claude")
    build(registry, {"oauth-model-alias": {"claude": [{"name": "claude-sonnet-4-6", "alias": "s"}]}}, [cred])
    assert "s" not in {m.id for m in registry.listable({"c.json": {"claude-sonnet-4-6"}})}
