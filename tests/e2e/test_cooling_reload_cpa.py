"""A reload that turns ``disable-cooling`` on brings cooled credentials back at once."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from cliproxy.config import load_or_default
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config


async def _cooling(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


async def test_a_reload_turning_cooling_off_lifts_the_cooldowns(start_proxy, fakes) -> None:
    """CPA: TestManagerSetConfigSnapshotDefersCooldownPersistence (a config with
    DisableCooling clears the cooldown state it would not have set). A 429 cools the
    compatible upstream's credential; a config reload with ``disable-cooling: true`` lifts
    that cooldown (before, it kept the credential out until it ran out) and the next request
    is served."""
    proxy = await start_proxy(matrix_config(fakes))
    client = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)
    chat = {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]}
    fakes.openai.fail_next(429, retry_after=600)  # ten minutes out
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(**chat)  # type: ignore[call-overload]
    assert await _cooling(proxy) != []

    proxy.config_path.write_text(matrix_config(fakes, "disable-cooling: true"))
    config, _ = load_or_default(proxy.config_path)
    proxy.service.apply(config)
    async with asyncio.timeout(2):
        while await _cooling(proxy):
            await asyncio.sleep(0.01)
    answer = await client.chat.completions.create(**chat)  # type: ignore[call-overload]
    assert answer.choices[0].message.content
    await client.close()
