"""The AI Studio relay (``/v1/ws``) makes whoever attaches one a credential of the pool. With
``ws-auth: true`` a relay is attached with a client key and, by default, serves that key's
requests alone (``ws-relay-serves: own-key``, cliproxy's setting): another key's requests
never reach it, prompts included. ``ws-relay-serves: all-keys`` brings back CPA's sharing,
and a relay attached with no key (``ws-auth: false``) serves every key, as in CPA."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiohttp
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from cliproxy.config import load_config
from cliproxy.errors import ConfigError
from tests.e2e.clients import KEY
from tests.e2e.test_aistudio_relay import relay

OTHER = "sk-other-tenant"
MODEL = "gemini-2.5-flash"
MANAGEMENT = "m-secret"


def _config(serves: str | None = None, *, ws_auth: bool = True, extra: str = "") -> str:
    text = f'api-keys: ["{KEY}", "{OTHER}"]\nws-auth: {"true" if ws_auth else "false"}\n'
    if serves is not None:
        text += f"ws-relay-serves: {serves}\n"
    return text + extra


def _sdk(proxy, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0)


async def _chat(proxy, key: str, prompt: str = "hi") -> str:
    async with _sdk(proxy, key) as sdk:
        done = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    return done.choices[0].message.content or ""


async def _until(predicate: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_relay_attached_with_one_key_is_not_sent_another_keys_requests(start_proxy, fakes):
    """Measured on 0e082be (before relays had an owner): five relays attached with another
    tenant's key received 10 of 12 of this key's Gemini requests (their prompts whole),
    though a Gemini API key served the model; the relay's answers went back to this client
    as Gemini's. Now the Gemini key serves all twelve."""
    proxy = await start_proxy(
        _config(extra=f'gemini-api-key:\n  - api-key: "gem-key-1"\n    base-url: "{fakes.gemini.base_url}"\n')
    )
    async with contextlib.AsyncExitStack() as stack:
        relays = [await stack.enter_async_context(relay(proxy, f"?key={OTHER}")) for _ in range(5)]
        for i in range(12):
            assert await _chat(proxy, KEY, f"private {i}") != "hello from the relay"
        intercepted = sum(len(r.requests) for r in relays)
    assert intercepted == 0, f"{intercepted} of 12 requests went to another key's relays"


async def test_the_owner_s_requests_reach_its_relay_and_other_keys_get_no_credential(start_proxy):
    """The relay is the only credential for the model: its key's requests (whole and
    streamed) reach it; another key gets the usual 503 "no auth available" in its own
    format (the openai SDK's and google-genai's error), and the relay sees none of it."""
    proxy = await start_proxy(_config())
    async with relay(proxy, f"?key={KEY}") as client:
        assert await _chat(proxy, KEY) == "hello from the relay"
        async with _sdk(proxy, KEY) as sdk:
            stream = await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "hello relay"
        assert len(client.requests) == 2

        with pytest.raises(openai.APIStatusError) as err:
            await _chat(proxy, OTHER, "secret of the other tenant")
        assert err.value.status_code == 503
        body = err.value.body
        assert isinstance(body, dict) and "no auth available" in str(body.get("message", body))

        gemini = genai.Client(
            api_key=OTHER,
            http_options=gtypes.HttpOptions(
                base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
            ),
        )
        with pytest.raises(genai_errors.APIError) as gerr:
            await gemini.aio.models.generate_content(model=MODEL, contents="secret of the other tenant")
        assert gerr.value.code == 503 and gerr.value.status == "UNAVAILABLE"
        assert "no auth available" in (gerr.value.message or "")
        with pytest.raises(genai_errors.APIError):  # streamed: the same refusal, before any chunk
            async for _ in await gemini.aio.models.generate_content_stream(model=MODEL, contents="x"):
                pass
        assert len(client.requests) == 2
        assert all("other tenant" not in str(r["payload"]) for r in client.requests)


async def test_all_keys_brings_back_cpa_s_sharing(start_proxy):
    proxy = await start_proxy(_config("all-keys"))
    async with relay(proxy, f"?key={OTHER}") as client:
        assert await _chat(proxy, KEY) == "hello from the relay"
        assert await _chat(proxy, OTHER) == "hello from the relay"
    assert len(client.requests) == 2


async def test_a_relay_attached_without_ws_auth_serves_every_key(start_proxy):
    """``ws-auth: false``: the relay presents no key that could own it (one it presents
    anyway is not checked, so it owns nothing either)."""
    proxy = await start_proxy(_config(ws_auth=False))
    async with relay(proxy, "") as bare, relay(proxy, f"?key={OTHER}") as keyed:
        for key in (KEY, OTHER, KEY, OTHER):
            assert await _chat(proxy, key) == "hello from the relay"
    assert len(bare.requests) + len(keyed.requests) == 4
    assert not proxy.service.pool.owners.active


async def test_the_listing_names_the_owner_masked(start_proxy):
    proxy = await start_proxy(_config(extra=f"remote-management:\n  secret-key: {MANAGEMENT}\n"))
    async with relay(proxy, f"?key={OTHER}"), aiohttp.ClientSession() as session:
        async with session.get(
            proxy.url + "/v0/management/auth-files", headers={"Authorization": f"Bearer {MANAGEMENT}"}
        ) as resp:
            assert resp.status == 200
            raw = await resp.text()
            files = (await resp.json())["files"]
    (entry,) = [f for f in files if f["provider"] == "aistudio"]
    assert entry["note"] == "attached with client key s...t"
    assert OTHER not in raw


def test_a_bad_ws_relay_serves_is_refused_at_load(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("ws-relay-serves: everyone\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "ws-relay-serves" in str(err.value)
    assert "'own-key' or 'all-keys'" in str(err.value)
    path.write_text("")
    assert load_config(path).ws_relay_serves == "own-key"


async def test_ws_relay_serves_reloads_live(start_proxy):
    proxy = await start_proxy(_config(), watch=True)

    def served(expected: bool) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:  # does the other key's relay answer this key now?
            try:
                await _chat(proxy, KEY)
            except openai.APIStatusError as exc:
                assert exc.status_code == 503
                return not expected
            return expected

        return check

    async with relay(proxy, f"?key={OTHER}") as client:
        assert await served(False)()
        proxy.config_path.write_text(proxy.config_path.read_text() + "ws-relay-serves: all-keys\n")
        assert await _until(served(True))
        proxy.config_path.write_text(proxy.config_path.read_text().replace("all-keys", "own-key"))
        assert await _until(served(False))
        seen = len(client.requests)
        assert seen >= 1  # while all-keys was on
        assert await served(False)()
        assert len(client.requests) == seen
