"""routing.quota-steering through a running proxy: the fakes answer with rate-limit headers
per upstream key (``fake.answer_headers``), and the key each later request reached tells
whether the proxy routed away from the nearly used-up credential before any 429."""

from __future__ import annotations

import time

import anthropic
import openai
import orjson

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys
from tests.management.conftest import mcall

STEER = "routing:\n  quota-steering: 90\n"


def unified(used: float, reset_in: float = 3600.0, now: float | None = None) -> dict[str, str]:
    """Anthropic's unified headers of a subscription account, ``used`` a fraction of 5 h."""
    reset = str(int((time.time() if now is None else now) + reset_in))
    return {
        "anthropic-ratelimit-unified-status": "allowed",
        "anthropic-ratelimit-unified-5h-status": "allowed",
        "anthropic-ratelimit-unified-5h-utilization": str(used),
        "anthropic-ratelimit-unified-5h-reset": reset,
        "anthropic-ratelimit-unified-7d-status": "allowed",
        "anthropic-ratelimit-unified-7d-utilization": "0.05",
        "anthropic-ratelimit-unified-7d-reset": str(int(time.time() + 6 * 86400)),
        "anthropic-ratelimit-unified-reset": reset,
    }


async def claude(proxy, session: str | None = None) -> None:
    headers = {"X-Claude-Code-Session-Id": session} if session else {}
    async with anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, default_headers=headers
    ) as client:
        await client.messages.create(
            model="claude-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )


async def chat(proxy, model: str) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def bearer_keys(fake, path: str) -> list[str]:
    return [r.key or "" for r in fake.requests if path in r.path]


# ---------------------------------------------------------------- Claude


async def test_claude_at_95_percent_yields_to_the_other_without_a_429(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes, STEER))
    fakes.claude.answer_headers["sk-a"] = unified(0.95)
    fakes.claude.answer_headers["sk-b"] = unified(0.10)
    for _ in range(8):
        await claude(proxy)  # the SDK raises on any error status: every request succeeded
    keys = _keys(fakes.claude)
    assert keys.count("sk-a") == 1, keys  # answered once, said 95 %, and was left alone
    assert keys[keys.index("sk-a") + 1 :] == ["sk-b"] * (7 - keys.index("sk-a"))
    marks = await proxy.service.state.get_headroom()
    assert {round(m.used_percent) for m in marks.values()} == {95, 10}


async def test_off_by_default_round_robin_continues_and_nothing_is_recorded(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.answer_headers["sk-a"] = unified(0.95)
    for _ in range(6):
        await claude(proxy)
    keys = _keys(fakes.claude)
    assert sorted(keys) == ["sk-a"] * 3 + ["sk-b"] * 3 and keys[0] != keys[1], keys
    assert proxy.service.pool.steering == 0.0
    assert await proxy.service.state.get_headroom() == {}  # the answers' headers were not read


async def test_priority_tier_is_never_given_up_for_headroom(start_proxy, fakes):
    text = two_claude_keys(fakes, STEER).replace(
        '  - api-key: "sk-a"\n', '  - api-key: "sk-a"\n    priority: 10\n'
    )
    proxy = await start_proxy(text)
    fakes.claude.answer_headers["sk-a"] = unified(0.97)  # the only credential of the top tier
    for _ in range(4):
        await claude(proxy)
    assert _keys(fakes.claude) == ["sk-a"] * 4


async def test_a_bound_session_keeps_its_credential_new_sessions_steer(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes, STEER + "  session-affinity: true\n"))
    await claude(proxy, "session-one")
    bound = _keys(fakes.claude)[-1]
    other = "sk-b" if bound == "sk-a" else "sk-a"
    fakes.claude.answer_headers[bound] = unified(0.96)
    for _ in range(3):
        await claude(proxy, "session-one")
    assert _keys(fakes.claude)[-3:] == [bound] * 3  # affinity is stronger than steering
    for n in range(4):
        await claude(proxy, f"new-{n}")
    assert _keys(fakes.claude)[-4:] == [other] * 4


async def test_all_over_the_threshold_the_least_used_serves(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes, STEER))
    fakes.claude.answer_headers["sk-a"] = unified(0.97)
    fakes.claude.answer_headers["sk-b"] = unified(0.93)
    for _ in range(6):
        await claude(proxy)  # never refused: steering only orders
    keys = _keys(fakes.claude)
    assert set(keys[:2]) == {"sk-a", "sk-b"} and keys[2:] == ["sk-b"] * 4, keys


