"""The pipeline's attempt plans (``pipeline_prepare.AttemptPlan``): what an attempt at
one credential on one route needs (provider, proxy, upstream names, force-mapping,
is-compat, upstream format, shaping) is decided at the credential's first attempt, kept
on the registry's route for the next requests, and decided again when what it depends on
changes: a config reload (names, force-mapping, payload rules), a credential added or
removed, a refreshed token (a new credential object).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth


async def _chat(proxy: Any, model: str = "m") -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def _reloaded(proxy: Any, text: str) -> None:
    reloads = proxy.service.reloads
    proxy.config_path.write_text(f"auth-dir: {proxy.service.config.auth_dir}\n" + text)
    for _ in range(300):
        if proxy.service.reloads > reloads:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the config reload was not seen")


def _compat(
    fakes: Any, upstream: str = "gpt-4o-mini", keys: tuple[str, ...] = ("k-a",), payload: str = ""
) -> str:
    entries = ", ".join(f'{{api-key: "{k}"}}' for k in keys)
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{entries}]
    models: [{{name: "{upstream}", alias: "m"}}]
{payload}"""


def _plans(proxy: Any, model: str = "m") -> dict[str, Any]:
    plans: dict[str, Any] = proxy.service.models.resolve(model).plans
    return plans


async def test_a_plan_is_kept_between_requests(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes))
    await _chat(proxy)
    (plan,) = _plans(proxy).values()
    await _chat(proxy)
    assert list(_plans(proxy).values()) == [plan]  # the same plan served the second request
    assert fakes.openai.last.json["model"] == "gpt-4o-mini"


async def test_a_reload_that_renames_the_upstream_model_is_followed(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes), watch=True)
    await _chat(proxy)
    assert fakes.openai.last.json["model"] == "gpt-4o-mini"
    await _reloaded(proxy, _compat(fakes, upstream="gpt-4.1-nano"))
    await _chat(proxy)
    assert fakes.openai.last.json["model"] == "gpt-4.1-nano"  # the plan of the old name is gone


async def test_credentials_added_and_removed_by_a_reload_are_followed(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes), watch=True)
    await _chat(proxy)
    assert fakes.openai.last.key == "k-a"
    await _reloaded(proxy, _compat(fakes, keys=("k-a", "k-b")))
    fakes.openai.clear()
    for _ in range(4):
        await _chat(proxy)
    assert sorted({r.key for r in fakes.openai.requests}) == ["k-a", "k-b"]  # the new key serves too
    await _reloaded(proxy, _compat(fakes, keys=("k-b",)))
    fakes.openai.clear()
    for _ in range(3):
        await _chat(proxy)
    assert {r.key for r in fakes.openai.requests} == {"k-b"}  # the removed key's plan serves nobody


async def test_a_reload_of_payload_rules_reaches_the_next_request(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes), watch=True)
    await _chat(proxy)
    assert "user" not in fakes.openai.last.json
    rules = """payload:
  override:
    - models: [{name: "m", protocol: "openai"}]
      params: {"user": "proxy"}
"""
    await _reloaded(proxy, _compat(fakes, payload=rules))
    await _chat(proxy)
    assert fakes.openai.last.json["user"] == "proxy"  # the plan's shaping is the new config's
    await _reloaded(proxy, _compat(fakes))
    await _chat(proxy)
    assert "user" not in fakes.openai.last.json


def _aliases(force: bool) -> str:
    return f"""
api-keys: ["{KEY}"]
oauth-model-alias:
  claude:
    - name: "claude-sonnet-4-6"
      alias: "sonnet-fast"
      force-mapping: {"true" if force else "false"}
"""


async def test_a_reload_that_turns_force_mapping_on_is_followed(start_proxy, fakes, tmp_path):
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(_aliases(False), watch=True)
    assert (await _chat(proxy, "sonnet-fast"))["model"] != "sonnet-fast"
    await _reloaded(proxy, _aliases(True))
    assert (await _chat(proxy, "sonnet-fast"))["model"] == "sonnet-fast"
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"


async def test_a_new_credential_object_gets_a_new_plan(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes))
    await _chat(proxy)
    (plan,) = _plans(proxy).values()
    pool = proxy.service.pool
    pool.replace([_copy(c) for c in pool.credentials()])  # as a token refresh hands back a new object
    await _chat(proxy)
    (again,) = _plans(proxy).values()
    assert again is not plan and again.cred is pool.credentials()[0]


def _copy(cred: Any) -> Any:
    from dataclasses import replace

    return replace(cred)
