"""The handshake of Codex's upstream Responses WebSocket as Codex sees it, through a
running proxy: CPA's ``applyCodexWebsocketHeaders`` cases
(``internal/runtime/executor/codex_websockets_executor_test.go``). A Codex CLI on the
proxy's socket is served over Codex's socket when the account has ``websockets``; the
upgrade request carries the identity an HTTP request would (one header builder,
``providers/codex.py``) plus the socket's own headers. Each case sends one turn and reads
the headers the fake Codex socket recorded for it; some also send the same client over
HTTP, for the HTTP twin of the case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_provider_identity_codex import FAR, OFFICIAL_UA, confused
from tests.e2e.test_responses_ws import connect, turn, ws_messages

HEAD = f'api-keys: ["{KEY}"]\n'
NO_CLOAK = "codex:\n  disable-codex-cloaking: true\n"
DEFAULTS = 'codex-header-defaults:\n  user-agent: "config-ua"\n  beta-features: "config-beta"\n'
TURN = {"type": "response.create", "model": "gpt-5.4", "input": "hello"}


def oauth_file(tmp_path: Path, base: str) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / "codex.json").write_bytes(
        orjson.dumps(
            {
                "type": "codex",
                "access_token": "codex-token",
                "refresh_token": "r",
                "account_id": "acct-1",
                "email": "user@example.com",
                "expired": FAR,
                "base_url": base,
                "websockets": True,
            }
        )
    )


def api_key(base: str, extra: str = "") -> str:
    return f"""
codex-api-key:
  - api-key: "sk-test"
    base-url: "{base}"
    websockets: true
    models: [{{name: "gpt-5.4"}}]
{extra}"""


async def handshake(proxy: Any, fake: Any, headers: dict[str, str], *, no_agent: bool = False) -> Any:
    """One turn on the proxy's socket with these client headers; the upgrade's headers."""
    skip = ["User-Agent"] if no_agent else []
    async with aiohttp.ClientSession(skip_auto_headers=skip) as s:
        async with await connect(s, proxy, headers={"Authorization": f"Bearer {KEY}", **headers}) as ws:
            events = await turn(ws, TURN)
    assert events[-1]["type"] == "response.completed", events
    return ws_messages(fake)[-1].headers


async def over_http(proxy: Any, fake: Any, headers: dict[str, str]) -> Any:
    """The same client over HTTP: the headers of the POST Codex got."""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, default_headers=headers
    ) as client:
        await client.responses.create(model="gpt-5.4", input="hello")
    return fake.last.headers


@pytest.mark.parametrize("account", ["oauth", "api-key"])
async def test_the_handshake_is_cloaked_by_default(start_proxy, fake_responses, tmp_path, account):
    """CPA TestApplyCodexWebsocketHeadersDefaultsToCodexCloaking (OAuth and API key) and,
    over HTTP, TestApplyCodexHeadersDefaultsToCodexCloaking: the official Codex
    ``User-Agent`` and ``Originator`` win over the client's, the config's default and the
    account's own configured headers."""
    base = fake_responses.base_url + "/backend-api/codex"
    client = {"User-Agent": "client-ua", "Originator": "client-origin"}
    if account == "oauth":
        oauth_file(tmp_path, base)
        proxy = await start_proxy(HEAD + DEFAULTS)
        sent = await handshake(proxy, fake_responses, client)
        assert (sent["User-Agent"], sent["Originator"]) == (OFFICIAL_UA, "codex-tui")
        assert sent["Authorization"] == "Bearer codex-token"
        return
    custom = '    headers: {User-Agent: "custom-ua", Originator: "custom-origin"}\n'
    proxy = await start_proxy(HEAD + DEFAULTS + api_key(base).replace("    models:", custom + "    models:"))
    for sent in (
        await handshake(proxy, fake_responses, client),
        await over_http(proxy, fake_responses, client),
    ):
        assert (sent["User-Agent"], sent["Originator"]) == (OFFICIAL_UA, "codex-tui")
        assert sent["Authorization"] == "Bearer sk-test"


