"""A budget restored at a restart (memory backend) leaves the rate limits alone: the period's
spend counts against the budget, not as tokens used this minute."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.server import Behavior
from tests.policies.conftest import chat_body, policy_config


async def _chat(proxy: Any) -> Any:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-b", max_retries=0) as client:
        return await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hi"}]
        )


async def test_a_budget_restored_at_a_restart_leaves_the_tokens_per_minute_alone(start_proxy, fakes):
    keys = '  - {key: "sk-b", tpm: 1000, budget: {tokens: 100000, period: month}}'
    proxy = await start_proxy(policy_config(fakes, keys))
    fakes.openai.script(Behavior(status=200, body=chat_body(800, 400), times=None))
    await _chat(proxy)
    await proxy.close()  # the ledger has the row; a minute later the bucket would be full again
    again = await start_proxy(policy_config(fakes, keys))
    # the 1,200 tokens restored count against the budget, not as tokens used this minute (the
    # bucket was charged them at once: refused for 72 s, after every restart)
    answer: Any = await _chat(again)
    assert answer.choices[0].message.content == "ok"
    with pytest.raises(openai.RateLimitError):  # its own 1,200 tokens now fill the minute
        await _chat(again)
