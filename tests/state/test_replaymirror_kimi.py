"""Kimi's thinking replay (its Anthropic-compatible path) shared by two workers on one real
Redis: Claude Code switching K3 variants sends the assistant turn without its thinking and
the proxy puts the cached content back (tests/e2e/test_thinking_kimi_replay.py), whichever
worker recorded it; a refusal on one worker takes the restored content out of the others.

Before, the cache was per process: the turn on B went to Kimi without its reasoning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_claude_kimi import kimi
from tests.e2e.test_shared_state import shared
from tests.e2e.test_thinking_kimi_replay import FIRST, content_of, post, without_thinking
from tests.fakes.server import Behavior
from tests.state.test_replaymirror_compat import settled


def cache_of(proxy: Any) -> Any:
    return proxy.service.providers.get("kimi").replay


@pytest.fixture
async def pair(start_proxy: Any, fake_claude: Any, redis_server: Any, tmp_path: Path) -> tuple[Any, Any]:
    kimi(fake_claude, tmp_path)
    text = f'api-keys: ["{KEY}"]\n' + shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    a.fake = b.fake = fake_claude
    return a, b


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_next_turn_on_another_worker_gets_the_reasoning_back(pair: Any, stream: bool) -> None:
    a, b = pair
    status, raw = await post(a, "kimi-k3", FIRST, stream)
    assert status == 200, raw
    content = content_of(raw, stream)
    assert content[0]["type"] == "thinking"
    await settled(lambda: cache_of(b).size > 0)
    status, raw = await post(b, "kimi-k3-256k", without_thinking(content), stream)
    assert status == 200, raw
    sent = b.fake.last.json["messages"][1]["content"]
    assert sent[0] == content[0], sent


async def test_a_refusal_on_one_worker_takes_the_reasoning_out_of_the_others(pair: Any) -> None:
    """CPA ``shouldClearKimiThinkingReplayAfterError``: a 400 to a request that carried the
    restored content clears it; B, which held the same entry, clears it too."""
    a, b = pair
    status, raw = await post(a, "kimi-k3", FIRST, False)
    assert status == 200, raw
    content = content_of(raw, False)
    assert await settled(lambda: cache_of(b).size > 0), "B never received A's entry"
    a.fake.script(Behavior(status=400, message="refused the restored content"))
    status, raw = await post(a, "kimi-k3-256k", without_thinking(content), False)
    assert status == 400, raw
    assert a.fake.last.json["messages"][1]["content"][0] == content[0]  # it was restored on A
    assert await settled(lambda: cache_of(b).size == 0), "B kept the refused content"
    status, raw = await post(b, "kimi-k3-256k", without_thinking(content), False)
    assert status == 200, raw
    assert b.fake.last.json["messages"][1]["content"][0]["type"] == "tool_use"  # not put back
