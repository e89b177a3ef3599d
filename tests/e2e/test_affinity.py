"""Credential selection through a running proxy: session affinity, fill-first and priority.

Three Claude API keys on one fake upstream; the key the fake saw tells which credential
served each request. Clients are the Anthropic SDK, with Claude Code's session header or
its ``metadata.user_id`` session.
"""

from __future__ import annotations

import uuid

import aiohttp
import anthropic
import pytest

from tests.e2e.clients import KEY

KEYS = ("sk-a", "sk-b", "sk-c")


def three_keys(fake, routing: str = "", priority: dict[str, int] | None = None) -> str:
    entries = ""
    for key in KEYS:
        entries += f"""
  - api-key: "{key}"
    base-url: "{fake.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""
        if priority and key in priority:
            entries += f"    priority: {priority[key]}\n"
    return f'api-keys: ["{KEY}"]\n{routing}\nclaude-api-key:{entries}'


AFFINITY = "routing:\n  session-affinity: true\n"


async def call(proxy, *, session: str | None = None, user_id: str | None = None, prompt: str = "hi") -> str:
    """One Claude request; returns the upstream key that served it."""
    headers = {"X-Claude-Code-Session-Id": session} if session else {}
    extra = {"metadata": {"user_id": user_id}} if user_id else {}
    async with anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, default_headers=headers
    ) as client:
        await client.messages.create(
            model="claude-model", max_tokens=32, messages=[{"role": "user", "content": prompt}], **extra
        )
    return proxy.fake.last.key


@pytest.fixture
def proxy_for(start_proxy, fake_claude, clock):
    async def start(routing: str = AFFINITY, priority: dict[str, int] | None = None):
        proxy = await start_proxy(three_keys(fake_claude, routing, priority), clock=clock)
        proxy.fake = fake_claude
        return proxy

    return start


def legacy_user_id(session: str) -> str:
    return f"user_{'ab' * 32}_account__session_{session}"


def json_user_id(session: str) -> str:
    return '{"device_id":"' + "cd" * 32 + '","account_uuid":"","session_id":"' + session + '"}'


# ---------------------------------------------------------------- session affinity


async def test_header_session_sticks_and_other_sessions_spread(proxy_for):
    proxy = await proxy_for()
    first = [await call(proxy, session="sess-1") for _ in range(4)]
    assert len(set(first)) == 1
    others = {await call(proxy, session=f"sess-{n}") for n in (2, 3)}
    assert len(others | set(first)) == 3  # new sessions are spread by the round-robin underneath
    assert await call(proxy, session="sess-1") == first[0]


@pytest.mark.parametrize("user_id", [legacy_user_id, json_user_id], ids=["legacy", "json"])
async def test_metadata_user_id_session_sticks(proxy_for, user_id):
    proxy = await proxy_for()
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    # different prompts: without the metadata session each would hash to its own key
    keys_one = [await call(proxy, user_id=user_id(one), prompt=f"prompt {i}") for i in range(4)]
    assert len(set(keys_one)) == 1
    keys_two = [await call(proxy, user_id=user_id(two), prompt=f"other {i}") for i in range(3)]
    assert len(set(keys_two)) == 1
    assert keys_two[0] != keys_one[0]


async def test_metadata_session_is_read_from_both_user_id_forms(proxy_for):
    proxy = await proxy_for()
    session = str(uuid.uuid4())
    bound = await call(proxy, user_id=legacy_user_id(session))
    # the same Claude Code session in the JSON form (a different user_id string) keeps the binding
    assert [await call(proxy, user_id=json_user_id(session), prompt=f"p{i}") for i in range(3)] == [bound] * 3


async def test_without_affinity_the_same_session_rotates(proxy_for):
    proxy = await proxy_for(routing="")
    keys = [await call(proxy, session="sess-1") for _ in range(3)]
    assert sorted(keys) == sorted(KEYS)


async def test_session_moves_on_429_and_sticks_to_the_new_credential(proxy_for):
    proxy = await proxy_for()
    bound = await call(proxy, session="sess-1")
    proxy.fake.fail_key(bound, 429, retry_after=30)
    proxy.fake.clear()
    moved = await call(proxy, session="sess-1")
    assert moved != bound
    assert [r.key for r in proxy.fake.requests] == [bound, moved]  # tried once, then failed over
    after = [await call(proxy, session="sess-1") for _ in range(4)]
    assert after == [moved] * 4  # round-robin alone would alternate between the two free keys
    assert bound not in [r.key for r in proxy.fake.requests[2:]]


async def test_binding_expires_after_ttl(proxy_for, clock):
    proxy = await proxy_for(routing=AFFINITY + "  session-affinity-ttl: 1m\n")
    bound = await call(proxy, session="sess-1")
    clock.advance(40)
    assert await call(proxy, session="sess-1") == bound  # within the TTL (and the TTL slides)
    clock.advance(40)
    assert await call(proxy, session="sess-1") == bound  # 80 s after binding, 40 s after last use
    clock.advance(61)
    assert await call(proxy, session="sess-1") != bound  # expired: the next round-robin pick


async def test_odd_role_in_an_unvalidated_field_is_not_an_internal_error(proxy_for):
    # the session key reads ``messages``, ``contents`` and ``input`` from the raw body,
    # whatever the client format; a Gemini request validates only ``contents``, so a
    # stray ``messages`` entry whose role is a JSON array must not break the proxy (500)
    proxy = await proxy_for()
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "messages": [{"role": ["user"], "content": "hi"}],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{proxy.url}/v1beta/models/claude-model:generateContent",
            json=body,
            headers={"x-goog-api-key": KEY},
        ) as resp:
            assert resp.status == 200, await resp.text()
            answer = await resp.json()
    assert answer["candidates"][0]["content"]["parts"]
    assert proxy.fake.last.json["messages"][0]["role"] == "user"


# ---------------------------------------------------------------- fill-first and priority


def first_by_id(proxy) -> list[str]:
    """The keys in credential-id order (CPA's fill-first order)."""
    return [c.api_key for c in sorted(proxy.service.pool.credentials(), key=lambda c: c.id)]


async def test_fill_first_uses_the_first_until_it_cools(proxy_for):
    proxy = await proxy_for(routing="routing:\n  strategy: fill-first\n")
    order = first_by_id(proxy)
    assert [await call(proxy) for _ in range(4)] == [order[0]] * 4
    proxy.fake.fail_key(order[0], 429, retry_after=30)
    proxy.fake.clear()
    assert [await call(proxy) for _ in range(3)] == [order[1]] * 3
    assert [r.key for r in proxy.fake.requests] == [order[0], order[1], order[1], order[1]]


async def test_higher_priority_wins_while_available(proxy_for):
    proxy = await proxy_for(routing="", priority={"sk-b": 10})
    assert [await call(proxy) for _ in range(4)] == ["sk-b"] * 4
    proxy.fake.fail_key("sk-b", 429, retry_after=30)
    proxy.fake.clear()
    served = [await call(proxy) for _ in range(4)]
    assert sorted(set(served)) == ["sk-a", "sk-c"]  # the lower tier, round-robin
    assert [r.key for r in proxy.fake.requests].count("sk-b") == 1


async def _responses(proxy, body: dict) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/responses",
            json={"model": "claude-model", "max_output_tokens": 32, **body},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
    return proxy.fake.last.key


async def test_a_conversation_that_adds_a_prompt_cache_key_keeps_its_credential(proxy_for):
    """CPA's session keys: a Responses conversation bound under its ``conversation`` id
    keeps the binding when it starts sending a ``prompt_cache_key`` (the pipeline hands the
    pool both keys: the new one and the one it was bound under)."""
    proxy = await proxy_for()
    bound = {await _responses(proxy, {"conversation": "conv-1", "input": f"turn {i}"}) for i in range(3)}
    assert len(bound) == 1
    later = [
        await _responses(proxy, {"conversation": "conv-1", "prompt_cache_key": "pck-1", "input": f"more {i}"})
        for i in range(4)
    ]
    assert set(later) == bound  # round-robin alone would spread these over the three keys
