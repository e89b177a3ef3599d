"""CPA's xAI executor cases (``xai_executor_test.go``) on where a chat request goes and
with which headers: the public API or the Grok CLI chat proxy, by the credential's kind,
``using_api`` and base URL, and the Grok CLI's identity headers only on that proxy."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.xai import API_BASE_URL, CLI_CHAT_PROXY_URL, CLI_VERSION, XAIProvider
from tests.e2e.clients import KEY
from tests.providers.test_xai_cpa_executor import post

GATEWAY = "https://gateway.example.com/v1"
_CLI_ONLY = (
    "X-XAI-Token-Auth",
    "x-grok-client-version",
    "x-grok-client-identifier",
    "x-authenticateresponse",
)


def cred(
    base: str = "", *, kind: str = "", meta: dict[str, Any] | None = None, **attributes: str
) -> Credential:
    """An xAI credential as CPA's tables describe it: ``kind`` "oauth" is the attribute
    ``auth_kind``; ``meta`` the auth file's fields."""
    attrs = dict(attributes)
    if kind:
        attrs["auth_kind"] = kind
    return Credential(
        id="xai-t.json",
        provider="xai",
        kind=KIND_OAUTH if kind == "oauth" or (meta or {}).get("auth_kind") == "oauth" else "apikey",
        base_url=base,
        attributes=attrs,
        metadata={"access_token": "xai-token", **(meta or {})},
    )


@pytest.mark.parametrize(
    ("credential", "want"),
    [
        (cred(), API_BASE_URL),
        (cred(API_BASE_URL), API_BASE_URL),
        (cred(API_BASE_URL, kind="oauth"), CLI_CHAT_PROXY_URL),
        (cred(meta={"auth_kind": "oauth", "base_url": API_BASE_URL}), CLI_CHAT_PROXY_URL),
        (cred(using_api="false"), CLI_CHAT_PROXY_URL),
        (cred(API_BASE_URL, using_api="false"), CLI_CHAT_PROXY_URL),
        (cred(API_BASE_URL + "/", using_api="false"), CLI_CHAT_PROXY_URL),
        (cred(API_BASE_URL, meta={"using_api": False}), CLI_CHAT_PROXY_URL),
        (cred(GATEWAY, using_api="false"), GATEWAY),
        (cred(GATEWAY), GATEWAY),
        (cred(CLI_CHAT_PROXY_URL, using_api="false"), CLI_CHAT_PROXY_URL),
        (cred(API_BASE_URL, using_api="true"), API_BASE_URL),
        (cred(API_BASE_URL, kind="oauth", using_api="true"), API_BASE_URL),
    ],
    ids=[
        "empty",
        "official",
        "oauth",
        "oauth-in-metadata",
        "using_api-false-empty",
        "using_api-false-official",
        "using_api-false-official-slash",
        "using_api-false-in-metadata",
        "using_api-false-custom",
        "custom",
        "using_api-false-chat-proxy",
        "using_api-true",
        "oauth-using_api-true",
    ],
)
def test_chat_base_url(credential: Credential, want: str) -> None:
    """CPA: TestXAIChatBaseURL (its nil-auth row has no counterpart: a request always has a
    credential here). The request goes to ``{base}/responses``."""
    assert XAIProvider().chat_base_url(credential) == want
    req = XAIProvider().build(credential, {"input": "hi"}, model="grok-4.3", stream=True, client_headers={})
    assert req.url == want + "/responses"


def chat_headers(credential: Credential, conv: str = "conv-1") -> dict[str, str]:
    client = {"x-grok-conv-id": conv} if conv else {}
    req = XAIProvider().build(
        credential, {"input": "hi"}, model="grok-4.3", stream=True, client_headers=client
    )
    return dict(req.headers)


def test_chat_headers_official_api() -> None:
    """CPA: TestApplyXAIChatHeaders/non_OAuth_defaults_to_official_API_headers."""
    headers = chat_headers(cred(API_BASE_URL))
    assert headers["Authorization"] == "Bearer xai-token" and headers["x-grok-conv-id"] == "conv-1"
    assert not any(name in headers for name in (*_CLI_ONLY, "User-Agent"))


