"""What every callback sign-in (Claude, Codex, Antigravity) must do, end to end against
the fake authorization server over real HTTP: the browser's callback, a pasted redirect
URL, wrong state, denial, timeout, a second sign-in to the same account, and the written
file refreshing with our refresh code (the rotated refresh token written back)."""

from __future__ import annotations

import asyncio
import socket
import stat
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.antigravity import AntigravityLogin
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.callback import run_callback_login
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.codex import CodexLogin
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from tests.login.conftest import browse, fetch_location, login_in_browser

# provider -> (flow class, redirect URI template for a random port, expected file, token path)
CASES = {
    "claude": (
        ClaudeLogin,
        "http://127.0.0.1:{port}/callback",
        "claude-user@example.com.json",
        "/v1/oauth/token",
    ),
    "codex": (
        CodexLogin,
        "http://127.0.0.1:{port}/auth/callback",
        "codex-{hash}-user@example.com-plus.json",
        "/oauth/token",
    ),
    "antigravity": (AntigravityLogin, None, "antigravity-user@example.com.json", "/token"),
}
PROVIDERS = list(CASES)


def make_flow(provider, http):
    cls = CASES[provider][0]
    return cls(http, onboard_interval=0.01) if cls is AntigravityLogin else cls(http)


def file_name(provider: str) -> str:
    import hashlib

    digest = hashlib.sha256(b"acct-123").hexdigest()[:8]
    return CASES[provider][2].replace("{hash}", digest)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_callback_sign_in_writes_the_file(provider, http, providers_at, tmp_path) -> None:
    flow = make_flow(provider, http)
    saved, page = await login_in_browser(flow, tmp_path, redirect_uri=CASES[provider][1])
    assert saved.path == tmp_path / file_name(provider)
    assert saved.account == "user@example.com" and saved.provider == provider
    assert page.status == 200 and "Signed in" in page.text and "user@example.com" in page.text
    data = orjson.loads(saved.path.read_bytes())
    assert data == saved.record and data["type"] == provider
    assert list(data) == sorted(data)  # CPA's Go maps are written with sorted keys
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [saved.path.name]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_pasted_redirect_url_completes_the_sign_in(provider, http, providers_at, tmp_path) -> None:
    flow = make_flow(provider, http)
    urls: asyncio.Queue[str] = asyncio.Queue()
    prompts: list[str] = []

    async def paste(prompt: str) -> str:
        prompts.append(prompt)
        # the browser on another machine ends on the redirect URL; the user copies it
        return await fetch_location(await urls.get())

    saved = await run_callback_login(
        flow,
        tmp_path,
        open_browser=False,
        port=0,
        redirect_uri=CASES[provider][1],
        on_url=urls.put_nowait,
        say=lambda _line: None,
        read_pasted=paste,
        paste_after=0.0,
        timeout=20.0,
    )
    assert saved.path.name == file_name(provider)
    assert prompts and provider in prompts[0]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_callback_with_another_state_is_refused(provider, http, providers_at, tmp_path) -> None:
    flow = make_flow(provider, http)
    urls: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        run_callback_login(
            flow,
            tmp_path,
            open_browser=False,
            port=0,
            redirect_uri=CASES[provider][1],
            on_url=urls.put_nowait,
            say=lambda _line: None,
            timeout=20.0,
        )
    )
    location = await fetch_location(await urls.get())
    state = parse_qs(urlsplit(location).query)["state"][0]
    page = await browse(location.replace(f"state={state}", "state=forged"))
    with pytest.raises(LoginError) as caught:
        await task
    assert caught.value.reason == "state_mismatch"
    assert page.status == 400 and "state" in page.text
    assert list(tmp_path.iterdir()) == []
    assert providers_at.seen(CASES[provider][3]) == []  # the code was never exchanged


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_user_denial_fails_the_sign_in(provider, http, providers_at, tmp_path) -> None:
    providers_at.deny = True
    flow = make_flow(provider, http)
    with pytest.raises(LoginError) as caught:
        await login_in_browser(flow, tmp_path, redirect_uri=CASES[provider][1])
    assert caught.value.reason == "denied"
    assert "denied" in caught.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_answer_times_out_and_closes_the_callback_port(
    provider, http, providers_at, tmp_path
) -> None:
    flow = make_flow(provider, http)
    urls: list[str] = []
    ports: list[int] = []

    def said(line: str) -> None:
        ports.extend(int(w) for w in line.replace(".", " ").split() if w.isdigit())

    with pytest.raises(LoginError) as caught:
        await run_callback_login(
            flow,
            tmp_path,
            open_browser=False,
            port=0,
            redirect_uri=CASES[provider][1],
            on_url=urls.append,
            say=said,
            timeout=0.2,
        )
    assert caught.value.reason == "timeout"
    assert urls and ports
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", ports[0]), timeout=1):
        pass


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_second_sign_in_replaces_the_file_and_keeps_user_settings(
    provider, http, providers_at, tmp_path
) -> None:
    first, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    data = orjson.loads(first.path.read_bytes())
    data.update(
        {"prefix": "team", "note": "my account", "proxy_url": "http://127.0.0.1:8080", "disabled": True}
    )
    first.path.write_bytes(orjson.dumps(data))

    second, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    assert second.path == first.path
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]
    now = orjson.loads(second.path.read_bytes())
    assert now["access_token"] != data["access_token"] and now["refresh_token"] != data["refresh_token"]
    assert (now["prefix"], now["note"], now["proxy_url"]) == ("team", "my account", "http://127.0.0.1:8080")
    assert now["disabled"] is False  # a new sign-in enables the account again (CPA)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_file_refreshes_and_the_rotated_token_is_written_back(
    provider, http, providers_at, tmp_path
) -> None:
    saved, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    cred = load_auth_file(saved.path, tmp_path)
    assert cred is not None and cred.provider == provider and cred.label == "user@example.com"
    assert cred.access_token == saved.record["access_token"] and cred.expires_at() is not None
    pool = Pool()
    pool.replace([cred])
    refresher = Refresher(pool, http, token_urls={provider: providers_at.base + CASES[provider][3]})

    first = await refresher.refresh_now(cred)
    on_disk = orjson.loads(saved.path.read_bytes())
    assert on_disk["refresh_token"] == first.refresh_token != saved.record["refresh_token"]
    assert on_disk["access_token"] == first.access_token

    # the old refresh token is dead at the fake: only the written-back one works
    again = load_auth_file(saved.path, tmp_path)
    assert again is not None
    pool.replace([again])
    second = await refresher.refresh_now(again)
    assert second.refresh_token not in (first.refresh_token, saved.record["refresh_token"])
    assert orjson.loads(saved.path.read_bytes())["refresh_token"] == second.refresh_token


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_token_or_code_reaches_the_log(provider, http, providers_at, tmp_path, caplog) -> None:
    caplog.set_level("DEBUG")
    saved, _ = await login_in_browser(make_flow(provider, http), tmp_path, redirect_uri=CASES[provider][1])
    secrets = [saved.record["access_token"], saved.record["refresh_token"], "code-"]  # the fake's codes
    assert saved.path.name in caplog.text  # the log says where the file went...
    for secret in secrets:
        assert secret not in caplog.text  # ...and nothing a thief could use
