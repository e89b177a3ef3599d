"""A client key's policy (disabled, expiry, models, rate) holds on every route that spends
an upstream credential, the Codex Alpha Search route and video polls included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_codex_alpha_search import post, searches, write_codex
from tests.fakes.xai_media import XAIMediaFake


async def _proxy(start_proxy: Any, fake: Any, tmp_path: Path) -> Any:
    write_codex(tmp_path, fake, "solo")
    keys = (
        '  - {key: "sk-off", disabled: true}\n'
        '  - {key: "sk-old", expires-at: 2020-01-01}\n'
        '  - {key: "sk-claude", models: ["claude-*"]}\n'
        '  - {key: "sk-once", rpm: 1}\n'
        '  - {key: "sk-gpt", models: ["gpt-5*"]}\n'
    )
    return await start_proxy("api-keys:\n" + keys)


async def test_alpha_search_obeys_the_key_policy(start_proxy, fake_responses, tmp_path):
    """Before, POST /v1/alpha/search went to the Codex route before the key's policy was
    looked at: a disabled or expired key, a key limited to other models, or one past its
    rpm could still search on the proxy's Codex accounts. Now a search is admitted like any
    request: 403 key_disabled / key_expired / model_not_allowed (the model the search names;
    a search naming none is refused to a key limited to some models), 429 past the rpm;
    a key allowed the model it names searches."""
    proxy = await _proxy(start_proxy, fake_responses, tmp_path)
    body = {"query": "q", "model": "gpt-5.4"}
    for key, status, code in [
        ("sk-off", 403, "key_disabled"),
        ("sk-old", 403, "key_expired"),
        ("sk-claude", 403, "model_not_allowed"),
    ]:
        got, answer, _ = await post(proxy.url, body, {"Authorization": f"Bearer {key}"})
        assert (got, answer["error"]["code"]) == (status, code), answer
    got, answer, _ = await post(proxy.url, {"query": "q"}, {"Authorization": "Bearer sk-gpt"})
    assert (got, answer["error"]["code"]) == (403, "model_not_allowed"), answer
    assert searches(fake_responses) == []
    got, answer, _ = await post(proxy.url, body, {"Authorization": "Bearer sk-gpt"})
    assert got == 200, answer
    once = {"Authorization": "Bearer sk-once"}
    assert (await post(proxy.url, body, once))[0] == 200
    assert (await post(proxy.url, body, once))[0] == 429
    assert len(searches(fake_responses)) == 2


async def test_video_polls_obey_the_key_policy(start_proxy):
    """A video's polls and download go to the credential that made it (CPA's video auth
    binding), past the pipeline's admission: before, a disabled or expired key, or one
    limited to other models, could poll and download any video it knew the id of. Now they
    are admitted like the create: 403 for those keys, 200 for a key allowed the model."""
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        keys = (
            f'  - "{KEY}"\n'
            '  - {key: "sk-off", disabled: true}\n'
            '  - {key: "sk-claude", models: ["claude-*"]}\n'
            '  - {key: "sk-video", models: ["grok-imagine-*"]}\n'
        )
        xai = f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake.base_url}/v1"\n'
        proxy = await start_proxy("api-keys:\n" + keys + xai)
        async with aiohttp.ClientSession() as s:
            made = {"model": "grok-imagine-video", "prompt": "a wave"}
            async with s.post(proxy.url + "/openai/v1/videos", json=made, headers=_auth(KEY)) as r:
                video = (await r.json())["id"]
            for path in (
                f"/openai/v1/videos/{video}",
                f"/openai/v1/videos/{video}/content",
                f"/v1/videos/{video}",
            ):
                for key, status in (("sk-off", 403), ("sk-claude", 403), ("sk-video", 200)):
                    async with s.get(proxy.url + path, headers=_auth(key)) as r:
                        assert r.status == status, (path, key, await r.text())


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
