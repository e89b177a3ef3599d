"""CPA's ``claude_executor_beta_policy_test.go`` cases on the ``anthropic-beta`` a Claude
request leaves with, and on which base URL is Anthropic's own, built by the Claude
provider itself (the fast-mode and error-scope cases of the file are in
``test_claude_fast_mode.py``; the diagnostics beta in ``tests/e2e/test_claude_cpa_exec_diagnostics.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.claude_plan import anthropic_origin
from tests.providers.test_claude_fast_mode import betas, build, cred, fresh, message
from tests.providers.test_claude_identity import USER_ID, cc_headers

ADVISOR = "advisor-tool-2026-03-01"
INTERLEAVED = "interleaved-thinking-2025-05-14"


def built(
    credential: Credential, body: dict[str, Any], stream: bool = False, headers: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """The headers and body one request leaves with (in a context of its own)."""
    return fresh(lambda: build(ClaudeProvider(), credential, body, stream=stream, headers=headers))


def test_a_confirmed_client_on_oauth_gets_the_credentials_betas() -> None:
    """A confirmed Claude Code authenticates to the proxy with its own key, so its list
    lacks the OAuth credential's betas: ``oauth-2025-04-20`` goes second and the extended
    TTL last; its own betas stay; no advisor-tool or cache-diagnosis beta is added (its
    body has no ``diagnostics``).

    CPA: TestApplyClaudeHeaders_ConfirmedClientKeepsOAuthCredentialBetas."""
    incoming = cc_headers(**{"anthropic-beta": f"{ident.CODE_BETA},{INTERLEAVED},{ident.EFFORT_BETA}"})
    body = message(metadata={"user_id": USER_ID})
    headers, sent = built(cred("sk-ant-oat-beta-policy"), body, False, incoming)
    listed = betas(headers)
    assert listed[:2] == [ident.CODE_BETA, ident.OAUTH_BETA]
    assert listed[-1] == ident.EXTENDED_TTL_BETA
    assert {INTERLEAVED, ident.EFFORT_BETA} <= set(listed)
    assert ADVISOR not in listed and ident.CACHE_DIAGNOSIS_BETA not in listed
    assert "diagnostics" not in sent  # (Claude Code sends its own: the proxy adds none)


def test_a_confirmed_client_on_an_api_key_keeps_its_list() -> None:
    """CPA: TestApplyClaudeHeaders_ConfirmedAPIKeyClientKeepsPurePassthrough."""
    value = f"{ident.CODE_BETA},{ident.EFFORT_BETA}"
    body = message(metadata={"user_id": USER_ID})
    headers, _ = built(cred("key-passthrough"), body, False, cc_headers(**{"anthropic-beta": value}))
    assert headers["anthropic-beta"] == value


@pytest.mark.parametrize("beta", ["unknown-body-probe-2099-01-01", ident.CONTEXT_1M_BETA])
def test_a_body_beta_of_an_api_key_goes_as_the_header(beta: str) -> None:
    """Betas in the body (``betas``) of a caller-owned API-key request to Anthropic leave
    as the header, a beta the proxy does not know as well as one it does.

    CPA: TestApplyClaudeHeaders_UnknownBodyBetaPreservedOnAnthropic,
    TestApplyClaudeHeaders_KnownBodyBetaStillPlacedOnAnthropic."""
    headers, sent = built(cred("key-body-beta"), message(betas=[beta]))
    assert headers["anthropic-beta"] == beta
    assert "betas" not in sent


@pytest.mark.parametrize("stream", [False, True], ids=["execute", "execute stream"])
def test_credential_headers_do_not_replace_anthropics_betas_or_encoding(stream: bool) -> None:
    """A credential's ``headers:`` may not replace the ``anthropic-beta`` the request
    needs nor the ``Accept-Encoding`` the proxy negotiates with api.anthropic.com.

    CPA: TestApplyClaudeHeaders_CustomHeadersCannotOverrideAnthropicIdentity."""
    credential = Credential(
        id="c-custom-headers",
        provider="claude",
        api_key="key-custom-headers",
        headers={"Anthropic-Beta": "attacker-controlled-2099-01-01", "Accept-Encoding": "identity"},
    )
    headers, _ = built(credential, message(), stream)
    sent = {name.lower(): value for name, value in headers.items()}
    assert sent.get("anthropic-beta") != "attacker-controlled-2099-01-01"
    assert sent["accept-encoding"] == "gzip, deflate, br, zstd"


def test_context_management_stays_off_other_upstreams() -> None:
    """An OAuth credential cloaked to a gateway that is not api.anthropic.com gets no
    Claude Code ``context_management`` (nor ``diagnostics``), even with thinking on.

    CPA: TestClaudeExecutor_ContextManagementNeverLeaksToOtherUpstreams."""
    credential = cred("sk-ant-oat-non-anthropic", "https://gateway.example.com")
    body = message(system="p", thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048)
    _, sent = built(credential, body)
    assert "context_management" not in sent and "diagnostics" not in sent
    _, sent = built(cred("sk-ant-oat-anthropic"), dict(body))
    assert "context_management" in sent  # (the same request to Anthropic does get it)


@pytest.mark.parametrize(
    ("base", "anthropic"),
    [
        ("https://api.anthropic.com", True),
        ("https://API.Anthropic.com", True),
        ("https://api.anthropic.com:443", True),
        (" https://api.anthropic.com ", True),
        ("https://api.anthropic.com:8443", False),
        ("https://user@api.anthropic.com", False),
        ("https://api.kimi.com", False),
        ("http://api.anthropic.com", False),
        ("https://api.anthropic.com.evil", False),
        ("https://gateway.example.com", False),
        ("https://api.anthropic.com:notaport", False),
        ("", False),
    ],
)
def test_which_base_url_is_anthropics(base: str, anthropic: bool) -> None:
    """Only https to api.anthropic.com on the default port, without user info. Before, a
    base URL with user info counted as Anthropic's, and one with a port that is no number
    raised instead of naming another upstream.

    CPA: TestIsAnthropicUpstreamBase."""
    assert anthropic_origin(base) is anthropic
