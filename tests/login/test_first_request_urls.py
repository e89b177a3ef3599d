"""Where a subscription provider sends a credential without its own ``base_url``: the
endpoint table's API URLs, and what ``CLIPROXY_OAUTH_<PROVIDER>_API`` / ``_CLI_CHAT`` /
``_BASE`` change (an environment override is a setting too, so each has a test). The
providers read the table when they are built, never per request."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.base import Provider
from cliproxy.providers.registry import Providers

PRIVATE = "http://127.0.0.1:9000"
# provider -> (the URL a new OAuth file's request goes to, the path kept under _BASE)
DEFAULTS = {
    "claude": ("https://api.anthropic.com/v1/messages?beta=true", "/v1/messages?beta=true"),
    "codex": ("https://chatgpt.com/backend-api/codex/responses", "/backend-api/codex/responses"),
    "antigravity": (  # the daily host first (providers.antigravity_hosts)
        "https://daily-cloudcode-pa.googleapis.com/v1internal:generateContent",
        "/v1internal:generateContent",
    ),
    "kimi": ("https://api.kimi.com/coding/v1/chat/completions", "/coding/v1/chat/completions"),
    "xai": ("https://cli-chat-proxy.grok.com/v1/responses", "/v1/responses"),
}
# provider -> the path a request adds to its API URL
UNDER_API = {
    "claude": "/v1/messages?beta=true",
    "codex": "/responses",
    "antigravity": "/v1internal:generateContent",
    "kimi": "/v1/chat/completions",
    "xai": "/responses",
}
# the endpoint name a provider's OAuth chat URL comes from
CHAT_NAME = {"xai": "CLI_CHAT"}


def oauth_file(provider: str) -> Credential:
    """A credential as a brand-new sign-in writes it (xAI's names the public API)."""
    meta = {"access_token": "at-new", "project_id": "proj-1", "account_id": "acct-1"}
    base = "https://api.x.ai/v1" if provider == "xai" else ""
    if provider == "xai":
        meta["auth_kind"] = "oauth"
    return Credential(id=f"{provider}-1", provider=provider, kind=KIND_OAUTH, metadata=meta, base_url=base)


def url_of(provider: Provider, cred: Credential) -> str:
    body = {"messages": [{"role": "user", "content": "hi"}], "contents": [], "input": "hi"}
    return provider.build(cred, body, model="m", stream=False, client_headers={}).url


def built(key: str) -> Provider:
    found = Providers().get(key)
    assert found is not None
    return found


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_without_overrides_a_new_file_goes_to_the_public_api(key) -> None:
    assert url_of(built(key), oauth_file(key)) == DEFAULTS[key][0]


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_the_api_override_moves_a_new_files_requests(key, monkeypatch) -> None:
    name = CHAT_NAME.get(key, "API")
    monkeypatch.setenv(f"CLIPROXY_OAUTH_{key.upper()}_{name}", PRIVATE + "/gw/")
    assert url_of(built(key), oauth_file(key)) == PRIVATE + "/gw" + UNDER_API[key]


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_the_base_override_moves_the_whole_provider_keeping_paths(key, monkeypatch) -> None:
    monkeypatch.setenv(f"CLIPROXY_OAUTH_{key.upper()}_BASE", PRIVATE)
    assert url_of(built(key), oauth_file(key)) == PRIVATE + DEFAULTS[key][1]
    assert endpoints.url(key, "token").startswith(PRIVATE + "/")  # sign-in and refresh too


def test_one_url_wins_over_the_base(monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_BASE", "http://127.0.0.1:1")
    monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_API", PRIVATE + "/codex")
    assert url_of(built("codex"), oauth_file("codex")) == PRIVATE + "/codex/responses"


def test_a_files_own_base_url_wins_over_the_override(monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_KIMI_API", PRIVATE)
    cred = oauth_file("kimi")
    cred.base_url = "https://gw.example/kimi"
    assert url_of(built("kimi"), cred) == "https://gw.example/kimi/v1/chat/completions"


def test_the_urls_are_read_when_the_providers_are_built(monkeypatch) -> None:
    before = built("codex")
    monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_API", PRIVATE)
    assert url_of(before, oauth_file("codex")) == DEFAULTS["codex"][0]  # no env read per request
    assert url_of(built("codex"), oauth_file("codex")) == PRIVATE + "/responses"


async def test_a_proxy_started_after_the_override_uses_it(start_proxy, monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API", PRIVATE)
    proxy = await start_proxy("")
    provider = proxy.service.providers.get("antigravity")
    assert url_of(provider, oauth_file("antigravity")) == PRIVATE + "/v1internal:generateContent"


# -- Claude: API keys keep their header rule


def claude_headers(cred: Credential) -> dict[str, str]:
    return built("claude").build(cred, {"messages": []}, model="m", stream=False, client_headers={}).headers


def test_claude_api_keys_use_x_api_key_at_the_default_host_or_its_override(monkeypatch) -> None:
    key = Credential(id="k", provider="claude", api_key="sk-ant")
    assert claude_headers(key)["x-api-key"] == "sk-ant"
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_API", PRIVATE)  # stands in for api.anthropic.com
    headers = claude_headers(key)
    assert headers["x-api-key"] == "sk-ant" and "Authorization" not in headers
    named = Credential(id="k", provider="claude", api_key="sk-ant", base_url="https://api.anthropic.com/")
    assert claude_headers(named)["x-api-key"] == "sk-ant"


def test_claude_api_keys_are_bearer_at_another_base_url(monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_API", PRIVATE)
    cred = Credential(id="k", provider="claude", api_key="sk-ant", base_url="https://gw.example")
    headers = claude_headers(cred)
    assert headers["Authorization"] == "Bearer sk-ant" and "x-api-key" not in headers


def test_claude_oauth_tokens_are_bearer_at_the_override(monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_API", PRIVATE)
    headers = claude_headers(oauth_file("claude"))
    assert headers["Authorization"] == "Bearer at-new" and "x-api-key" not in headers


# -- xAI: two URLs, API keys at one, OAuth chat at the other


def test_xai_api_keys_follow_the_api_override_and_oauth_the_cli_chat_one(monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_XAI_API", PRIVATE + "/api")
    monkeypatch.setenv("CLIPROXY_OAUTH_XAI_CLI_CHAT", PRIVATE + "/chat")
    provider = built("xai")
    key = Credential(id="x", provider="xai", api_key="xk")
    assert url_of(provider, key) == PRIVATE + "/api/responses"
    oauth = provider.build(oauth_file("xai"), {"input": "hi"}, model="m", stream=False, client_headers={})
    assert oauth.url == PRIVATE + "/chat/responses"
    assert oauth.headers["X-XAI-Token-Auth"] == "xai-grok-cli"  # the Grok CLI identity goes along
    using_api = oauth_file("xai")
    using_api.metadata["using_api"] = True
    assert url_of(provider, using_api) == "https://api.x.ai/v1/responses"  # the file's base_url


# -- the documentation names every URL


def test_docs_list_every_url_of_the_table() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "logins.md").read_text()
    table = doc.split("The names, with CPA's URLs:", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|") for line in table.splitlines()[2:]]
    listed: set[tuple[str, str, str]] = set()
    provider = ""
    for row in rows:
        provider = row[1].strip(" `") or provider
        listed.add((provider, row[2].strip(" `"), row[3].strip().split("`")[1]))
    expected = {
        (p.upper(), name.upper().replace("-", "_"), url)
        for p, names in endpoints.URLS.items()
        for name, url in names.items()
    }
    assert listed == expected