def test_chat_headers_oauth_chat_proxy() -> None:
    """CPA: TestApplyXAIChatHeaders/OAuth_defaults_to_cli_chat_proxy_headers."""
    headers = chat_headers(cred(API_BASE_URL, kind="oauth"))
    assert headers["Authorization"] == "Bearer xai-token" and headers["x-grok-conv-id"] == "conv-1"
    assert headers["X-XAI-Token-Auth"] == "xai-grok-cli"
    assert headers["x-grok-client-version"] == CLI_VERSION
    assert headers["x-grok-client-identifier"] == "grok-shell"
    assert headers["x-authenticateresponse"] == "authenticate-response"
    assert headers["User-Agent"] == f"xai-grok-workspace/{CLI_VERSION}"


def test_chat_headers_custom_gateway_has_no_cli_headers() -> None:
    """CPA: TestApplyXAIChatHeaders/no_cli_headers_on_custom_gateway_with_using_api_false and
    TestXAIExecutorExecuteChatUsesProxyHeadersOnlyForChatProxy."""
    headers = chat_headers(cred(GATEWAY, using_api="false"), conv="")
    assert not any(name in headers for name in (*_CLI_ONLY, "User-Agent", "x-grok-conv-id"))


def test_chat_headers_explicit_chat_proxy() -> None:
    """CPA: TestApplyXAIChatHeaders/cli_headers_on_explicit_chat_proxy_base_with_using_api_false."""
    headers = chat_headers(cred(CLI_CHAT_PROXY_URL + "/", using_api="false"), conv="")
    assert headers["X-XAI-Token-Auth"] == "xai-grok-cli" and headers["x-grok-client-version"] == CLI_VERSION


def test_chat_headers_credential_headers_win() -> None:
    """CPA: TestApplyXAIChatHeaders/custom_headers_override_cli_chat_proxy_defaults: a
    credential's ``headers:`` replace the Grok CLI's defaults."""
    credential = cred(CLI_CHAT_PROXY_URL, using_api="false")
    credential.headers = {
        "X-XAI-Token-Auth": "custom-token-auth",
        "x-grok-client-version": "custom-client-version",
        "x-grok-client-identifier": "custom-client-identifier",
        "x-authenticateresponse": "custom-authenticate-response",
    }
    headers = chat_headers(credential, conv="")
    for name, value in credential.headers.items():
        assert headers[name] == value


def test_no_token_sends_no_authorization() -> None:
    """CPA: TestApplyXAIHeaders_EmptyAPIKey_OmitsAuthorization: a credential without a key
    or token sends no ``Authorization``; its own headers and the conversation still go."""
    credential = Credential(
        id="xai:apikey:0",
        provider="xai",
        base_url="https://custom-xai.example.com",
        headers={"Custom-Token": "xai-custom"},
    )
    headers = chat_headers(credential, conv="session-123")
    assert "Authorization" not in headers
    assert headers["x-grok-conv-id"] == "session-123" and headers["Custom-Token"] == "xai-custom"


@pytest.mark.parametrize("client", ["fast", "aiohttp"])
async def test_credential_header_in_another_case_replaces_the_providers(
    start_proxy, fake_openai, client
) -> None:
    """CPA: TestApplyXAIChatHeaders/custom_headers_override_cli_chat_proxy_defaults, the
    wire half: a credential's ``headers:`` entry overrides the provider's own header of
    that name whatever its case, as CPA's canonical header names make it. Before, the
    protocol-level client (``upstream-http: fast``, the default) sent both (two
    ``Accept`` headers here)."""
    config = (
        f'api-keys: ["{KEY}"]\nupstream-http: {client}\nxai-api-key:\n  - api-key: "xai-1"\n'
        f'    base-url: "{fake_openai.base_url}/v1"\n    headers: {{"accept": "text/event-stream; v=2"}}\n'
    )
    proxy = await start_proxy(config)
    status, data = await post(proxy, "/v1/responses", {"model": "grok-4.5", "input": "hi"})
    assert status == 200, data
    assert fake_openai.last.headers.getall("Accept") == ["text/event-stream; v=2"]