async def test_with_cloaking_off_the_codex_clients_identity_goes_on(start_proxy, fake_responses, tmp_path):
    """CPA TestApplyCodexWebsocketHeadersPassesThroughClientIdentityHeadersWhenCloakingDisabled,
    TestApplyCodexWebsocketHeadersCanonicalizesLegacyUnderscoreSessionHeader and (over HTTP)
    TestApplyCodexHeadersPassesThroughClientIdentityHeaders: Codex Desktop's ``Originator``,
    ``User-Agent``, ``Version``, turn metadata and request id reach Codex; its session
    header, spelt ``session-id`` or ``Session_id``, goes on the socket as ``session_id``
    alone (it was sent as ``Session-Id``)."""
    base = fake_responses.base_url + "/backend-api/codex"
    oauth_file(tmp_path, base)
    proxy = await start_proxy(HEAD + NO_CLOAK)
    identity = {
        "Originator": "Codex Desktop",
        "User-Agent": "codex_cli_rs/0.1.0",
        "Version": "0.115.0-alpha.27",
        "X-Codex-Turn-Metadata": '{"turn_id":"turn-1"}',
        "X-Client-Request-Id": "019d2233-e240-7162-992d-38df0a2a0e0d",
    }
    for session_name in ("session-id", "Session_id"):
        sent = await handshake(proxy, fake_responses, {**identity, session_name: "legacy-session"})
        for name, value in identity.items():
            assert sent[name] == value, name
        sessions = [(k, v) for k, v in sent.items() if k.lower() in ("session_id", "session-id")]
        assert sessions == [("session_id", "legacy-session")], sessions
    sent = await over_http(proxy, fake_responses, identity)
    for name in ("Originator", "Version", "X-Codex-Turn-Metadata", "X-Client-Request-Id"):
        assert sent[name] == identity[name], name


async def test_the_configured_user_agent_is_for_oauth_and_the_clients_beta_wins(
    start_proxy, fake_responses, tmp_path
):
    """CPA TestApplyCodexWebsocketHeadersConfigUserAgentOverridesClientHeader and (over
    HTTP) TestApplyCodexHeadersUsesConfigUserAgentForOAuth: with cloaking off an OAuth
    account goes as ``codex-header-defaults.user-agent`` whatever the client's; the
    client's own beta features win over the config's on the socket, and over HTTP neither
    is sent."""
    oauth_file(tmp_path, fake_responses.base_url + "/backend-api/codex")
    proxy = await start_proxy(HEAD + NO_CLOAK + DEFAULTS)
    client = {"User-Agent": "client-ua", "X-Codex-Beta-Features": "client-beta"}
    sent = await handshake(proxy, fake_responses, client)
    assert (sent["User-Agent"], sent["x-codex-beta-features"]) == ("config-ua", "client-beta")
    sent = await over_http(proxy, fake_responses, {"User-Agent": "client-ua"})
    assert sent["User-Agent"] == "config-ua" and "x-codex-beta-features" not in sent


async def test_an_api_key_keeps_the_clients_identity_and_takes_none_of_ours(start_proxy, fake_responses):
    """CPA TestApplyCodexWebsocketHeadersPreservesExplicitAPIKeyUserAgent and
    TestApplyCodexWebsocketHeadersIgnoresConfigForAPIKeyAuth, with cloaking off: the
    client's ``User-Agent`` and ``Originator`` go on; a client that sends neither gets no
    ``Originator`` nor beta features of ours, and not the OAuth default agent."""
    base = fake_responses.base_url + "/backend-api/codex"
    proxy = await start_proxy(HEAD + NO_CLOAK + DEFAULTS + api_key(base))
    client = {"User-Agent": "api-key-client/1.0", "Originator": "explicit-origin"}
    sent = await handshake(proxy, fake_responses, client)
    assert (sent["User-Agent"], sent["Originator"]) == ("api-key-client/1.0", "explicit-origin")
    sent = await handshake(proxy, fake_responses, {}, no_agent=True)
    assert "Originator" not in sent and "x-codex-beta-features" not in sent
    assert sent.get("User-Agent") != "config-ua"


