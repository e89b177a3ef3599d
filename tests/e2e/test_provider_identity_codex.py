"""The identity a Codex upstream sees, through a running proxy, for every kind of client.

CPA's rules (``codex_executor_request.go``): the official Codex ``User-Agent`` and
``Originator`` on every request unless ``codex.disable-codex-cloaking``;
``codex-header-defaults.user-agent`` for OAuth accounts only, ahead of the client's own;
an API key gets no ``Originator`` of ours; the Codex CLI's session headers go on;
``codex.identity-confuse`` swaps the caller's ids for per-credential ones.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.fakes.server import Behavior

CLIENTS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
CLIENT_IDS = [c.value for c in CLIENTS]
HEAD = f'api-keys: ["{KEY}"]\n'
FAR = "2099-01-01T00:00:00Z"
OFFICIAL_UA = "codex-tui/0.146.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10 (codex-tui; 0.146.0)"
CAPTURE_UA = "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)"
SESSION = "01a1ffbc-b297-79c0-b0ff-60cd8cc0408c"
INSTALLATION = "ed45e321-fcaa-4ef3-803b-c1e9bacafaf6"
TURN = "01a1ffbc-b2ab-7e12-9ef8-f71cab87fe50"
TURN_METADATA = orjson.dumps(
    {
        "installation_id": INSTALLATION,
        "session_id": SESSION,
        "thread_id": SESSION,
        "agent_name": "/home/user",
        "turn_id": TURN,
    }
).decode()


def capture_headers() -> dict[str, str]:
    """Codex CLI 0.169.0's request headers (reference/real-clients-requests.md), our key."""
    return {
        "x-codex-beta-features": "remote_compaction_v2",
        "x-codex-window-id": f"{SESSION}:0",
        "x-codex-turn-metadata": TURN_METADATA,
        "x-client-request-id": SESSION,
        "session-id": SESSION,
        "thread-id": SESSION,
        "accept": "text/event-stream",
        "content-type": "application/json",
        "authorization": f"Bearer {KEY}",
        "originator": "codex_exec",
        "user-agent": CAPTURE_UA,
    }


def capture_body() -> dict:
    """The capture's body, trimmed to one turn."""
    return {
        "model": "gpt-5.4",
        "stream": True,
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "high", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": SESSION,
        "client_metadata": {
            "turn_id": TURN,
            "session_id": SESSION,
            "thread_id": SESSION,
            "x-codex-turn-metadata": TURN_METADATA,
            "x-codex-window-id": f"{SESSION}:0",
            "x-codex-installation-id": INSTALLATION,
        },
    }


async def send_capture(url: str) -> bytes:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url + "/v1/responses", data=orjson.dumps(capture_body()), headers=capture_headers()
        ) as resp:
            data = await resp.read()
            assert resp.status == 200, data
            return data


def write_codex_file(
    tmp_path: Path, base_url: str, name: str = "codex-a.json", account: str = "acct-1"
) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / name).write_bytes(
        orjson.dumps(
            {
                "type": "codex",
                "access_token": f"codex-token-{account}",
                "refresh_token": "codex-refresh",
                "account_id": account,
                "email": f"{account}@example.com",
                "expired": FAR,
                "base_url": base_url,
            }
        )
    )


def api_key_entry(base_url: str) -> str:
    return f"""
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{base_url}"
    models:
      - name: "gpt-5.4"
"""


@pytest.fixture
def codex_base(fake_responses) -> str:
    return fake_responses.base_url + "/backend-api/codex"


def no_client_key(headers) -> None:
    """The client's proxy key never goes upstream, in any header."""
    assert all(KEY not in value for value in headers.values()), dict(headers)


# ---------------------------------------------------------------- cloaking on (the default)


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_oauth_codex_gets_the_official_identity_from_every_client(
    start_proxy, fake_responses, codex_base, tmp_path, client
):
    """CPA: TestApplyCodexHeadersUsesAccountHeaderForOAuth (Chatgpt-Account-Id)."""
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD)
    answer = await ask(client, proxy.url, "gpt-5.4", "Say hello", stream=False)
    assert "Hello from fake" in answer.text, answer.raw
    rec = fake_responses.last
    assert rec.path == "/backend-api/codex/responses"
    assert rec.headers["User-Agent"] == OFFICIAL_UA
    assert rec.headers["Originator"] == "codex-tui"
    assert rec.headers["Authorization"] == "Bearer codex-token-acct-1"
    assert rec.headers["Chatgpt-Account-Id"] == "acct-1"
    no_client_key(rec.headers)


