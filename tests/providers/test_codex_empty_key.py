"""A Codex API-key entry whose key is empty (an upstream that authenticates another way,
by a configured header say) sends no ``Authorization`` at all, and no ChatGPT account
header (CPA TestApplyCodexHeaders_EmptyAPIKey_OmitsAuthorizationAndOAuthHeaders and its
WebSocket twin TestApplyCodexWebsocketHeaders_EmptyAPIKey_OmitsAuthorizationAndOAuthHeaders, whose headers are these: applyCodexHeadersFromSources deletes
Authorization for an empty token)."""

from __future__ import annotations

from multidict import CIMultiDict

from cliproxy.credentials.record import KIND_APIKEY, Credential
from cliproxy.providers.codex import CodexProvider


def _headers(cred: Credential) -> dict[str, str]:
    req = CodexProvider().build(
        cred, {"model": "gpt-5.4", "input": "hi"}, model="gpt-5.4", stream=True, client_headers=CIMultiDict()
    )
    return dict(req.headers)


def test_an_empty_key_sends_no_authorization() -> None:
    cred = Credential(
        id="codex:apikey:1",
        provider="codex",
        kind=KIND_APIKEY,
        api_key="",
        base_url="https://codex.example/v1",
        headers={"X-Gateway-Token": "t"},
    )
    headers = _headers(cred)
    assert "Authorization" not in headers
    assert "Chatgpt-Account-Id" not in headers  # (Originator: the cloak's, as CPA's cloaking sets it)
    assert headers["X-Gateway-Token"] == "t"


def test_a_key_is_sent_as_a_bearer_token() -> None:
    cred = Credential(id="codex:apikey:2", provider="codex", kind=KIND_APIKEY, api_key="sk-codex")
    assert _headers(cred)["Authorization"] == "Bearer sk-codex"
