"""The first request after a sign-in, for every subscription provider (issue 13): a real
``cliproxy -<provider>-login`` process signs in against the fake authorization server (the
test plays the browser, or the fake approves the device code) while a proxy runs on the
same auth-dir; the proxy takes the new file up through its watcher, without a restart, and
one request through it with the official SDK of the fitting client format reaches the fake
upstream with the NEW access token.

A brand-new file has no ``base_url``, so its requests go to the provider's default API;
``CLIPROXY_OAUTH_<PROVIDER>_API`` (the endpoint table, read when the proxy builds its
providers) points that at the fake upstream. The sign-in process gets only the ``_BASE``
override of the authorization server, as a user's machine would.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anthropic
import openai
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.login.test_cli import EMAIL, auth_env, clis, sign_in  # noqa: F401
from tests.login.test_cli_device import device, device_login  # noqa: F401

HEAD = f'api-keys: ["{KEY}"]\n'
PROMPT = "Say hello"


async def eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def model_ids(proxy) -> set[str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        return {m.id for m in (await client.models.list()).data}


async def wait_for_model(proxy, model: str) -> None:
    """Until the proxy's watcher has taken the new file up (its models are listed)."""

    async def listed() -> bool:
        return model in await model_ids(proxy)

    assert await eventually(listed), f"the running proxy did not take up the new account ({model})"


async def start_with_api(start_proxy, monkeypatch, provider: str, api: str, name: str = "API"):
    """A proxy on the test's auth-dir whose ``provider`` API default is ``api``: the
    override is set before the proxy starts, since providers read it when built."""
    monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_{name}", api)
    return await start_proxy(HEAD, watch=True)


def only_login_env(env: dict[str, str]) -> dict[str, str]:
    """The sign-in process's environment without the proxy's API overrides."""
    return {k: v for k, v in env.items() if not k.endswith(("_API", "_CLI_CHAT"))}


@pytest.fixture
def long_tokens(auth_server) -> None:
    """Tokens that outlive the refresh lead (Claude 4 h, Codex 5 days): the proxy must not
    refresh the new token before the first request (the refresh has its own tests)."""
    auth_server.expires_in = 10 * 24 * 3600


def saved(tmp_path: Path, name: str) -> dict:
    return orjson.loads((tmp_path / "auths" / name).read_bytes())


def the_file(tmp_path: Path) -> dict:
    [path] = (tmp_path / "auths").iterdir()
    return orjson.loads(path.read_bytes())


# -- one request per client format, with the status the proxy answered


async def claude_messages(proxy, model: str) -> tuple[int, str]:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        raw = await client.messages.with_raw_response.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        )
    msg = await raw.parse()
    return raw.status_code, "".join(b.text for b in msg.content if b.type == "text")


async def openai_chat(proxy, model: str) -> tuple[int, str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": PROMPT}]
        )
    return raw.status_code, raw.parse().choices[0].message.content or ""