@pytest.mark.parametrize(
    ("stored", "sent"), [(" acct-1\t", "acct-1"), ("   ", None)], ids=["padded", "blank"]
)
async def test_the_account_header_is_the_stored_id_as_it_reaches_the_wire(
    start_proxy, fake_responses, codex_base, tmp_path, stored: str, sent: str | None
):
    """CPA TestApplyCodexHeadersUsesAccountHeaderForOAuth, for an auth file whose
    ``account_id`` has spaces around it (hand-edited or copied). CPA sets the stored string,
    and Go's HTTP client trims a header value's surrounding whitespace when it writes it, so
    the upstream sees ``acct-1`` from CPA too: the proxy trims it itself and sends the same.
    Deliberate difference: a blank id sends no header, as the Codex CLI does without an
    account and as CPA's own Realtime and search calls do, where CPA's executor sends an
    empty ``Chatgpt-Account-Id``."""
    write_codex_file(tmp_path, codex_base)
    path = tmp_path / "auths" / "codex-a.json"
    path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), "account_id": stored}))
    proxy = await start_proxy(HEAD)
    await ask(Format.RESPONSES, proxy.url, "gpt-5.4", "Say hello", stream=False)
    assert fake_responses.last.headers.get("Chatgpt-Account-Id") == sent


@pytest.mark.parametrize("client", [Format.OPENAI, Format.CLAUDE], ids=["openai", "claude"])
async def test_api_key_codex_is_cloaked_too(start_proxy, fake_responses, codex_base, client):
    proxy = await start_proxy(HEAD + api_key_entry(codex_base))
    await ask(client, proxy.url, "gpt-5.4", "Say hello", stream=True)
    rec = fake_responses.last
    assert rec.headers["User-Agent"] == OFFICIAL_UA
    assert rec.headers["Originator"] == "codex-tui"
    assert rec.headers["Authorization"] == "Bearer sk-codex-1"
    assert "Chatgpt-Account-Id" not in rec.headers  # an API key has no ChatGPT account
    no_client_key(rec.headers)


async def test_codex_cli_capture_keeps_its_session_headers_under_the_official_identity(
    start_proxy, fake_responses, codex_base, tmp_path
):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD)
    await send_capture(proxy.url)
    rec = fake_responses.last
    assert rec.headers["User-Agent"] == OFFICIAL_UA
    assert rec.headers["Originator"] == "codex-tui"
    for name in ("x-codex-beta-features", "x-codex-window-id", "x-codex-turn-metadata"):
        assert rec.headers[name] == capture_headers()[name], name
    for name in ("x-client-request-id", "session-id", "thread-id"):
        assert rec.headers[name] == SESSION, name
    assert rec.json["prompt_cache_key"] == SESSION
    no_client_key(rec.headers)


# ---------------------------------------------------------------- cloaking off


@pytest.mark.parametrize("client", CLIENTS, ids=CLIENT_IDS)
async def test_disabled_cloaking_forwards_the_client_identity_for_api_keys(
    start_proxy, fake_responses, codex_base, client
):
    proxy = await start_proxy(HEAD + "codex:\n  disable-codex-cloaking: true\n" + api_key_entry(codex_base))
    await ask(client, proxy.url, "gpt-5.4", "Say hello", stream=False)
    rec = fake_responses.last
    ua = rec.headers["User-Agent"]
    assert ua and ua != OFFICIAL_UA and not ua.startswith("codex")  # the SDK's own
    assert "Originator" not in rec.headers  # CPA sets none of its own for an API key


async def test_disabled_cloaking_forwards_the_codex_cli_identity(
    start_proxy, fake_responses, codex_base, tmp_path
):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "codex:\n  disable-codex-cloaking: true\n")
    await send_capture(proxy.url)
    rec = fake_responses.last
    assert rec.headers["User-Agent"] == CAPTURE_UA
    assert rec.headers["Originator"] == "codex_exec"


async def test_disabled_cloaking_oauth_without_client_identity_gets_the_official_one(
    start_proxy, fake_responses, codex_base, tmp_path
):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "codex:\n  disable-codex-cloaking: true\n")
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as http:
        async with http.post(
            proxy.url + "/v1/responses",
            data=orjson.dumps(capture_body()),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 200, await resp.read()
    rec = fake_responses.last
    assert rec.headers["User-Agent"] == OFFICIAL_UA
    assert rec.headers["Originator"] == "codex-tui"


# ---------------------------------------------------------------- codex-header-defaults

DEFAULTS = (
    'codex-header-defaults:\n  user-agent: "codex_cli_rs/0.114.0 (Mac OS 14.2.0; x86_64) vscode/1.111.0"\n'
)


async def test_header_default_user_agent_wins_for_oauth_when_cloaking_is_off(
    start_proxy, fake_responses, codex_base, tmp_path
):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "codex:\n  disable-codex-cloaking: true\n" + DEFAULTS)
    await send_capture(proxy.url)  # the client sends its own User-Agent: the config's wins (CPA)
    rec = fake_responses.last
    assert rec.headers["User-Agent"] == "codex_cli_rs/0.114.0 (Mac OS 14.2.0; x86_64) vscode/1.111.0"
    assert rec.headers["Originator"] == "codex_exec"


