"""A sign-in from the command line while a proxy runs on the same auth-dir: the proxy
picks the written file up through its auth-dir watcher (another process wrote it), and
the next request uses the new credential, without a restart."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import anthropic
import openai
import orjson

from tests.e2e.clients import KEY
from tests.login.test_cli import auth_env, clis, sign_in  # noqa: F401

HEAD = f'api-keys: ["{KEY}"]\n'
MODEL = "claude-sonnet-4-6"
EMAIL = "user@example.com"


async def claude_call(proxy) -> tuple[int, str]:
    """One Claude Messages request through the proxy: (status, text or error message)."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        try:
            msg = await client.messages.create(
                model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
            )
        except anthropic.APIStatusError as exc:
            return exc.status_code, str(exc.message)
    return 200, "".join(block.text for block in msg.content if block.type == "text")


async def model_ids(proxy) -> set[str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        return {m.id for m in (await client.models.list()).data}


async def eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def old_account_file(tmp_path, base_url: str) -> Path:
    """The account's old file: its tokens are revoked (the upstream says 401, the refresh
    is refused); the user had pointed it at a private gateway (``base_url``, here the fake
    Claude upstream), a setting a new sign-in keeps."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    old = auth_dir / f"claude-{EMAIL}.json"
    old.write_bytes(
        orjson.dumps(
            {
                "type": "claude",
                "email": EMAIL,
                "access_token": "at-revoked",
                "refresh_token": "rt-revoked",
                "expired": "2099-01-01T00:00:00Z",
                "base_url": base_url,
            }
        )
    )
    return old


async def sign_in_again_and_ask(
    proxy,
    fake_claude,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    tmp_path,
    old,
    patience: float = 15.0,
) -> None:
    code, _out, err, _ = await sign_in(clis, tmp_path, auth_env, "claude")
    assert code == 0, err
    new_token = orjson.loads(old.read_bytes())["access_token"]
    assert new_token.startswith("at-claude-")

    async def works() -> bool:
        return (await claude_call(proxy))[0] == 200

    assert await eventually(works, patience), "the proxy did not take up the new sign-in"
    assert fake_claude.last.headers["Authorization"] == f"Bearer {new_token}"
    assert os.listdir(old.parent) == [old.name]


async def test_a_new_login_is_used_by_the_running_proxy_without_restart(
    start_proxy,
    fake_claude,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    auth_server,
    tmp_path,
    monkeypatch,
) -> None:
    old = old_account_file(tmp_path, fake_claude.base_url)
    fake_claude.fail_key("at-revoked", 401, message="OAuth token has been revoked")
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", auth_server.base + "/v1/oauth/token")
    # the new sign-in's token outlives the proxy's 4 h refresh lead for Claude: the fake's
    # default hour made it due at once, and a background refresh could replace it before
    # the request below (seen once in CI: the proxy used at-claude-3, the file had said -2)
    auth_server.expires_in = 8 * 3600
    proxy = await start_proxy(HEAD, watch=True)
    await sign_in_again_and_ask(proxy, fake_claude, clis, auth_env, tmp_path, old)


async def test_a_new_login_revives_an_account_that_failed_with_401(
    start_proxy,
    fake_claude,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    auth_server,
    tmp_path,
    monkeypatch,
) -> None:
    old = old_account_file(tmp_path, fake_claude.base_url)
    fake_claude.fail_key("at-revoked", 401, message="OAuth token has been revoked")
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_CLAUDE", auth_server.base + "/v1/oauth/token")
    # the new sign-in's token outlives the proxy's 4 h refresh lead for Claude: the fake's
    # default hour made it due at once, and a background refresh could replace it before
    # the request below (seen once in CI: the proxy used at-claude-3, the file had said -2)
    auth_server.expires_in = 8 * 3600
    proxy = await start_proxy(HEAD, watch=True)
    status, _ = await claude_call(proxy)
    assert status != 200  # 401, the refresh refused: the account is cooled down
    await sign_in_again_and_ask(proxy, fake_claude, clis, auth_env, tmp_path, old, patience=3.0)


async def test_a_new_account_file_brings_its_models_to_the_running_proxy(
    start_proxy,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    tmp_path,
) -> None:
    proxy = await start_proxy(HEAD, watch=True)
    assert "gpt-5.4" not in await model_ids(proxy)
    code, out, err, _ = await sign_in(clis, tmp_path, auth_env, "codex")
    assert code == 0, err

    async def listed() -> bool:
        return "gpt-5.4" in await model_ids(proxy)

    assert await eventually(listed), "the proxy did not register the new Codex account"
    shown = next(line for line in out.splitlines() if line.startswith("Models: "))
    assert shown.removeprefix("Models: ").split(", ")[0] in await model_ids(proxy)
