"""Fair per-credential concurrency through a running proxy, against the fake Claude API:
``max-concurrency`` on a credential, the queue that takes turns between client keys, a free
credential before the queue, 429s when it cannot wait, slots freed by clients that go away,
and one limit across two proxies sharing a Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from cliproxy.config import load_or_default
from cliproxy.credentials.concurrency import Gate
from tests.fakes.server import Behavior

KEY_A, KEY_B = "client-key-a", "client-key-b"


def config(fakes: Any, *, second: bool = False, extra: str = "") -> str:
    other = (
        f"""
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]"""
        if second
        else ""
    )
    return f"""
api-keys: ["{KEY_A}", "{KEY_B}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    max-concurrency: 1
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]{other}
{extra}
"""


def body(text: str, *, stream: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "claude-model",
        "max_tokens": 32,
        "messages": [{"role": "user", "content": text}],
    }
    if stream:
        out["stream"] = True
    return out


async def post(proxy: Any, key: str, text: str, *, stream: bool = False) -> tuple[int, bytes, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body(text, stream=stream), headers={"x-api-key": key}) as r,
    ):
        return r.status, await r.read(), dict(r.headers)


def prompts(fake: Any) -> list[str]:
    """The user text of each request the fake received, in order (the proxy may have turned
    a plain string into a text block)."""
    out = []
    for r in fake.requests:
        content = r.json["messages"][0]["content"]
        out.append(content if isinstance(content, str) else content[0]["text"])
    return out


async def until(check: Any, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def slow_stream(fakes: Any, seconds: float = 0.05, words: int = 30) -> None:
    """The next stream trickles: about ``words / 3 + 6`` frames ``seconds`` apart (the slot
    stays held meanwhile)."""
    fakes.claude.script(Behavior(stream_delay=seconds, text=" ".join(["word"] * words)))


async def hung_up(proxy: Any) -> None:
    """Wait until the proxy gave back the slot of a client that went away, then one more
    frame interval of the fake (0.05 s) so its handler sees the closed connection too."""
    cred = proxy.service.pool.credentials()[0]
    await until(lambda: not proxy.service.state._slots.get(cred.id))
    await asyncio.sleep(0.1)


async def test_two_keys_take_turns_for_one_credential(start_proxy, fakes):
    proxy = await start_proxy(config(fakes))
    gate = proxy.service.pipeline.concurrency
    slow_stream(fakes)
    blocker = asyncio.create_task(post(proxy, KEY_A, "blocker", stream=True))
    await until(lambda: len(fakes.claude.requests) == 1)
    fakes.claude.stream_delay = 0.005  # every queued answer is a (short) stream too
    tasks = []
    for n, (key, name) in enumerate(
        [(KEY_A, f"A{i}") for i in (1, 2, 3)] + [(KEY_B, f"B{i}") for i in (1, 2, 3)]
    ):
        tasks.append(asyncio.create_task(post(proxy, key, name, stream=True)))
        await until(lambda n=n: gate.waiting() == n + 1)
    assert prompts(fakes.claude) == ["blocker"]  # all six wait while the slow stream runs
    results = await asyncio.gather(blocker, *tasks)
    assert [r[0] for r in results] == [200] * 7
    assert prompts(fakes.claude) == ["blocker", "A1", "B1", "A2", "B2", "A3", "B3"]
    cred = proxy.service.pool.credentials()[0]
    assert await proxy.service.state.slots_in_use(cred.id) == 0


async def test_a_free_credential_is_used_before_queueing(start_proxy, fakes):
    """sk-a has its own limit; sk-b takes routing.max-concurrency's for its kind."""
    extra = "routing:\n  strategy: fill-first\n  explain: true\n  max-concurrency: {claude: 1}\n"
    proxy = await start_proxy(config(fakes, second=True, extra=extra))
    gate = proxy.service.pipeline.concurrency
    slow_stream(fakes, 0.03)
    first = asyncio.create_task(post(proxy, KEY_A, "first", stream=True))
    await until(lambda: len(fakes.claude.requests) == 1)
    slow_stream(fakes, 0.03)
    second = asyncio.create_task(post(proxy, KEY_B, "second", stream=True))  # fill-first: the busy one
    await until(lambda: len(fakes.claude.requests) == 2)
    assert gate.waiting() == 0
    keys = [r.key for r in fakes.claude.requests]
    assert sorted(keys) == ["sk-a", "sk-b"]  # the busy first choice was passed over
    third = asyncio.create_task(post(proxy, KEY_B, "third"))
    await until(lambda: gate.waiting() == 1)  # both at their limit (sk-b by its kind's default)
    assert len(fakes.claude.requests) == 2
    results = await asyncio.gather(first, second, third)
    assert [r[0] for r in results] == [200, 200, 200]
    busy = next(c for c in proxy.service.pool.credentials() if c.api_key == keys[0])
    skipped = results[1][2]["X-Cliproxy-Route-Skipped"]  # routing explain names the busy one
    assert f"{busy.index}=over-concurrency" in skipped, skipped
    assert prompts(fakes.claude)[2] == "third"
    status, _, _ = await post(proxy, KEY_B, "fourth")  # all free again: fill-first's first choice
    assert status == 200 and fakes.claude.requests[-1].key == keys[0]