async def test_header_default_user_agent_is_not_for_api_keys(start_proxy, fake_responses, codex_base):
    proxy = await start_proxy(
        HEAD + "codex:\n  disable-codex-cloaking: true\n" + DEFAULTS + api_key_entry(codex_base)
    )
    await send_capture(proxy.url)
    assert fake_responses.last.headers["User-Agent"] == CAPTURE_UA


async def test_cloaking_outranks_the_header_default(start_proxy, fake_responses, codex_base, tmp_path):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + DEFAULTS)
    await send_capture(proxy.url)
    assert fake_responses.last.headers["User-Agent"] == OFFICIAL_UA


# ---------------------------------------------------------------- codex.identity-confuse


def confused(cred_id: str, kind: str, value: str) -> str:
    name = f"cli-proxy-api:codex:identity-confuse:{kind}:{cred_id}:{value}"
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


async def test_identity_confuse_swaps_the_callers_ids_per_credential(
    start_proxy, fake_responses, codex_base, tmp_path
):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "routing:\n  session-affinity: true\ncodex:\n  identity-confuse: true\n")
    [cred] = proxy.service.pool.credentials()
    await send_capture(proxy.url)
    rec = fake_responses.last
    key = confused(cred.id, "prompt-cache", SESSION)
    assert key != SESSION
    body = rec.json
    assert body["prompt_cache_key"] == key
    meta = body["client_metadata"]
    assert meta["x-codex-installation-id"] == confused(cred.id, "installation", INSTALLATION)
    assert meta["x-codex-window-id"] == f"{key}:0"
    turn_meta = orjson.loads(meta["x-codex-turn-metadata"])
    assert turn_meta["turn_id"] == confused(cred.id, "turn", TURN)
    for name in ("Session-Id", "Thread-Id", "X-Client-Request-Id"):
        assert rec.headers[name] == key, name
    assert rec.headers["X-Codex-Window-Id"] == f"{key}:0"
    assert orjson.loads(rec.headers["X-Codex-Turn-Metadata"])["turn_id"] == confused(cred.id, "turn", TURN)
    assert SESSION not in rec.headers.get("Session-Id", "")


async def test_identity_confuse_needs_a_sticky_routing(start_proxy, fake_responses, codex_base, tmp_path):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "codex:\n  identity-confuse: true\n")  # round-robin, no affinity
    await send_capture(proxy.url)
    rec = fake_responses.last
    assert rec.json["prompt_cache_key"] == SESSION
    assert rec.headers["session-id"] == SESSION


async def test_identity_confuse_with_fill_first(start_proxy, fake_responses, codex_base, tmp_path):
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "routing:\n  strategy: fill-first\ncodex:\n  identity-confuse: true\n")
    [cred] = proxy.service.pool.credentials()
    await send_capture(proxy.url)
    assert fake_responses.last.json["prompt_cache_key"] == confused(cred.id, "prompt-cache", SESSION)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_identity_confuse_gives_the_caller_its_own_ids_back(
    start_proxy, fake_responses, codex_base, tmp_path, stream
):
    """CPA TestCodexIdentityConfuseResponsePayloadHidesUpstreamAndRestoresClient: the
    stand-ins the upstream echoes come back to the caller as its own ids."""
    write_codex_file(tmp_path, codex_base)
    proxy = await start_proxy(HEAD + "routing:\n  session-affinity: true\ncodex:\n  identity-confuse: true\n")
    [cred] = proxy.service.pool.credentials()
    key, turn = confused(cred.id, "prompt-cache", SESSION), confused(cred.id, "turn", TURN)
    fake_responses.script(Behavior(text=f"cache {key} turn {turn}"))  # the upstream echoes its ids
    body = {**capture_body(), "stream": stream}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            proxy.url + "/v1/responses", data=orjson.dumps(body), headers=capture_headers()
        ) as resp:
            data = await resp.read()
            assert resp.status == 200, data
    assert f"cache {SESSION} turn {TURN}".encode() in data
    assert key.encode() not in data and turn.encode() not in data
    assert fake_responses.last.json["prompt_cache_key"] == key
