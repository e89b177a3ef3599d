"""The short way for a whole generation (``cliproxy.pipeline_lane``) against the general
path (``Pipeline.execute``): a case where the two differed, each shown through the running
proxy with the general path's answer beside the lane's (the same request streamed, which
never takes the lane).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_plugin_oauth_alias_cpa import SAMPLE_PLUGIN

MODEL = "lane-model"


async def _chat(proxy: Any, *, stream: bool) -> str:
    """The answer's text; an error status raises (the SDK's ``APIStatusError``)."""
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0) as client:
        kwargs: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        if not stream:
            answer = await client.chat.completions.create(**kwargs)
            return answer.choices[0].message.content or ""
        async with client.chat.completions.stream(**kwargs) as s:
            final = await s.get_final_completion()
            return final.choices[0].message.content or ""


async def test_a_credential_no_provider_serves_is_passed_over_as_by_execute(start_proxy, fakes, tmp_path):
    """An auth file whose type names an ``openai-compatibility`` entry but that has no
    ``base_url`` of its own serves the entry's models, yet no provider may send it (never
    OpenAI's default endpoint: ``providers.registry``). ``execute`` passes over it to the
    next credential; the lane made its plan before its try, so every request the rotation
    gave that file answered 503 "credentials of type 'up' name no base_url" (half of them,
    in round-robin), where the same request streamed was answered."""
    auths: Path = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "up-file.json").write_text(json.dumps({"type": "up", "api_key": "k-file"}))
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
routing: {{strategy: round-robin}}
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-4o-mini", alias: "{MODEL}"}}]
"""
    )
    assert len(proxy.service.pool.credentials()) == 2  # the entry's key and the file
    for stream in (True, True, False, False, False, False):  # the general way, then the lane's
        assert await _chat(proxy, stream=stream)
    assert [r.key for r in fakes.openai.requests] == ["k1"] * 6  # the file's is never sent


async def test_a_fused_plugins_credential_fails_and_cools_as_in_execute(start_proxy, fakes, tmp_path):
    """A plugin executor's credential outlives its plugin's fuse (a crash takes the plugin
    out of the snapshot, not its credentials out of the pool), and with no plugin active a
    whole request takes the lane. ``execute`` gives such a credential to
    ``plugin_credential``: a 503 "plugin sample is not active" that cools it, so the next
    request is refused by the proxy (429, every credential cooling) without asking anyone.
    The lane asked no provider serves it for a plan instead: each whole request answered
    503 "no provider serves credentials of type 'sample-provider'", and nothing cooled."""
    auths: Path = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": SAMPLE_PLUGIN}, {"sample": {}}, base=False)
    host = proxy.service.plugins
    host.fuse(host.records["sample"], "execute", RuntimeError("the plugin died"))  # as a crash does
    assert host.snapshot == () and [c.id for c in proxy.service.pool.credentials()] == ["sample.json"]
    seen = []
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(openai.APIStatusError) as info:
                await client.chat.completions.create(
                    model="sample-model-latest", messages=[{"role": "user", "content": "x"}]
                )
            seen.append((info.value.status_code, info.value.response.json()["error"]["message"]))
    assert seen[0] == (503, "plugin sample is not active")
    assert seen[1][0] == 429 and "cooling down" in seen[1][1]
