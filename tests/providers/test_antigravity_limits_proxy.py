"""Antigravity's 429s through a running proxy, against the fake Cloud Code server answering
as Cloud Code does (``GeminiFake.exhaust_next``), with the official SDKs as clients.

A rate limit that lifts within a second is waited out on the same account and the client is
served; one of a minute cools the account for its delay and the next account serves; an
exhausted quota cools the account until its reset and the client, with no account left,
gets a 429 in its own format. What each account's cooldown became is read from the pool."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_oauth_files import write_auth
from tests.fakes.gemini import GeminiFake, google_one_tier

FAR = "2099-01-01T00:00:00Z"
GENERATE = ("/v1internal:generateContent", "/v1internal:streamGenerateContent")


def account(tmp_path: Path, name: str, base_url: str) -> None:
    """An Antigravity account on the fake whose token is ``name``."""
    write_auth(
        tmp_path,
        f"antigravity-{name}.json",
        {
            "type": "antigravity",
            "access_token": name,
            "refresh_token": "r",
            "expired": FAR,
            "project_id": "p",
            "email": f"{name}@example.com",
            "base_url": base_url,
        },
    )


async def proxy_with(start_proxy: Any, tmp_path: Path, fake: GeminiFake, *names: str, extra: str = "") -> Any:
    for name in names:
        account(tmp_path, name, fake.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\n' + extra)


def generations(fake: GeminiFake) -> list[str]:
    """The token of each generation request the fake got, in order."""
    return [r.key or "" for r in fake.requests if r.path in GENERATE]


async def cooldown_left(proxy: Any, name: str) -> list[float]:
    """Seconds left on each cooldown record of account ``name`` (empty: none)."""
    pool = proxy.service.pool
    cred = pool.get(f"antigravity-{name}.json")
    return [r.next_retry_after - time.time() for r in await pool.cooldowns(cred)]


@pytest.mark.parametrize(("fmt", "stream"), [(Format.OPENAI, False), (Format.CLAUDE, True)])
async def test_a_rate_limit_of_half_a_second_is_waited_out_on_the_same_account(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, fmt: Format, stream: bool
) -> None:
    """One account and no request-retry: the client is served after the wait (CPA's instant
    retry: the delay plus 0.8 s), and the account keeps no cooldown."""
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a")
    fake_gemini.exhaust_next("RATE_LIMIT_EXCEEDED", retry_delay="0.5s")
    started = time.monotonic()
    answer = await ask(fmt, proxy.url, "gemini-3-flash", "hello", stream=stream)
    assert answer.text and time.monotonic() - started >= 1.3
    assert generations(fake_gemini) == ["a", "a"]
    assert await cooldown_left(proxy, "a") == []


async def test_bare_resource_exhausted_is_retried_with_a_short_backoff(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a", "b")
    fake_gemini.exhaust_next(None, times=2)
    started = time.monotonic()
    answer = await ask(Format.GEMINI, proxy.url, "gemini-3-flash", "hello", stream=False)
    elapsed = time.monotonic() - started
    assert answer.text and 0.3 <= elapsed < 2.0  # 0.1 s, then 0.2 s
    tokens = generations(fake_gemini)
    assert len(tokens) == 3 and len(set(tokens)) == 1  # one account, asked three times


async def test_a_soft_limit_that_stays_fails_over_and_cools_briefly(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    """Three 429s on the first account (the first try and two retries): the account cools
    for the rate limit's delay only, and the other account serves."""
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a", "b")
    fake_gemini.exhaust_next("RATE_LIMIT_EXCEEDED", retry_delay="0.2s", times=3)
    answer = await ask(Format.OPENAI, proxy.url, "gemini-3-flash", "hello", stream=False)
    tokens = generations(fake_gemini)
    assert answer.text and len(tokens) == 4 and len(set(tokens[:3])) == 1 and tokens[3] != tokens[0]
    assert all(left <= 0.2 for left in await cooldown_left(proxy, tokens[0]))