async def test_the_estimate_expires_at_its_reset(start_proxy, fakes, clock):
    proxy = await start_proxy(two_claude_keys(fakes, STEER), clock=clock)
    fakes.claude.answer_headers["sk-a"] = unified(0.95, reset_in=60, now=clock.now)
    for _ in range(4):
        await claude(proxy)
    assert _keys(fakes.claude).count("sk-a") == 1
    del fakes.claude.answer_headers["sk-a"]  # the window starts over; answers say nothing more
    clock.advance(61)
    fakes.claude.clear()
    for _ in range(4):
        await claude(proxy)
    assert sorted(_keys(fakes.claude)) == ["sk-a", "sk-a", "sk-b", "sk-b"]


# ---------------------------------------------------------------- Codex and OpenAI-compatible


def two_codex_keys(fakes) -> str:
    entries = "".join(
        f"""  - api-key: "{key}"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
"""
        for key in ("sk-codex-a", "sk-codex-b")
    )
    return f'api-keys: ["{KEY}"]\n{STEER}codex-api-key:\n{entries}'


async def test_codex_used_percent_steers(start_proxy, fakes):
    proxy = await start_proxy(two_codex_keys(fakes))
    fakes.responses.answer_headers["sk-codex-a"] = {
        "x-codex-primary-used-percent": "42.0",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": "3600",
        "x-codex-secondary-used-percent": "98.0",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": "500000",
    }
    for _ in range(6):
        await chat(proxy, "codex-model")
    keys = bearer_keys(fakes.responses, "/backend-api/codex/responses")
    assert keys.count("sk-codex-a") == 1 and len(keys) == 6, keys
    mark = (await proxy.service.state.get_headroom()).popitem()[1]
    assert (mark.used_percent, mark.window, mark.source) == (98.0, "7d", "codex")


async def test_openai_compatible_remaining_over_limit_steers(start_proxy, fakes):
    text = f"""
api-keys: ["{KEY}"]
{STEER}openai-compatibility:
  - name: fakeopenai
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-compat-a"
      - api-key: "sk-compat-b"
    models: [{{name: "gpt-4o-mini", alias: "compat-model"}}]
"""
    proxy = await start_proxy(text)
    fakes.openai.answer_headers["sk-compat-a"] = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    for _ in range(6):
        await chat(proxy, "compat-model")
    keys = bearer_keys(fakes.openai, "/chat/completions")
    assert keys.count("sk-compat-a") == 1 and len(keys) == 6, keys


# ---------------------------------------------------------------- shared state and the panel


async def test_redis_shares_headroom_between_two_proxies(start_proxy, fakes, redis_server):
    shared = f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'hr-e2e:'\n"
    text = two_claude_keys(fakes, shared + STEER)
    a, b = await start_proxy(text), await start_proxy(text)
    fakes.claude.answer_headers["sk-a"] = unified(0.95)
    for _ in range(2):
        assert (await _post(a, MSG))[0] == 200  # round-robin on A: sk-a answers once
    assert "sk-a" in _keys(fakes.claude)
    fakes.claude.clear()
    for _ in range(4):
        assert (await _post(b, MSG))[0] == 200
    assert _keys(fakes.claude) == ["sk-b"] * 4  # B never asked sk-a: it read A's estimate


async def test_management_listing_shows_headroom(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-test-secret")
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    for name in ("a", "b"):
        record = {
            "type": "claude",
            "access_token": f"at-{name}",
            "refresh_token": "rt",
            "expired": "2099-01-01T00:00:00Z",
            "email": f"{name}@example.com",
            "base_url": fakes.claude.base_url,
        }
        (auths / f"claude-{name}.json").write_bytes(orjson.dumps(record))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{STEER}')
    fakes.claude.answer_headers["at-a"] = unified(0.95)
    for _ in range(2):
        assert (await _post(proxy, {**MSG, "model": "claude-sonnet-4-6"}))[0] == 200
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    by_email = {f["email"]: f for f in body["files"]}
    mark = by_email["a@example.com"]["headroom"]
    assert (mark["used_percent"], mark["window"], mark["source"]) == (95.0, "5h", "anthropic-unified")
    assert mark["resets_at"][:4].isdigit()
    assert "headroom" not in by_email["b@example.com"]  # its answers stated nothing


async def test_routing_explain_names_the_steered_credential(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes, STEER + "  explain: true\n"))
    fakes.claude.answer_headers["sk-a"] = unified(0.95)
    skipped = []
    for _ in range(4):
        status, _, headers = await _post(proxy, MSG)
        assert status == 200
        skipped.append(headers["X-Cliproxy-Route-Skipped"])
    steered = [s for s in skipped if "=quota-steering:95%" in s]
    assert steered and skipped.index(steered[0]) <= 2, skipped  # from the pick after sk-a answered