async def test_an_oauth_account_is_named_once(start_proxy, fake_responses, tmp_path):
    """CPA TestApplyCodexWebsocketHeadersUsesCanonicalAccountHeader: the ChatGPT account
    header goes once, with the account's id (Go keys headers by exact spelling; here there
    is one such header whatever its case); and
    TestApplyCodexHeadersDoesNotInjectClientOnlyHeadersByDefault: a client that sends no
    ``Version``, turn metadata or request id gets none made up."""
    oauth_file(tmp_path, fake_responses.base_url + "/backend-api/codex")
    proxy = await start_proxy(HEAD)
    upgrade = await handshake(proxy, fake_responses, {})
    assert upgrade.getall("ChatGPT-Account-ID") == ["acct-1"]
    for sent in (upgrade, await over_http(proxy, fake_responses, {})):
        for name in ("Version", "X-Codex-Turn-Metadata", "X-Client-Request-Id"):
            assert name not in sent, name


async def test_identity_confuse_names_the_socket_session_the_older_way(start_proxy, fake_responses, tmp_path):
    """CPA TestApplyCodexWebsocketHeadersIdentityConfuseRemapsPromptCacheKey: under
    ``codex.identity-confuse`` the caller's prompt-cache key becomes the account's own on
    the socket too: in the body, as ``session_id`` (no ``Session-Id``), request id,
    thread, conversation and window ids and the turn metadata; the turn id and the
    installation id get stand-ins of their own. (Was broken: the socket's own copy of the
    client's headers put the caller's real request id and turn metadata back.)"""
    oauth_file(tmp_path, fake_responses.base_url + "/backend-api/codex")
    proxy = await start_proxy(HEAD + "routing:\n  session-affinity: true\ncodex:\n  identity-confuse: true\n")
    [cred] = proxy.service.pool.credentials()
    meta = '{"prompt_cache_key":"cache-ws-1","turn_id":"turn-ws-1","window_id":"cache-ws-1:0"}'
    message = {
        **TURN,
        "prompt_cache_key": "cache-ws-1",
        "client_metadata": {"x-codex-installation-id": "install-ws-1"},
    }
    client = {
        "X-Codex-Turn-Metadata": meta,
        "X-Client-Request-Id": "client-request-1",
        "Session-Id": "cache-ws-1",
    }
    async with aiohttp.ClientSession() as s:
        async with await connect(s, proxy, headers={"Authorization": f"Bearer {KEY}", **client}) as ws:
            await turn(ws, message)
    rec = ws_messages(fake_responses)[-1]
    key = confused(cred.id, "prompt-cache", "cache-ws-1")
    assert rec.json["prompt_cache_key"] == key
    assert rec.json["client_metadata"]["x-codex-installation-id"] == confused(
        cred.id, "installation", "install-ws-1"
    )
    sent = rec.headers
    sessions = [(k, v) for k, v in sent.items() if k.lower() in ("session_id", "session-id")]
    assert sessions == [("session_id", key)], sessions
    assert sent["X-Client-Request-Id"] == sent["Thread-Id"] == key
    assert sent["X-Codex-Window-Id"] == f"{key}:0"
    turn_meta = orjson.loads(sent["X-Codex-Turn-Metadata"])
    assert turn_meta["prompt_cache_key"] == key and turn_meta["window_id"] == f"{key}:0"
    assert turn_meta["turn_id"] == confused(cred.id, "turn", "turn-ws-1")


async def test_each_client_header_goes_once(start_proxy, fake_responses, tmp_path):
    """Codex CLI's own headers on the socket: each goes once, as the client sent it (CPA
    ``applyCodexWebsocketHeaders``), though both the HTTP identity and the socket's own
    list carry them."""
    oauth_file(tmp_path, fake_responses.base_url + "/backend-api/codex")
    proxy = await start_proxy(HEAD)
    client = {
        "Version": "0.169.0",
        "X-Codex-Turn-Metadata": '{"turn_id":"turn-1"}',
        "X-Client-Request-Id": "request-1",
        "X-Codex-Beta-Features": "remote_compaction_v2",
        "X-Codex-Turn-State": "state-1",
    }
    sent = await handshake(proxy, fake_responses, client)
    for name, value in client.items():
        assert sent.getall(name) == [value], name
