"""An OAuth alias request's cooldown is kept under the upstream model it resolves to, as
CPA's ``stateModelForExecution`` keeps it (sdk/cliproxy/auth/conductor_models.go): a 429
on one name cools the credential for the other name too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth

UPSTREAM = "claude-sonnet-4-6"
ALIAS = 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "s", fork: true}]\n'


async def _chat(url: str, model: str) -> None:
    async with openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0, timeout=10) as client:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(("first", "then"), [("s", UPSTREAM), (UPSTREAM, "s")], ids=["alias", "upstream"])
async def test_a_429_on_one_name_cools_the_upstream_model_for_both(
    start_proxy, fakes, tmp_path, clock, first, then
):
    """CPA's TestManagerExecute_OAuthAliasBypassesBlockedRouteModel, the other way round:
    with ``fork`` both the alias ``s`` and ``claude-sonnet-4-6`` are served by one Claude
    account; a 429 for either name cools the account for ``claude-sonnet-4-6`` (the
    resolved upstream model, CPA's state model), so the next request by the other name is
    answered 429 by the proxy without reaching the upstream. Before, the cooldown was kept
    under the name the client asked for and the other name was tried again (one more
    failing upstream request per cooldown window). Once the cooldown is over, a whole
    answer by either name clears the upstream model's record (its back-off too), as CPA's
    success result for the state model does."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + ALIAS, clock=clock)
    fakes.claude.fail_next(429, retry_after=60)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, first)
    assert len(fakes.claude.requests) == 1
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, then)
    assert len(fakes.claude.requests) == 1  # cooling: the upstream is not asked again
    state = proxy.service.pool.state
    assert await state.get_cooldown("claude-a.json", UPSTREAM) is not None
    clock.advance(61)
    await _chat(proxy.url, then)
    assert len(fakes.claude.requests) == 2
    assert await state.get_cooldown("claude-a.json", UPSTREAM) is None


TWO = 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "a"}, {name: "claude-sonnet-4-6", alias: "b"}]\n'


async def test_a_success_by_one_alias_clears_the_cooldown_of_the_other(start_proxy, fakes, tmp_path, clock):
    """CPA's TestManagerExecute_OAuthAliasBypassesBlockedRouteModel keeps one state for the
    upstream model, so one success clears it for every name. Aliases ``a`` and ``b`` send
    ``claude-sonnet-4-6`` on one Claude account: a request by ``a`` is in flight when another
    by ``a`` gets a 429 (cooling ``a``, ``b`` and the upstream model); the first then
    answers whole. Before, that success cleared only ``a`` and the upstream model, and a
    request by ``b`` was refused with 429 until the cooldown window ended; now it is
    served."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + TWO, clock=clock)
    fakes.claude.delay_next(0.4)
    fakes.claude.fail_next(429, retry_after=60)
    slow = asyncio.create_task(_chat(proxy.url, "a"))
    async with asyncio.timeout(5):
        while not fakes.claude.requests:
            await asyncio.sleep(0.01)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, "a")
    state = proxy.service.pool.state
    assert await state.get_cooldown("claude-a.json", "b") is not None
    await slow
    await _chat(proxy.url, "b")
    assert len(fakes.claude.requests) == 3
    for name in (UPSTREAM, "a", "b"):
        assert await state.get_cooldown("claude-a.json", name) is None


async def _monitored(port: int, run: Callable[[], Awaitable[None]]) -> list[bytes]:
    """The commands Redis ran while ``run`` ran (MONITOR), up to an ECHO sentinel sent after."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"MONITOR\r\n")
        async with asyncio.timeout(5):
            assert await reader.readline() == b"+OK\r\n"
            await run()
            _, side = await asyncio.open_connection("127.0.0.1", port)
            side.write(b"ECHO alias-monitor-end\r\n")
            await side.drain()
            side.close()
            lines = []
            while b"alias-monitor-end" not in (line := await reader.readline()):
                lines.append(line)
        return lines
    finally:
        writer.close()


async def test_a_success_by_an_alias_reads_no_other_names_cooldowns(
    start_proxy, fakes, tmp_path, redis_server
):
    """With the Redis state backend, a whole answer by an alias with nothing cooling costs
    the Redis commands of any other request: no other name's cooldown map is read or
    written. Before, each success by an alias also read the upstream model's map (a round
    trip every cache period) to clear it, and a success that has to clear the other names
    would have read theirs."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    shared = f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'al:'\n"
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + TWO + shared)

    async def three() -> None:
        for _ in range(3):
            await _chat(proxy.url, "a")

    lines = await _monitored(redis_server.port, three)
    assert len(fakes.claude.requests) == 3
    assert any(b'"al:cd|a"' in line for line in lines), lines  # the pick reads its own name
    others = [line for line in lines if b"cd|claude-sonnet-4-6" in line or b'cd|b"' in line]
    assert not others, others
