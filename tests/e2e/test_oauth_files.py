"""Claude OAuth credential files through a running proxy: hot drop-in and removal, the
forced refresh after an upstream 401, a refused refresh, and disabled files."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import anthropic
import openai
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.fakes.oauth import oauth_fake  # noqa: F401

MODEL = "claude-sonnet-4-6"  # in the Claude OAuth catalog
FAR = "2099-01-01T00:00:00Z"  # an expiry far away: the refresh loop leaves the file alone
HEAD = f'api-keys: ["{KEY}"]\n'


def claude_file(base_url: str, access: str, refresh: str = "rt-old", **extra) -> dict:
    return {
        "type": "claude",
        "access_token": access,
        "refresh_token": refresh,
        "expired": FAR,
        "email": "user@example.com",
        "base_url": base_url,
        **extra,
    }


def write_auth(tmp_path: Path, name: str, data: dict) -> Path:
    """Write an auth file whole (write elsewhere, rename in) so a watcher never sees half of it."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    staging = tmp_path / (name + ".staging")
    staging.write_bytes(orjson.dumps(data))
    os.replace(staging, auth_dir / name)
    return auth_dir / name


def bearer_keys(fake) -> list[str]:
    return [r.key for r in fake.requests if r.path.startswith("/v1/messages")]


