"""CPA's DisallowFreeAuth for the Images API (scheduler_test.go
TestManager_PickNextMixed_DisallowFreeAuthSkipsCodexFreePlan and
TestManagerWeightedRoundRobinDisallowFreeAuthIgnoresFreeWeight; the handlers in
sdk/api/handlers/openai/openai_images_handlers.go mark every Codex image request so) through
a running proxy: an Images API request never goes to a ChatGPT account on the free plan,
which cannot make images; other requests still may."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson

from tests.e2e.clients import KEY
from tests.fakes.oauth import fake_jwt


def write_codex(tmp_path: Path, fake: Any, name: str, plan: str, weight: int = 1) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    claims = {"https://api.openai.com/auth": {"chatgpt_plan_type": plan, "chatgpt_account_id": name}}
    (auth_dir / f"{name}.json").write_bytes(
        orjson.dumps(
            {
                "type": "codex",
                "access_token": f"token-{name}",
                "refresh_token": f"refresh-{name}",
                "account_id": name,
                "email": f"{name}@example.com",
                "expired": "2099-01-01T00:00:00Z",
                "id_token": fake_jwt(claims),
                "weight": weight,
                "base_url": fake.base_url + "/backend-api/codex",
            }
        )
    )


async def generate(url: str, n: int) -> list[int]:
    statuses = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        for _ in range(n):
            body = {"model": "gpt-image-2", "prompt": "a green square"}
            async with s.post(url + "/v1/images/generations", json=body, headers={"x-api-key": KEY}) as r:
                statuses.append(r.status)
    return statuses


def image_keys(fake: Any) -> list[str | None]:
    return [r.key for r in fake.requests if r.path.endswith("/images/generations")]


async def test_images_skip_a_free_plan_account(start_proxy: Any, fake_responses: Any, tmp_path: Path) -> None:
    """TestManager_PickNextMixed_DisallowFreeAuthSkipsCodexFreePlan: of a free and a plus
    account, every image request goes to the plus one (round-robin would alternate); a
    Responses request still reaches the free one in its turn."""
    write_codex(tmp_path, fake_responses, "a-free", "free")
    write_codex(tmp_path, fake_responses, "b-plus", "plus")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    assert await generate(proxy.url, 4) == [200] * 4
    assert image_keys(fake_responses) == ["token-b-plus"] * 4
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        for text in ("one", "two"):
            await client.responses.create(model="gpt-5.4-mini", input=text)
    others = [r.key for r in fake_responses.requests if r.path.endswith("/responses")]
    assert sorted(others) == ["token-a-free", "token-b-plus"]


async def test_weighted_images_ignore_the_free_accounts_weight(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestManagerWeightedRoundRobinDisallowFreeAuthIgnoresFreeWeight (single provider): a
    free account of weight 100 gets no image request; the paid ones share 5:1."""
    write_codex(tmp_path, fake_responses, "free-high", "free", weight=100)
    write_codex(tmp_path, fake_responses, "paid-heavy", "plus", weight=5)
    write_codex(tmp_path, fake_responses, "paid-light", "plus", weight=1)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  strategy: weighted-round-robin\n')
    assert await generate(proxy.url, 12) == [200] * 12
    assert Counter(image_keys(fake_responses)) == {"token-paid-heavy": 10, "token-paid-light": 2}


async def test_images_with_only_free_accounts_are_refused(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """With only a free account, no image request goes upstream: CPA's pick finds no
    eligible credential and the client gets an error, not a free account's refusal."""
    write_codex(tmp_path, fake_responses, "a-free", "free")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    statuses = await generate(proxy.url, 1)
    assert statuses[0] >= 400
    assert image_keys(fake_responses) == []