async def openai_responses(proxy, model: str) -> tuple[int, str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.responses.with_raw_response.create(model=model, input=PROMPT)
    return raw.status_code, raw.parse().output_text


async def gemini_generate(proxy, model: str) -> tuple[int, str]:
    # google-genai keeps no status on a success; it raises ``APIError`` on any other answer
    answer = await ask(Format.GEMINI, proxy.url, model, PROMPT, stream=False)
    return 200, answer.text


# -- the callback sign-ins


async def test_claude_first_request_after_login(
    start_proxy,
    fake_claude,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    long_tokens,
    tmp_path,
    monkeypatch,
) -> None:
    proxy = await start_with_api(start_proxy, monkeypatch, "CLAUDE", fake_claude.base_url)
    code, _out, err, _page = await sign_in(clis, tmp_path, only_login_env(auth_env), "claude")
    assert code == 0, err
    token = saved(tmp_path, f"claude-{EMAIL}.json")["access_token"]
    await wait_for_model(proxy, "claude-sonnet-4-6")

    answer = "Hello from fake-claude (model claude-sonnet-4-6)"
    assert await claude_messages(proxy, "claude-sonnet-4-6") == (200, answer)
    rec = fake_claude.last
    assert rec.path == "/v1/messages"
    assert rec.headers["Authorization"] == f"Bearer {token}" and token.startswith("at-claude-")
    assert "oauth-2025-04-20" in rec.headers["anthropic-beta"]
    assert "x-api-key" not in rec.headers


async def test_codex_first_request_after_login(
    start_proxy,
    fake_responses,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    auth_server,
    long_tokens,
    tmp_path,
    monkeypatch,
) -> None:
    api = fake_responses.base_url + "/backend-api/codex"  # the real path, on the fake
    proxy = await start_with_api(start_proxy, monkeypatch, "CODEX", api)
    code, _out, err, _page = await sign_in(clis, tmp_path, only_login_env(auth_env), "codex")
    assert code == 0, err
    token = the_file(tmp_path)["access_token"]
    await wait_for_model(proxy, "gpt-5.4")

    answer = "Hello from fake-responses (model gpt-5.4)"
    assert await openai_responses(proxy, "gpt-5.4") == (200, answer)
    rec = fake_responses.last
    assert rec.path == "/backend-api/codex/responses"
    assert rec.headers["Authorization"] == f"Bearer {token}" and token.startswith("at-codex-")
    assert rec.headers["Chatgpt-Account-Id"] == auth_server.account.chatgpt_account_id
    assert rec.json["stream"] is True  # the ChatGPT backend only streams


async def test_antigravity_first_request_after_login(
    start_proxy,
    fake_gemini,
    clis,  # noqa: F811
    auth_env,  # noqa: F811
    auth_server,
    tmp_path,
    monkeypatch,
) -> None:
    # the sign-in process finds the project on the authorization fake (its _BASE); only
    # the proxy's chat requests go to the Gemini fake, which speaks the v1internal envelope
    proxy = await start_with_api(start_proxy, monkeypatch, "ANTIGRAVITY", fake_gemini.base_url)
    code, _out, err, _page = await sign_in(clis, tmp_path, only_login_env(auth_env), "antigravity")
    assert code == 0, err
    data = saved(tmp_path, f"antigravity-{EMAIL}.json")
    assert data["project_id"] == auth_server.account.project
    await wait_for_model(proxy, "gemini-3-flash")

    answer = "Hello from fake-gemini (model gemini-3-flash)"
    assert await gemini_generate(proxy, "gemini-3-flash") == (200, answer)
    rec = fake_gemini.last
    assert rec.path == "/v1internal:generateContent"
    assert rec.headers["Authorization"] == f"Bearer {data['access_token']}"
    assert data["access_token"].startswith("at-google-")
    assert rec.json["project"] == auth_server.account.project
    assert rec.json["model"] == "gemini-3-flash"
    assert rec.json["request"]["contents"][0]["parts"][0]["text"] == PROMPT


# -- the device-code sign-ins


@pytest.mark.parametrize("client", ["openai", "claude"])
async def test_kimi_first_request_after_login(
    client,
    start_proxy,
    fake_openai,
    fake_claude,
    clis,  # noqa: F811
    device,  # noqa: F811
    tmp_path,
    monkeypatch,
) -> None:
    # Kimi serves Claude clients at its Anthropic endpoint, the others at Chat Completions
    fake = fake_claude if client == "claude" else fake_openai
    proxy = await start_with_api(start_proxy, monkeypatch, "KIMI", fake.base_url + "/coding")
    code, _out, err, _page = await device_login(clis, device, tmp_path, "kimi")
    assert code == 0, err
    data = the_file(tmp_path)
    await wait_for_model(proxy, "kimi-k2")

    call = claude_messages if client == "claude" else openai_chat
    assert await call(proxy, "kimi-k2") == (200, f"Hello from fake-{client} (model k2)")
    rec = fake.last
    assert rec.path == ("/coding/v1/messages" if client == "claude" else "/coding/v1/chat/completions")
    assert rec.headers["Authorization"] == f"Bearer {data['access_token']}"
    assert data["access_token"].startswith("kimi-at-")
    assert rec.json["model"] == "k2"  # CPA's "kimi-" prefix is not Kimi's
    if client == "openai":
        assert rec.headers["X-Msh-Device-Id"] == data["device_id"]


async def test_xai_first_request_after_login(
    start_proxy,
    fake_responses,
    clis,  # noqa: F811
    device,  # noqa: F811
    tmp_path,
    monkeypatch,
) -> None:
    # an xAI OAuth file chats through the Grok CLI proxy (its ``cli-chat`` URL), in the
    # Responses dialect, even though CPA's sign-in writes the public API as its base_url
    proxy = await start_with_api(
        start_proxy, monkeypatch, "XAI", fake_responses.base_url + "/v1", name="CLI_CHAT"
    )
    code, _out, err, _page = await device_login(clis, device, tmp_path, "xai")
    assert code == 0, err
    data = saved(tmp_path, f"xai-{EMAIL}.json")
    assert data["base_url"] == "https://api.x.ai/v1" and data["auth_kind"] == "oauth"
    await wait_for_model(proxy, "grok-4.6")

    assert await openai_responses(proxy, "grok-4.6") == (200, "Hello from fake-responses (model grok-4.6)")
    rec = fake_responses.last
    assert rec.path == "/v1/responses"
    assert rec.headers["Authorization"] == f"Bearer {data['access_token']}"
    assert data["access_token"].startswith("xai-at-")
    assert rec.headers["X-XAI-Token-Auth"] == "xai-grok-cli"  # the Grok CLI identity
    assert rec.json["stream"] is True