async def model_ids(proxy) -> set[str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        page = await client.models.list()
    return {m.id for m in page.data}


async def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out waiting for the proxy to notice the auth dir"
        await asyncio.sleep(0.05)


async def claude_status(proxy) -> tuple[int, dict]:
    """One Claude request; (status, body) whether it succeeded or not."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        try:
            msg = await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            )
        except anthropic.APIStatusError as exc:
            return exc.status_code, exc.body if isinstance(exc.body, dict) else {}
    return 200, msg.model_dump()


# ---------------------------------------------------------------- (a) hot drop-in and removal


async def test_dropped_in_file_is_used_and_removal_unregisters(start_proxy, fake_claude, tmp_path):
    proxy = await start_proxy(HEAD, watch=True)
    assert MODEL not in await model_ids(proxy)

    path = write_auth(tmp_path, "claude-user.json", claude_file(fake_claude.base_url, "sk-ant-oat01-live"))

    async def served() -> bool:
        return MODEL in await model_ids(proxy)

    await wait_for(served)
    answer = await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=False)
    assert "Hello from fake" in answer.text
    rec = fake_claude.last
    assert rec.headers["Authorization"] == "Bearer sk-ant-oat01-live"
    assert "x-api-key" not in rec.headers
    assert "oauth-2025-04-20" in [b.strip() for b in rec.headers["anthropic-beta"].split(",")]

    path.unlink()

    async def gone() -> bool:
        return MODEL not in await model_ids(proxy)

    await wait_for(gone)
    calls = len(fake_claude.requests)
    status, body = await claude_status(proxy)
    assert status == 400  # the model is unknown again: model_not_found in the Claude shape
    assert body["type"] == "error" and MODEL in body["error"]["message"]
    assert len(fake_claude.requests) == calls


# ---------------------------------------------------------------- (b) 401 -> refresh -> retry


@pytest.fixture
async def refreshing(start_proxy, fake_claude, oauth_fake, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", oauth_fake.url("/v1/oauth/token"))
    path = write_auth(
        tmp_path, "claude-user.json", claude_file(fake_claude.base_url, "at-old", note="keep me", priority=0)
    )
    fake_claude.fail_key("at-old", 401, message="OAuth token has expired")
    proxy = await start_proxy(HEAD)
    proxy.path, proxy.fake, proxy.oauth = path, fake_claude, oauth_fake
    return proxy


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_401_refreshes_and_retries_same_credential(refreshing, stream):
    answer = await ask(Format.CLAUDE, refreshing.url, MODEL, "Say hello", stream=stream)
    assert "Hello from fake" in answer.text
    assert bearer_keys(refreshing.fake) == ["at-old", "at-1"]
    [token_call] = refreshing.oauth.requests
    assert token_call.path == "/v1/oauth/token"
    assert token_call.content_type.startswith("application/json")
    assert token_call.grant_type == "refresh_token" and token_call.fields["refresh_token"] == "rt-old"

    saved = orjson.loads(refreshing.path.read_bytes())
    assert saved["access_token"] == "at-1" and saved["refresh_token"] == "rt-1"
    assert saved["email"] == "user@example.com" and saved["note"] == "keep me"  # other keys kept
    assert saved["base_url"] == refreshing.fake.base_url
    assert sorted(p.name for p in refreshing.path.parent.iterdir()) == ["claude-user.json"]  # no temp files

    await ask(Format.CLAUDE, refreshing.url, MODEL, "again", stream=False)
    assert bearer_keys(refreshing.fake)[-1] == "at-1"
    assert len(refreshing.oauth.requests) == 1  # the new token is used as is


async def test_refresh_written_back_is_reloaded_by_the_watcher(
    start_proxy,
    fake_claude,
    oauth_fake,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", oauth_fake.url("/v1/oauth/token"))
    path = write_auth(tmp_path, "claude-user.json", claude_file(fake_claude.base_url, "at-old"))
    fake_claude.fail_key("at-old", 401)
    proxy = await start_proxy(HEAD, watch=True)
    await ask(Format.CLAUDE, proxy.url, MODEL, "Say hello", stream=False)
    assert orjson.loads(path.read_bytes())["access_token"] == "at-1"
    marker = write_auth(tmp_path, "marker.json", {"type": "gemini"})  # listed, loads as no credential

    async def marker_seen() -> bool:  # events come in order: the rewritten file was seen before
        return marker in proxy.service.auth_files

    await wait_for(marker_seen)
    for _ in range(2):
        await ask(Format.CLAUDE, proxy.url, MODEL, "again", stream=False)
    assert bearer_keys(fake_claude) == ["at-old", "at-1", "at-1", "at-1"]
    assert len(oauth_fake.requests) == 1


# ---------------------------------------------------------------- (c) refresh refused


async def test_refused_refresh_returns_upstream_401_and_cools(refreshing):
    refreshing.oauth.fail_next(400, "invalid_grant")
    status, body = await claude_status(refreshing)
    assert status == 401
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert body["error"]["message"] == "OAuth token has expired"  # the upstream's own answer
    assert bearer_keys(refreshing.fake) == ["at-old"]
    assert len(refreshing.oauth.requests) == 1
    assert orjson.loads(refreshing.path.read_bytes())["access_token"] == "at-old"

    status, body = await claude_status(refreshing)
    assert status == 429 and body["error"]["code"] == "model_cooldown"
    assert bearer_keys(refreshing.fake) == ["at-old"]  # the cooling credential is not asked again
    assert len(refreshing.oauth.requests) == 1


async def test_refused_refresh_reaches_openai_client_as_401(refreshing):
    refreshing.oauth.fail_next(400, "invalid_grant")
    async with openai.AsyncOpenAI(base_url=refreshing.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as info:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401


# ---------------------------------------------------------------- (d) disabled files


async def test_disabled_file_is_not_used(start_proxy, fake_claude, tmp_path):
    write_auth(tmp_path, "a-disabled.json", claude_file(fake_claude.base_url, "tok-disabled", disabled=True))
    write_auth(tmp_path, "b-live.json", claude_file(fake_claude.base_url, "tok-live"))
    proxy = await start_proxy(HEAD)
    for _ in range(4):
        assert (await claude_status(proxy))[0] == 200
    assert bearer_keys(fake_claude) == ["tok-live"] * 4


async def test_only_disabled_file_serves_nothing(start_proxy, fake_claude, tmp_path):
    write_auth(tmp_path, "a-disabled.json", claude_file(fake_claude.base_url, "tok-disabled", disabled=True))
    proxy = await start_proxy(HEAD)
    assert MODEL not in await model_ids(proxy)
    status, _ = await claude_status(proxy)
    assert status == 400
    assert not fake_claude.requests
