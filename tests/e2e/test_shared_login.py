"""Panel sign-ins across two cliproxy services sharing one real Redis (``workers: N`` or
hosts behind a load balancer in miniature): the provider's callback and the panel's
``get-auth-status`` polling may land on another process than the one that started the
sign-in, and it still completes there, once."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401
from tests.login.conftest import browse, fetch_location
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.management.test_oauth_device import Gate, started, store_of
from tests.management.test_oauth_device import device as device
from tests.management.test_oauth_device import gated as gated

FAR = 10 * 24 * 3600  # token lifetime beyond every refresh lead: the refresh loop stays away
CLAUDE_FILE = "claude-user@example.com.json"


@pytest.fixture
def signin(auth_server: AuthServerFake, monkeypatch: pytest.MonkeyPatch) -> AuthServerFake:  # noqa: F811
    for provider in ("CLAUDE", "CODEX", "ANTIGRAVITY"):
        monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_BASE", auth_server.base)
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    auth_server.expires_in = FAR
    return auth_server


async def pair(start_proxy: Any, redis_server: Any) -> tuple[Any, Any]:
    text = f"api-keys: [k-client]\nstate:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'login:'\n"
    return await start_proxy(text), await start_proxy(text)


async def status_of(proxy: Any, state: str) -> tuple[int, Any]:
    return await mcall(proxy, "GET", f"/get-auth-status?state={state}")


async def until_done(proxy: Any, state: str) -> Any:
    deadline = time.monotonic() + 10
    while (answer := await status_of(proxy, state))[1].get("status") == "wait":
        assert time.monotonic() < deadline, "the sign-in did not end"
        await asyncio.sleep(0.02)
    return answer


def token_exchanges(signin: AuthServerFake) -> int:
    return sum(1 for r in signin.requests if r.fields.get("grant_type") == "authorization_code")


async def test_started_on_a_finished_by_the_callback_on_b(start_proxy, redis_server, signin, tmp_path):
    a, b = await pair(start_proxy, redis_server)
    status, body = await mcall(a, "GET", "/anthropic-auth-url")
    assert status == 200, body
    assert await status_of(b, body["state"]) == (200, {"status": "wait"})  # B knows it
    location = await fetch_location(body["url"])

    page = await browse(f"{b.url}/anthropic/callback?{urlsplit(location).query}")

    assert page.status == 200 and "Authentication successful" in page.text  # B exchanged the code
    assert token_exchanges(signin) == 1  # with the PKCE verifier A made (the fake checks it)
    assert await until_done(a, body["state"]) == (200, {"status": "ok"})
    saved = orjson.loads((tmp_path / "auths" / CLAUDE_FILE).read_bytes())
    assert saved["email"] == "user@example.com"
    assert [c.access_token for c in b.service.pool.credentials() if c.provider == "claude"] == [
        saved["access_token"]
    ]
    for _ in range(100):  # A's waiting task heard it ended and let go of the session
        if len(store_of(a)) == 0:
            break
        await asyncio.sleep(0.01)
    assert len(store_of(a)) == 0
    assert await mcall(a, "POST", "/oauth-callback", {"provider": "anthropic", "redirect_url": location}) == (
        409,
        {"status": "error", "error": "oauth flow is already completed"},
    )


async def test_a_pasted_callback_on_b_and_the_status_on_a(start_proxy, redis_server, signin, tmp_path):
    a, b = await pair(start_proxy, redis_server)
    _, body = await mcall(a, "GET", "/codex-auth-url")
    location = await fetch_location(body["url"])
    answer = {"provider": "codex", "redirect_url": location}
    assert await mcall(b, "POST", "/oauth-callback", answer) == (200, {"status": "ok"})
    assert await until_done(a, body["state"]) == (200, {"status": "ok"})
    assert await until_done(b, body["state"]) == (200, {"status": "ok"})
    assert len(list((tmp_path / "auths").glob("codex-*.json"))) == 1


async def test_the_same_callback_on_both_is_exchanged_once(start_proxy, redis_server, signin, tmp_path):
    a, b = await pair(start_proxy, redis_server)
    _, body = await mcall(a, "GET", "/anthropic-auth-url")
    query = urlsplit(await fetch_location(body["url"])).query
    pages = await asyncio.gather(
        browse(f"{a.url}/anthropic/callback?{query}"), browse(f"{b.url}/anthropic/callback?{query}")
    )
    assert any("Authentication successful" in p.text for p in pages), pages  # the other: taken or done
    assert await until_done(b, body["state"]) == (200, {"status": "ok"})
    assert token_exchanges(signin) == 1  # the answer was claimed by one process only


async def test_an_unknown_state_is_refused_on_both(start_proxy, redis_server, signin):
    a, b = await pair(start_proxy, redis_server)
    _, body = await mcall(a, "GET", "/anthropic-auth-url")
    code = parse_qs(urlsplit(await fetch_location(body["url"])).query)["code"][0]
    for proxy in (a, b):
        page = await browse(f"{proxy.url}/anthropic/callback?code={code}&state=never-issued")
        assert page.status == 400 and "unknown, expired or already finished" in page.text
        assert await mcall(proxy, "GET", f"/oauth-callback?state=never-issued&code={code}") == (
            404,
            {"status": "error", "error": "unknown or expired state"},
        )
        assert await status_of(proxy, "never-issued") == (
            200,
            {"status": "error", "error": "unknown or expired state"},
        )
    assert token_exchanges(signin) == 0
    assert await status_of(a, body["state"]) == (200, {"status": "wait"})  # the real one still waits


async def test_cancelled_on_b_ends_the_sign_in_started_on_a(start_proxy, redis_server, signin, tmp_path):
    a, b = await pair(start_proxy, redis_server)
    _, body = await mcall(a, "GET", "/anthropic-auth-url")
    task = store_of(a).get(body["state"]).task
    assert await mcall(b, "DELETE", f"/oauth-session?state={body['state']}") == (
        200,
        {"status": "ok", "cancelled": True},
    )
    await asyncio.wait_for(asyncio.wait([task]), 5)  # A stopped waiting for the callback
    unknown = (200, {"status": "error", "error": "unknown or expired state"})
    assert await status_of(a, body["state"]) == unknown
    page = await browse(f"{a.url}/anthropic/callback?{urlsplit(await fetch_location(body['url'])).query}")
    assert page.status == 400
    assert token_exchanges(signin) == 0 and list((tmp_path / "auths").iterdir()) == []


async def test_a_device_sign_in_polled_on_a_is_readable_on_b(
    start_proxy, redis_server, device, gated: Gate, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, redis_server)
    device.answers = ["pending"]
    body = await started(a, gated, "kimi")
    await gated.release()
    await asyncio.sleep(0.05)
    assert await status_of(b, body["state"]) == (200, {"status": "wait"})
    await gated.release()
    assert await until_done(b, body["state"]) == (200, {"status": "ok"})
    assert len(list((tmp_path / "auths").glob("kimi-*.json"))) == 1


async def test_with_redis_away_a_sign_in_completes_on_its_own_process(
    start_proxy, redis_server, signin, tmp_path
):
    """Redis gone: the sign-in lives in A's memory (as with the memory backend) and completes there."""
    a, _ = await pair(start_proxy, redis_server)
    redis_server.kill()
    _, body = await mcall(a, "GET", "/anthropic-auth-url")
    page = await browse(f"{a.url}/anthropic/callback?{urlsplit(await fetch_location(body['url'])).query}")
    assert page.status == 200 and "Authentication successful" in page.text
    assert await status_of(a, body["state"]) == (200, {"status": "ok"})
    assert (tmp_path / "auths" / CLAUDE_FILE).is_file()
