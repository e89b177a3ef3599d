"""The short way for a whole pass-through generation (``cliproxy.pipeline_lane``).

What it must keep: a plain request never reaches ``Pipeline.execute``; a request it does
not cover reaches it with the credential the lane already picked (a second pick would
turn the rotation twice: with two keys in round-robin every request would go to the same
one); a failed attempt reaches it with its error and goes on as one of ``execute``'s own
(the next credential answers, the failed one cools, a request fault goes to the client).
``execute`` is observed, not replaced: the spy passes every call on.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY

MODEL = "lane-model"


def _compat(fakes: Any, extra: str = "", model_extra: str = "", key_extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
routing: {{strategy: round-robin}}
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k1"{key_extra}}}, {{api-key: "k2"{key_extra}}}]
    models: [{{name: "gpt-4o-mini", alias: "{MODEL}"{model_extra}}}]
{extra}"""


def _claude(fakes: Any) -> str:
    keys = "\n".join(
        f"""  - api-key: "{k}"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "{MODEL}"}}]"""
        for k in ("sk-a", "sk-b")
    )
    return f"""
api-keys: ["{KEY}"]
routing: {{strategy: round-robin}}
claude-api-key:
{keys}
"""


def _spy(proxy: Any) -> list[Any]:
    """What each call of ``Pipeline.execute`` was given as ``first`` (the call goes on)."""
    pipe = proxy.service.pipeline
    real = pipe.execute
    seen: list[Any] = []

    async def execute(call: Any, route: Any, flow: Any = None, first: Any = None) -> Any:
        seen.append(None if first is None else (first[0].api_key, first[1]))
        return await real(call, route, flow, first)

    pipe.execute = execute
    return seen


async def _chat(proxy: Any, *, stream: bool = False) -> Any:
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0) as client:
        kwargs: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        if not stream:
            return await client.chat.completions.create(**kwargs)
        async with client.chat.completions.stream(**kwargs) as s:
            return await s.get_final_completion()


def _keys(fake: Any) -> list[str]:
    return [r.key or "" for r in fake.requests]


def _alternate(keys: list[str]) -> bool:
    """Two keys taking turns (the rotation may start at either: its cursor outlives a proxy)."""
    return len(set(keys[:2])) == 2 and keys == keys[:2] * (len(keys) // 2)


async def test_a_plain_whole_generation_never_reaches_execute(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes))
    seen = _spy(proxy)
    for _ in range(4):
        answer = await _chat(proxy)
        assert answer.choices[0].message.content and answer.usage is not None
    assert _alternate(_keys(fakes.openai)) and seen == []
    await _chat(proxy, stream=True)  # a stream: the general way, picking for itself
    assert seen == [None]


async def test_a_claude_client_on_claude_keys_takes_the_lane(start_proxy, fakes):
    proxy = await start_proxy(_claude(fakes))
    seen = _spy(proxy)
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            async with s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r:
                assert r.status == 200 and (await r.json())["type"] == "message"
    assert _alternate(_keys(fakes.claude)) and seen == []


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"model_extra": ", force-mapping: true"}, id="force-mapped"),
        pytest.param({"key_extra": ", max-concurrency: 2"}, id="max-concurrency"),
    ],
)
async def test_what_the_lane_leaves_keeps_its_pick(start_proxy, fakes, config):
    proxy = await start_proxy(_compat(fakes, **config))
    seen = _spy(proxy)
    for _ in range(4):
        await _chat(proxy)
    # one pick a request: a second would give every request the same key
    keys = _keys(fakes.openai)
    assert _alternate(keys) and len(keys) == 4
    assert seen == [(key, None) for key in keys]  # execute got the lane's pick, and used it


async def test_a_translated_whole_generation_takes_the_lane_too(start_proxy, fakes):
    proxy = await start_proxy(_claude(fakes))  # a Chat client on Claude keys: translated both ways
    seen = _spy(proxy)
    for _ in range(2):
        answer = await _chat(proxy)
        assert answer.choices[0].message.content and answer.usage is not None and answer.usage.total_tokens
    assert _alternate(_keys(fakes.claude)) and seen == []
    assert fakes.claude.last.path == "/v1/messages" and "max_tokens" in fakes.claude.last.json


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(429, None, id="quota"),
        pytest.param(503, None, id="unavailable"),
        pytest.param(200, b"<html>maintenance</html>", id="200-not-json"),
    ],
)
async def test_a_failed_lane_attempt_goes_on_as_executes_own(start_proxy, fakes, status, body):
    proxy = await start_proxy(_compat(fakes))
    seen = _spy(proxy)
    fakes.openai.fail_next(status, body=body, retry_after=60 if status == 429 else None)
    answer = await _chat(proxy)  # the first key fails, the other answers: the client sees none of it
    assert answer.choices[0].message.content
    failed, other = keys = _keys(fakes.openai)
    assert failed != other and sorted(keys) == ["k1", "k2"]
    assert len(seen) == 1 and seen[0][0] == failed and seen[0][1].status == (502 if status == 200 else status)
    fakes.openai.clear()
    await _chat(proxy)
    await _chat(proxy)
    assert _keys(fakes.openai) == [other, other]  # the failed key cools, as after execute's own failure


async def test_a_request_fault_goes_to_the_client_from_the_lane_attempt(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes))
    seen = _spy(proxy)
    fakes.openai.fail_next(400, message="messages: malformed")
    with pytest.raises(openai.BadRequestError) as info:
        await _chat(proxy)
    assert "messages: malformed" in str(info.value)
    assert len(_keys(fakes.openai)) == 1  # not the next key's to fix
    assert len(seen) == 1 and seen[0][1].status == 400


async def test_every_key_failing_ends_as_executes_rounds_do(start_proxy, fakes):
    proxy = await start_proxy(_compat(fakes, extra="request-retry: 1\nmax-retry-interval: 0\n"))
    fakes.openai.fail_next(500, times=None)
    with pytest.raises(openai.InternalServerError):
        await _chat(proxy)
    # round one: k1 (the lane's) and k2; a second round waits for no cooldown (interval 0)
    assert sorted(_keys(fakes.openai)) == ["k1", "k2"]
    fakes.openai.clear_faults()
    fakes.openai.clear()
    with pytest.raises(openai.APIStatusError) as info:  # both cool now: nothing is asked
        await _chat(proxy)
    assert info.value.status_code in (429, 503) and _keys(fakes.openai) == []


async def test_a_key_with_a_policy_takes_the_lane_and_is_charged(start_proxy, fakes):
    """A client key with a policy (admitted, then charged what it used) gets the lane too,
    and its rate limit still holds: the second request in the minute is refused."""
    config = _compat(fakes).replace(f'api-keys: ["{KEY}"]', 'api-keys:\n  - {key: "sk-ruled", rpm: 1}')
    proxy = await start_proxy(config)
    seen = _spy(proxy)
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key="sk-ruled", max_retries=0) as client:
        messages: Any = [{"role": "user", "content": "hi"}]
        answer = await client.chat.completions.create(model=MODEL, messages=messages)
        assert answer.choices[0].message.content
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model=MODEL, messages=messages)
    assert len(fakes.openai.requests) == 1 and seen == []
