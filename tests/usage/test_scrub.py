"""The scrubbing rules of recordings (cliproxy.usage.scrub), one test per rule."""

from __future__ import annotations

import pytest

from cliproxy.usage.recording import chunk_list
from cliproxy.usage.scrub import (
    ACCOUNT,
    EMAIL,
    REDACTED,
    USER_ID,
    scrub_body,
    scrub_headers,
    scrub_json,
    scrub_sse,
    scrub_text,
    scrub_url,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "api-key",
        "Cookie",
        "Set-Cookie",
        "Proxy-Authorization",
        "X-Custom-Token",
        "x-client-secret",
        "X-Auth-Whatever",
        "openai-project-key",
        "X-Oai-Attestation",  # CPA TestHeadersForLoggingRedactsAttestation
    ],
)
def test_secret_headers_are_redacted(name):
    assert scrub_headers({name: "Bearer sk-live-abcdefghijkl"}) == {name: REDACTED}


def test_plain_headers_are_kept_and_text_rules_apply():
    out = scrub_headers({"Content-Type": "application/json", "X-Debug": "from bob@corp.example.com"})
    assert out == {"Content-Type": "application/json", "X-Debug": f"from {EMAIL}"}


def test_chatgpt_account_id_header_is_a_placeholder():
    assert scrub_headers({"chatgpt-account-id": "acc-42"}) == {"chatgpt-account-id": ACCOUNT}


def test_headers_from_pairs_keep_plain_str_keys():
    out = scrub_headers([("Accept", "a"), ("Accept", "b")])
    assert out == {"Accept": "a, b"} and all(type(k) is str for k in out)


@pytest.mark.parametrize("param", ["key", "api_key", "token", "auth_token", "access_token"])
def test_secret_query_parameters_are_redacted(param):
    url = scrub_url(f"https://up.example/v1beta/models/m:generateContent?alt=sse&{param}=AIzaSECRET123")
    assert "AIzaSECRET123" not in url
    assert url.startswith("https://up.example/v1beta/models/m:generateContent?alt=sse&")
    assert url.endswith(f"{param}=%3Credacted%3E")


def test_query_without_secrets_is_unchanged():
    assert scrub_url("/v1/x?alt=sse&beta=true") == "/v1/x?alt=sse&beta=true"


@pytest.mark.parametrize("field", ["access_token", "refresh_token", "id_token", "api_key", "client_secret"])
def test_secret_json_fields_are_redacted_at_any_depth(field):
    body = {"outer": [{"inner": {field: "value-123"}}], field: "top"}
    out = scrub_json(body)
    assert out == {"outer": [{"inner": {field: REDACTED}}], field: REDACTED}
    assert body["outer"][0]["inner"][field] == "value-123"  # the input is not changed


def test_emails_anywhere_in_bodies():
    out = scrub_body(b'{"messages":[{"content":"mail alice.smith+x@mail.example.org now"}]}')
    assert out == {"messages": [{"content": f"mail {EMAIL} now"}]}
    assert scrub_body(b"plain text jo@ex.io") == f"plain text {EMAIL}"


def test_claude_metadata_user_id_is_fixed():
    out = scrub_json({"metadata": {"user_id": "user_abc_account_123_session_456"}, "user_id": "kept"})
    assert out == {"metadata": {"user_id": USER_ID}, "user_id": "kept"}


def test_account_id_fields_are_placeholders():
    out = scrub_json({"account_id": "acc-1", "auth": {"chatgpt_account_id": "acc-2"}})
    assert out == {"account_id": ACCOUNT, "auth": {"chatgpt_account_id": ACCOUNT}}


def test_jwt_shaped_strings():
    assert scrub_text(f"token {JWT} end") == "token <jwt> end"


@pytest.mark.parametrize("key", ["sk-ant-api03-AbCdEfGh_123456", "sk-proj-1234567890abcdef", "sk-compat-1"])
def test_sk_keys(key):
    assert scrub_text(f"key={key};") == "key=<key>;"


def test_text_rules_leave_ordinary_text_alone():
    text = "ask-me about task-runner and eyJ alone; 2 @ 3"
    assert scrub_text(text) == text


def test_rules_are_idempotent():
    body = {"metadata": {"user_id": "u"}, "api_key": "k", "t": f"a@b.co {JWT} sk-abcdefghij"}
    once = scrub_json(body)
    assert scrub_json(once) == once


def test_sse_data_lines_are_scrubbed_field_by_field():
    text = 'event: x\ndata: {"refresh_token": "r1", "text": "hi a@b.co"}\n\ndata: [DONE]\n\n'
    out = scrub_sse(text)
    assert out == f'event: x\ndata: {{"refresh_token":"{REDACTED}","text":"hi {EMAIL}"}}\n\ndata: [DONE]\n\n'


def test_chunks_are_cut_at_line_ends_so_no_secret_is_split():
    pairs = [(0.01, b'data: {"api_key": "sk-abc'), (0.02, b'defghijk"}\n\n'), (0.5, b"data: [DONE]\n\n")]
    out = chunk_list(pairs)
    assert [c["data"] for c in out] == [f'data: {{"api_key":"{REDACTED}"}}\n\n', "data: [DONE]\n\n"]
    assert out[0]["gap_ms"] == 30.0 and out[1]["gap_ms"] == 500.0


def test_config_template_keeps_no_secret_and_keeps_credentials_apart():
    from cliproxy.record.template import sanitize

    config = {
        "api-keys": ["sk-client-secret-1"],
        "remote-management": {"secret-key": "mgmt"},
        "proxy-url": "socks5://user:pass@proxy:1080",
        "claude-api-key": [
            {
                "api-key": "a1",
                "base-url": "https://up/x",
                "headers": {"X-Token": "t", "X-Team": "ops@corp.io"},
            },
            {"api-key": "a2", "models": [{"name": "claude-sonnet-4-6", "alias": "m"}]},
        ],
    }
    out = sanitize(config)
    assert out["api-keys"] == ["replay-secret-1"]
    assert out["remote-management"] == {"secret-key": "replay-secret-2"}
    assert out["proxy-url"] == ""
    first, second = out["claude-api-key"]
    assert first["api-key"] != second["api-key"] and first["base-url"] == "https://up/x"
    assert first["headers"] == {"X-Token": REDACTED, "X-Team": EMAIL}
    assert second["models"] == [{"name": "claude-sonnet-4-6", "alias": "m"}]


def test_replay_config_sends_every_provider_to_the_recorded_upstream(tmp_path):
    from cliproxy.record.template import CLIENT_KEY, for_replay

    template = {
        "codex-api-key": [{"api-key": "k", "base-url": "https://chatgpt.com/backend-api/codex"}],
        "gemini-api-key": [{"api-key": "g"}],
        "workers": 4,
    }
    out = for_replay(template, "http://127.0.0.1:9", tmp_path)
    assert out["codex-api-key"][0]["base-url"] == "http://127.0.0.1:9/backend-api/codex"
    assert out["gemini-api-key"][0]["base-url"] == "http://127.0.0.1:9"
    assert out["api-keys"] == [CLIENT_KEY] and out["auth-dir"] == str(tmp_path) and "workers" not in out
    assert template["codex-api-key"][0]["base-url"] == "https://chatgpt.com/backend-api/codex"  # unchanged
