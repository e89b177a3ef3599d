"""The Claude-compatible thinking replay (an is-compat Claude key) shared by two workers on
one real Redis: Claude Code leaves a third party's signed thinking out of its next request,
and the gateway refuses a tool continuation without it (400 "Expected thinking"). A tool
loop whose turns land on different workers gets it back on each, and a refusal on one
worker takes the restored content out of the others too.

Before, the cache was per process: the continuation on B restored nothing and got the
gateway's 400 (and a third step back on A missed B's turn)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_review_compat_replay_agents import _post
from tests.e2e.test_review_compat_replay_loop import _bare, _result
from tests.e2e.test_shared_state import shared
from tests.e2e.test_thinking_kimi_replay import FIRST, content_of, without_thinking
from tests.fakes.server import Behavior

SESSION = {"x-claude-code-session-id": "mirror-session"}


async def settled(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Whether ``check`` holds within ``seconds`` (a change reaches the others off the
    request path, through the notification channel)."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


def cache_of(proxy: Any) -> Any:
    return proxy.service.providers.get("claude").compat_replay


@pytest.fixture
async def pair(start_proxy: Any, fake_claude: Any, redis_server: Any) -> tuple[Any, Any]:
    text = (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-claude-replay"\n'
        f'    base-url: "{fake_claude.base_url}"\n    models:\n'
        '      - {name: "claude-sonnet-4-6", alias: "synthetic-compat", is-compat: true}\n'
    ) + shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    a.fake = b.fake = fake_claude
    return a, b


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_continuation_on_another_worker_gets_the_thinking_back(pair: Any, stream: bool) -> None:
    a, b = pair
    status, raw = await _post(a, FIRST, stream, SESSION)
    assert status == 200, raw
    first = content_of(raw, stream)
    assert first[0]["type"] == "thinking"
    await settled(lambda: cache_of(b).size > 0)
    status, raw = await _post(b, without_thinking(first), stream, SESSION)
    sent = b.fake.last.json["messages"][1]["content"]
    assert sent[0] == first[0], sent
    assert status == 200, raw


async def test_each_step_of_a_loop_alternating_workers_is_put_back(pair: Any) -> None:
    """A, B, A: the third request (on A) needs the thinking of both steps, the second of
    which B recorded; A's own copy held the first step only."""
    a, b = pair
    status, raw = await _post(a, FIRST, False, SESSION)
    assert status == 200, raw
    first = content_of(raw, False)
    step2 = [
        {"type": "thinking", "thinking": "a second step", "signature": first[0]["signature"]},
        {"type": "tool_use", "id": "toolu_second_step", "name": "bash", "input": {"command": "echo 2"}},
    ]
    answer = {
        "id": "msg_second",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": step2,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    a.fake.script(Behavior(status=200, body=answer))
    await settled(lambda: cache_of(b).size > 0)
    loop = [*FIRST, {"role": "assistant", "content": _bare(first)}, _result(first, "one")]
    status, raw = await _post(b, loop, False, SESSION)
    assert status == 200, raw
    second = content_of(raw, False)
    size = cache_of(b).size
    await settled(lambda: cache_of(a).size == size)
    loop += [{"role": "assistant", "content": _bare(second)}, _result(second, "two")]
    status, raw = await _post(a, loop, False, SESSION)
    sent = a.fake.last.json["messages"]
    assert sent[1]["content"][0] == first[0] and sent[3]["content"][0] == second[0], sent
    assert status == 200, raw


async def test_a_refusal_on_one_worker_takes_the_content_out_of_the_others(pair: Any) -> None:
    """CPA drops restored content the upstream refused (400/422) so no retry carries it
    again; with two workers B must drop its copy too."""
    a, b = pair
    status, raw = await _post(a, FIRST, False, SESSION)
    assert status == 200, raw
    first = content_of(raw, False)
    assert await settled(lambda: cache_of(b).size > 0), "B never received A's entry"
    a.fake.script(Behavior(status=400, message="refused the restored content"))
    status, raw = await _post(a, without_thinking(first), False, SESSION)
    assert status == 400, raw
    assert a.fake.last.json["messages"][1]["content"][0] == first[0]  # it was restored on A
    assert await settled(lambda: cache_of(b).size == 0), "B kept the refused content"
    await _post(b, without_thinking(first), False, SESSION)
    assert b.fake.last.json["messages"][1]["content"][0]["type"] == "tool_use"  # not put back
