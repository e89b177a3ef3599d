"""What the request hot path decides once and keeps, and what makes it decide again.

The pool skips its cooldown reads while the memory backend holds no cooldown record and
advances round-robin without a coroutine; the shaper keeps per-route thinking decisions
until the model registry's next generation (a credential or config reload). Each test
here changes what a kept decision depends on and checks the next request follows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from cliproxy.formats import Format
from cliproxy.models.catalog import Catalog
from cliproxy.models.registry import ModelRegistry
from cliproxy.models.shaping import Shaper
from tests.e2e.clients import KEY
from tests.models.conftest import build, oauth

HAIKU = "claude-3-5-haiku-20241022"  # a catalog model that does not think
MSG = {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def _two_keys(fakes: Any, strategy: str = "round-robin") -> str:
    return f"""
api-keys: ["{KEY}"]
routing:
  strategy: {strategy}
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""


async def _post(proxy: Any, body: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        await r.read()
        return r.status


async def _keys(proxy: Any, fake: Any, n: int) -> list[str]:
    """The upstream key of each of ``n`` requests (each one answered 200)."""
    fake.clear()
    for _ in range(n):
        assert await _post(proxy, MSG) == 200
    return [r.key or "" for r in fake.requests]


async def _reloaded(proxy: Any, text: str) -> None:
    reloads = proxy.service.reloads
    proxy.config_path.write_text(text)
    for _ in range(300):
        if proxy.service.reloads > reloads:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the config reload was not seen")


async def test_a_cooldown_that_starts_and_ends_is_seen_by_the_next_pick(start_proxy, fakes, clock):
    proxy = await start_proxy(_two_keys(fakes), clock=clock)
    pool = proxy.service.pool
    assert sorted(await _keys(proxy, fakes.claude, 2)) == ["sk-a", "sk-b"]  # nothing cools: both serve
    assert pool.succeeded(pool.credentials()[0], "claude-model") is None  # no cooldown read to make

    fakes.claude.fail_next(429, key="sk-a", retry_after=30)
    fakes.claude.fail_next(429, key="sk-b", retry_after=60)
    assert await _post(proxy, MSG) == 429  # both cool now, a for 30 s and b for 60 s
    assert await _post(proxy, MSG) == 429  # nobody is asked while both cool
    clock.advance(31)  # a's cooldown is over; its record stays until a success clears it
    assert await _keys(proxy, fakes.claude, 3) == ["sk-a", "sk-a", "sk-a"]
    clock.advance(30)  # and b's
    assert sorted(await _keys(proxy, fakes.claude, 2)) == ["sk-a", "sk-b"]
    assert pool.succeeded(pool.credentials()[0], "claude-model") is None  # every record cleared


async def test_a_strategy_reload_leaves_and_takes_the_round_robin_fast_path(start_proxy, fakes):
    proxy = await start_proxy(_two_keys(fakes), watch=True)
    assert sorted(await _keys(proxy, fakes.claude, 2)) == ["sk-a", "sk-b"]
    await _reloaded(proxy, _two_keys(fakes, "fill-first"))
    assert len(set(await _keys(proxy, fakes.claude, 3))) == 1  # the first credential by id, always
    await _reloaded(proxy, _two_keys(fakes, "round-robin"))
    assert sorted(await _keys(proxy, fakes.claude, 2)) == ["sk-a", "sk-b"]


def _haiku_config(fakes: Any, listed: bool) -> str:
    thinking = "thinking: {min: 1024, max: 8192}"
    models = f"\n    models: [{{name: {HAIKU}, alias: {HAIKU}, {thinking}}}]" if listed else ""
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"{models}
"""


async def test_thinking_follows_a_config_reload_that_changes_the_model(start_proxy, fakes):
    thinking = {"type": "enabled", "budget_tokens": 2048}
    body = {**MSG, "model": HAIKU, "max_tokens": 4096, "thinking": thinking}
    proxy = await start_proxy(_haiku_config(fakes, listed=False), watch=True)
    assert await _post(proxy, body) == 200
    assert "thinking" not in fakes.claude.last.json  # the catalog says it does not think: stripped
    await _reloaded(proxy, _haiku_config(fakes, listed=True))
    assert await _post(proxy, body) == 200
    # the key's own list gives the model a budget range (CPA's resolved API-key model): kept
    assert fakes.claude.last.json["thinking"] == thinking


def test_the_shaper_decides_again_after_a_registry_rebuild() -> None:
    registry = ModelRegistry(Catalog.load())
    shaper = Shaper(registry, None)
    client_body = {"model": HAIKU, "thinking": {"type": "enabled", "budget_tokens": 2048}}

    def shaped() -> dict[str, Any]:
        body = dict(client_body)
        shaper.shape(
            body,
            client=Format.CLAUDE,
            client_body=client_body,
            route_model=HAIKU,
            requested=HAIKU,
            suffix=None,
            provider="claude",
            upstream=Format.CLAUDE,
            model=HAIKU,
            headers={},
        )
        return body

    build(registry, {}, [oauth("c.json", "claude")])  # the catalog's haiku: no thinking
    assert "thinking" not in shaped()
    assert "thinking" not in shaped()  # the kept decision
    model = {"name": HAIKU, "alias": HAIKU, "thinking": {"min": 1024, "max": 8192}}
    build(registry, {"claude-api-key": [{"api-key": "k", "models": [model]}]})  # a new generation: it thinks
    assert shaped()["thinking"] == client_body["thinking"]
