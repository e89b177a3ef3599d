"""A stream's result is marked when it ends, not when it opens, as CPA's
``wrapStreamResult`` (sdk/cliproxy/auth/conductor_stream.go) records a stream's success
after its last chunk and its failure at its first error chunk; and in an alias pool the
upstream name that failed is what cools (CPA ``stateModelForExecution``: a pooled
execution's state model is the upstream model).

Before, the success was recorded as soon as the stream opened: a stream that then failed
had already cleared its credential's back-off (so repeated late quota failures never
climbed the ladder), and a late failure in a pool cooled the alias for the whole key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

ALIAS = "claude-opus-4.66"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def compat(base_url: str) -> str:
    return (
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n    base-url: "{base_url}/v1"\n'
        '    api-key-entries: [{api-key: "k1"}]\n    models: [{name: "up-model", alias: "compat-model"}]\n'
    )


def pool(base_url: str) -> str:
    return (
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: pool\n    base-url: "{base_url}/v1"\n'
        '    api-key-entries: [{api-key: "k1"}]\n    models:\n'
        f'      - {{name: "deepseek-v3.1", alias: "{ALIAS}"}}\n      - {{name: "glm-5", alias: "{ALIAS}"}}\n'
    )


async def chat(proxy: Any, model: str) -> tuple[str, Exception | None]:
    """A streamed chat completion's text and the error that ended it (if one did)."""
    text = ""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            async for chunk in await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
        except openai.APIError as exc:
            return text, exc
    return text, None


async def spent_quota(proxy: Any, model: str) -> Any:
    """The only key with a 429 back-off whose wait is over: available, its record kept."""
    pool = proxy.service.pool
    [cred] = pool.credentials()
    await pool.mark_failure(cred, model, 429, now=time.time() - 3600)
    record = await pool.state.get_cooldown(cred.id, model)
    assert record is not None and record.backoff_level == 1 and not record.blocks(time.time())
    return cred


async def test_a_whole_stream_clears_the_backoff_when_it_ends(start_proxy, fake_openai) -> None:
    """CPA wrapStreamResult: the success is recorded after the stream's last chunk. The
    key's spent 429 back-off is still there while the client reads the answer's first
    chunk, and gone once the stream ended (openai SDK, a Chat pass-through)."""
    proxy = await start_proxy(compat(fake_openai.base_url))
    cred = await spent_quota(proxy, "compat-model")
    state = proxy.service.pool.state
    fake_openai.script(Behavior(stream_delay=0.05))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(model="compat-model", messages=MESSAGES, stream=True)
        first = await stream.__anext__()
        assert first.choices
        assert await state.get_cooldown(cred.id, "compat-model") is not None  # open: nothing marked yet
        async for _ in stream:
            pass
    for _ in range(50):  # (the proxy marks it as its side of the stream ends)
        if await state.get_cooldown(cred.id, "compat-model") is None:
            break
        await asyncio.sleep(0.01)
    assert await state.get_cooldown(cred.id, "compat-model") is None


async def test_a_late_quota_failure_climbs_the_backoff(start_proxy, fake_openai) -> None:
    """TestExecuteStream_UnbufferedOverload_StaysCommittedStream's bookkeeping: the stream
    opened, then failed with a 429 in-band, and no success was recorded in between, so the
    key's quota back-off goes up a step (level 1 -> 2), as CPA's failure after a failure
    does. Before, the stream's opening cleared the record and the ladder restarted at 1."""
    proxy = await start_proxy(compat(fake_openai.base_url))
    cred = await spent_quota(proxy, "compat-model")
    fake_openai.stream_error_next("429", after=2)
    text, err = await chat(proxy, "compat-model")
    assert text and isinstance(err, openai.APIError)
    record = await proxy.service.pool.state.get_cooldown(cred.id, "compat-model")
    assert record is not None and record.backoff_level == 2 and record.blocks(time.time())


async def test_a_pool_name_that_fails_late_cools_alone(start_proxy, fake_openai) -> None:
    """An alias pool's first upstream name fails after its stream began (an in-band 500):
    the client gets the start of the answer and the error, and that name cools for the key,
    not the alias (CPA stateModelForExecution), so the next requests go to the other name
    on the same key. Before, the alias cooled and the key served no request for it."""
    proxy = await start_proxy(pool(fake_openai.base_url))
    fake_openai.stream_error_next("server_error", after=2)
    text, err = await chat(proxy, ALIAS)
    assert text and isinstance(err, openai.APIError)
    [[record]] = [await proxy.service.pool.cooldowns(c) for c in proxy.service.pool.credentials()]
    assert record.model == "deepseek-v3.1"
    for _ in range(2):
        text, err = await chat(proxy, ALIAS)
        assert err is None and text
    assert [r.json["model"] for r in fake_openai.requests] == ["deepseek-v3.1", "glm-5", "glm-5"]


async def test_a_pool_whose_every_name_failed_late_rests_the_key(start_proxy, fake_openai) -> None:
    """Both names of the pool fail after their streams began, one request each: the second
    failure leaves no name free, so the alias cools for the key (CPA filters out a
    credential whose every pooled model is suspended) and a third request is not sent to a
    name that is still cooling; the client is told no key is free."""
    proxy = await start_proxy(pool(fake_openai.base_url))
    for _ in range(2):
        fake_openai.stream_error_next("server_error", after=2)
        text, err = await chat(proxy, ALIAS)
        assert text and isinstance(err, openai.APIError)
    [records] = [await proxy.service.pool.cooldowns(c) for c in proxy.service.pool.credentials()]
    assert sorted(r.model for r in records) == sorted([ALIAS, "deepseek-v3.1"])
    text, err = await chat(proxy, ALIAS)
    assert isinstance(err, openai.APIStatusError) and not text
    assert [r.json["model"] for r in fake_openai.requests] == ["deepseek-v3.1", "glm-5"]
