"""Model lists and model resolution through a running proxy."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY

SERVED = {"compat-model", "claude-model", "codex-model", "gemini-model"}


async def test_sdks_list_exactly_the_served_models(matrix):
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as oc:
        ids = {m.id async for m in oc.models.list()}
        assert ids == SERVED
        one = await oc.models.retrieve("claude-model")
        assert one.id == "claude-model"
        try:
            await oc.models.retrieve("nope")
            raise AssertionError("expected 404")
        except openai.NotFoundError:
            pass
    async with anthropic.AsyncAnthropic(base_url=matrix.url, api_key=KEY, max_retries=0) as ac:
        page = await ac.models.list()
        aids = {m.id for m in page.data}
        assert "claude-model" in aids and len(aids) == len(SERVED)  # others are cloaked for Claude Code
        assert all(i.startswith("claude-") for i in aids)
    gc = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=matrix.url, api_version="v1beta"))
    try:
        names = {m.name async for m in await gc.aio.models.list()}
        assert names == {f"models/{m}" for m in SERVED}
        got = await gc.aio.models.get(model="gemini-model")
        assert got.name == "models/gemini-model"
    finally:
        await gc.aio.aclose()


async def test_cloaked_claude_id_routes_back(matrix):
    async with anthropic.AsyncAnthropic(base_url=matrix.url, api_key=KEY, max_retries=0) as ac:
        page = await ac.models.list()
        cloaked = next(m.id for m in page.data if m.id != "claude-model" and "ledom-tapmoc" in m.id)
        msg = await ac.messages.create(
            model=cloaked, max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert "Hello from fake" in msg.content[0].text
    assert matrix.fakes.openai.last.json["model"] == "gpt-4o-mini"


async def test_models_of_a_removed_credential_disappear(start_proxy, fakes, tmp_path):
    from tests.e2e.conftest import matrix_config

    proxy = await start_proxy(matrix_config(fakes), watch=True)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oc:
        assert "gemini-model" in {m.id async for m in oc.models.list()}
        text = proxy.config_path.read_text()
        proxy.config_path.write_text(text[: text.index("gemini-api-key:")])
        import asyncio

        for _ in range(100):
            ids = {m.id async for m in oc.models.list()}
            if "gemini-model" not in ids:
                break
            await asyncio.sleep(0.05)
        assert ids == SERVED - {"gemini-model"}


def resolution_config(fakes) -> str:
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: pooled
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-pool"}}]
    models:
      - {{name: "up-a", alias: "pool-model"}}
      - {{name: "up-b", alias: "pool-model"}}
claude-api-key:
  - api-key: "sk-pre"
    base-url: "{fakes.claude.base_url}"
    prefix: "team"
    models: [{{name: "claude-sonnet-4-6", alias: "sonnet"}}, {{name: "claude-opus-4-1", alias: "opus"}}]
    excluded-models: ["opus*"]
"""


async def _chat(url: str, model: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": model, "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        return r.status, await r.json()


async def test_alias_pool_prefix_exclusion_auto(start_proxy, fakes):
    proxy = await start_proxy(resolution_config(fakes))
    # a pool: the same alias served by two upstream names, rotated
    for _ in range(2):
        assert (await _chat(proxy.url, "pool-model"))[0] == 200
    assert sorted(r.json["model"] for r in fakes.openai.requests) == ["up-a", "up-b"]
    # a failing pool member fails over to the next name before the next credential
    fakes.openai.clear()
    fakes.openai.fail_next(500, model="up-a")
    fakes.openai.fail_next(500, model="up-b")
    fakes.openai.clear_faults()
    fakes.openai.fail_next(503)
    status, _ = await _chat(proxy.url, "pool-model")
    assert status == 200 and len(fakes.openai.requests) == 2
    # prefix: both forms work, and the prefix never reaches the upstream
    assert (await _chat(proxy.url, "team/sonnet"))[0] == 200
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"
    assert (await _chat(proxy.url, "sonnet"))[0] == 200
    # exclusion
    status, body = await _chat(proxy.url, "opus")
    assert status == 400 and body["error"]["code"] == "model_not_found"
    # auto picks a served model
    assert (await _chat(proxy.url, "auto"))[0] == 200


async def test_thinking_suffix_reaches_the_upstream(start_proxy, fakes):
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
gemini-api-key:
  - api-key: "g1"
    base-url: "{fakes.gemini.base_url}"
claude-api-key:
  - api-key: "c1"
    base-url: "{fakes.claude.base_url}"
""")
    status, body = await _chat(proxy.url, "gemini-2.5-flash(1024)")
    assert status == 200, body
    assert fakes.gemini.last.json["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 1024
    status, body = await _chat(proxy.url, "claude-sonnet-4-6(high)")
    assert status == 200, body
    sent = fakes.claude.last.json
    assert sent["model"] == "claude-sonnet-4-6"
    assert sent["thinking"]["type"] in ("enabled", "adaptive")


async def test_payload_rules_change_the_upstream_body(start_proxy, fakes):
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k"}}]
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
payload:
  default:
    - models: [{{name: "gpt-*"}}]
      params: {{"temperature": 0.3, "top_p": 0.9}}
  override:
    - models: [{{name: "m", protocol: "openai"}}]
      params: {{"user": "proxy"}}
  filter:
    - models: [{{name: "*"}}]
      params: ["top_p"]
""")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "m", "temperature": 1.0, "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        assert r.status == 200, await r.text()
    sent = fakes.openai.last.json
    assert sent["temperature"] == 1.0  # default never overrides what the client set
    assert sent["user"] == "proxy"
    assert "top_p" not in sent
    assert json.dumps(sent)