async def test_a_rate_limit_of_a_minute_cools_the_account_and_the_next_one_serves(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    """CPA's short cooldown (3 s to 5 min): no wait, the account cools for the delay."""
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a", "b")
    fake_gemini.exhaust_next("RATE_LIMIT_EXCEEDED", retry_delay="60s")
    answer = await ask(Format.CLAUDE, proxy.url, "gemini-3-flash", "hello", stream=False)
    first, second = generations(fake_gemini)
    assert answer.text and first != second
    (left,) = await cooldown_left(proxy, first)
    assert 55 < left <= 60
    assert await cooldown_left(proxy, second) == []


async def test_an_exhausted_quota_cools_until_its_reset_and_the_client_gets_a_429(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a")
    fake_gemini.exhaust_next("QUOTA_EXHAUSTED", retry_delay="256527.79s")
    with pytest.raises(genai_errors.ClientError) as caught:
        await ask(Format.GEMINI, proxy.url, "gemini-3-flash", "hello", stream=False)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert generations(fake_gemini) == ["a"]  # no wait on an exhausted quota
    (left,) = await cooldown_left(proxy, "a")
    assert 256527.79 - 10 < left <= 256527.79  # 71 hours: until the reset
    with pytest.raises(openai.RateLimitError):  # and the next request finds the account cooling
        await ask(Format.OPENAI, proxy.url, "gemini-3-flash", "again", stream=False)
    assert generations(fake_gemini) == ["a"]


async def test_a_soft_limit_left_after_the_waits_reaches_the_client_in_its_format(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    """The same-account waits do not use request-retry (CPA's executor makes one request a
    credential since its conductor owns retries: a deliberate difference, see
    ``antigravity_limits``). The account then cools by the 429 back-off (1 s: no delay)."""
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a", extra="request-retry: 3\n")
    fake_gemini.exhaust_next(None, times=None)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await ask(Format.CLAUDE, proxy.url, "gemini-3-flash", "hello", stream=False)
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert generations(fake_gemini) == ["a", "a", "a"]  # max-retry-interval 0: no round waits
    (left,) = await cooldown_left(proxy, "a")
    assert 0 < left <= 1.0


async def test_credits_follow_an_exhausted_quota(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake
) -> None:
    """quota-exceeded.antigravity-credits: the exhausted account is asked once more, paying
    with its credits (CPA's TestAntigravityExecute_NoCreditsWithoutConductorFlag: the first
    request carries none)."""
    extra = "quota-exceeded:\n  antigravity-credits: true\n"
    # the account holds credits (the balance lookup the option starts may come first or
    # last), and only its generation is refused (not that lookup, whatever its timing)
    fake_gemini.paid_tier = google_one_tier(25000)
    proxy = await proxy_with(start_proxy, tmp_path, fake_gemini, "a", extra=extra)
    fake_gemini.exhaust_next("QUOTA_EXHAUSTED", retry_delay="3600s", path=":generateContent")
    answer = await ask(Format.OPENAI, proxy.url, "claude-sonnet-4-6", "hello", stream=False)
    sent = [orjson.loads(r.body) for r in fake_gemini.requests if r.path in GENERATE]
    assert answer.text and len(sent) == 2
    assert "enabledCreditTypes" not in sent[0] and sent[1]["enabledCreditTypes"] == ["GOOGLE_ONE_AI"]


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "closed"])
async def test_a_client_that_leaves_ends_the_wait(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, reset: bool, engine: str
) -> None:
    """Whether the connection is reset or closed, and on either server engine."""
    account(tmp_path, "a", fake_gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n', engine=engine)
    fake_gemini.exhaust_next("RATE_LIMIT_EXCEEDED", retry_delay="1s")  # a 1.8 s wait
    body = orjson.dumps({"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]})
    _reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    for _ in range(100):  # until the 429 is in and the wait began
        if generations(fake_gemini):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    if reset:
        writer.transport.abort()  # RST
    else:
        writer.close()  # FIN, as a client that gives up sends it
    await asyncio.sleep(2.2)  # past the wait's end
    assert generations(fake_gemini) == ["a"]  # the wait ended: no second request