async def test_a_full_queue_is_a_429_in_each_clients_shape(start_proxy, fakes):
    extra = "routing:\n  concurrency-queue: {max-length: 1, max-wait: 10s}\n"
    proxy = await start_proxy(config(fakes, extra=extra))
    gate = proxy.service.pipeline.concurrency
    slow_stream(fakes, 0.05, 600)  # ~10 s: the client hangs up once the test is done
    blocker = asyncio.create_task(post(proxy, KEY_A, "blocker", stream=True))
    await until(lambda: len(fakes.claude.requests) == 1)
    queued = asyncio.create_task(post(proxy, KEY_A, "queued"))
    await until(lambda: gate.waiting() == 1)

    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY_B, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as oa:
            await client.chat.completions.create(
                model="claude-model", messages=[{"role": "user", "content": "hi"}]
            )
    assert oa.value.status_code == 429
    assert oa.value.response.headers["Retry-After"] == "1"
    assert oa.value.body["type"] == "rate_limit_error"  # the SDK hands over the "error" object
    assert "max-concurrency" in oa.value.body["message"] and "sk-a" not in oa.value.body["message"]

    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY_B, max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError) as an:
            await client.messages.create(
                model="claude-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
    assert an.value.status_code == 429
    assert an.value.response.headers["Retry-After"] == "1"
    assert an.value.body["type"] == "error" and an.value.body["error"]["type"] == "rate_limit_error"

    blocker.cancel()  # its client goes away: the slot passes to the queued request
    assert (await queued)[0] == 200
    await hung_up(proxy)
    assert prompts(fakes.claude) == ["blocker", "queued"]  # the refused ones never went upstream


async def test_waiting_past_max_wait_is_a_429(start_proxy, fakes):
    extra = "routing:\n  concurrency-queue: {max-wait: 200ms}\n"
    proxy = await start_proxy(config(fakes, extra=extra))
    slow_stream(fakes, 0.05, 600)  # ~10 s: the client hangs up once the test is done
    blocker = asyncio.create_task(post(proxy, KEY_A, "blocker", stream=True))
    await until(lambda: len(fakes.claude.requests) == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, raw, headers = await post(proxy, KEY_B, "late")
    assert status == 429 and headers["Retry-After"] == "1"
    assert b"max-wait" in raw and b"rate_limit_error" in raw
    assert 0.19 < loop.time() - started < 1.2
    assert proxy.service.pipeline.concurrency.waiting() == 0
    blocker.cancel()  # its client goes away: the slot comes back
    await hung_up(proxy)
    assert prompts(fakes.claude) == ["blocker"]


async def test_a_client_that_goes_away_mid_stream_frees_the_slot(start_proxy, fakes):
    proxy = await start_proxy(config(fakes))
    cred = proxy.service.pool.credentials()[0]
    state = proxy.service.state
    slow_stream(fakes, 0.05, 600)  # ~10 s if nobody hung up
    async with aiohttp.ClientSession() as s:
        r = await s.post(
            proxy.url + "/v1/messages", json=body("gone", stream=True), headers={"x-api-key": KEY_A}
        )
        assert r.status == 200
        await r.content.readany()  # the first bytes, then the client hangs up
        assert await state.slots_in_use(cred.id) == 1
        r.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while await state.slots_in_use(cred.id):
        assert loop.time() < deadline, "the slot was not given back"
        await asyncio.sleep(0.01)
    status, _, _ = await post(proxy, KEY_B, "next")
    assert status == 200 and proxy.service.pipeline.concurrency.waiting() == 0
    await hung_up(proxy)


async def test_two_proxies_sharing_redis_honour_one_limit(start_proxy, fakes, redis_server):
    shared = f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'cc-e2e:'\n"
    a = await start_proxy(config(fakes, extra=shared))
    b = await start_proxy(config(fakes, extra=shared))
    slow_stream(fakes, 0.03)  # ~0.5 s
    blocker = asyncio.create_task(post(a, KEY_A, "blocker", stream=True))
    await until(lambda: len(fakes.claude.requests) == 1)
    follower = asyncio.create_task(post(b, KEY_B, "follower"))
    await until(lambda: b.service.pipeline.concurrency.waiting() == 1)  # B sees A's slot
    assert not blocker.done()
    assert prompts(fakes.claude) == ["blocker"]
    assert (await blocker)[0] == 200
    assert (await follower)[0] == 200  # B's poll finds the slot A gave back
    assert prompts(fakes.claude) == ["blocker", "follower"]
    cred = a.service.pool.credentials()[0]
    assert await a.service.state.slots_in_use(cred.id) == 0


async def test_slots_come_back_after_failover_and_errors(start_proxy, fakes):
    """Every path gives its slot back once: a failed attempt before failover, a request
    fault, a stream broken by the upstream."""
    proxy = await start_proxy(config(fakes, second=True, extra="routing:\n  max-concurrency: {claude: 1}\n"))
    state = proxy.service.state
    ids = [c.id for c in proxy.service.pool.credentials()]

    async def in_use() -> list[int]:
        return [await state.slots_in_use(cid) for cid in ids]

    fakes.claude.fail_next(500)  # whichever credential goes first
    status, _, _ = await post(proxy, KEY_A, "fails over")
    assert status == 200 and len(fakes.claude.requests) == 2  # one failed, the other answered
    assert await in_use() == [0, 0]
    fakes.claude.fail_next(400)  # the request's own fault: no failover
    status, _, _ = await post(proxy, KEY_A, "refused")
    assert status == 400 and await in_use() == [0, 0]
    fakes.claude.script(Behavior(cut_after=3))  # the upstream hangs up mid-stream
    status, _, _ = await post(proxy, KEY_A, "cut", stream=True)
    assert status == 200
    assert await in_use() == [0, 0]
    assert proxy.service.pipeline.concurrency.waiting() == 0


async def test_a_reload_takes_the_new_kind_defaults(start_proxy, fakes):
    proxy = await start_proxy(config(fakes, second=True))
    gate = proxy.service.pipeline.concurrency
    assert gate.kinds == {}
    text = proxy.config_path.read_text()  # with the test's own auth-dir
    proxy.config_path.write_text(text + "routing:\n  max-concurrency: {claude: 1, codex: 0}\n")
    proxy.service.apply(load_or_default(proxy.config_path)[0])
    assert gate.kinds == {"claude": 1}  # 0 means no default
    sk_b = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-b")
    assert Gate.limit(sk_b, gate.kinds) == 1
