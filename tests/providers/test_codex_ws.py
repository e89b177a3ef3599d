"""The upstream Responses WebSocket's pure parts (``cliproxy.providers.codex_ws``): CPA's
``internal/runtime/executor/codex_websockets_executor_test.go`` cases for the request
message, the URL, the upgrade headers and the error event."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.codex_ws import (
    BETA_HEADER,
    SESSION_HEADER,
    create_message,
    error_body,
    error_headers,
    websocket_request,
    websocket_url,
    websockets_enabled,
)
from cliproxy.providers.codex_ws_wire import bare_error_event

API_KEY = Credential(id="k", provider="codex", api_key="sk-1", attributes={"websockets": "true"})
OAUTH = Credential(
    id="o", provider="codex", kind=KIND_OAUTH, metadata={"websockets": True, "access_token": "t"}
)
URL = "https://chatgpt.com/backend-api/codex/responses"


def test_create_message_keeps_previous_response_id():
    """CPA TestBuildCodexWebsocketRequestBodyPreservesPreviousResponseID."""
    body = (
        b'{"model":"gpt-5-codex","previous_response_id":"resp-1","input":[{"type":"message","id":"msg-1"}]}'
    )
    out = orjson.loads(create_message(body))
    assert out["type"] == "response.create" and out["previous_response_id"] == "resp-1"
    assert out["input"][0]["id"] == "msg-1"
    assert orjson.loads(create_message(b"{}")) == {"type": "response.create"}


def test_websocket_url():
    """CPA TestBuildCodexResponsesWebsocketURLRequiresHTTPURL (http(s) only; the providers
    build nothing else, so another scheme is returned as it is instead of an error)."""
    assert websocket_url("https://example.com/backend/responses") == "wss://example.com/backend/responses"
    assert websocket_url("http://127.0.0.1:9/v1/responses") == "ws://127.0.0.1:9/v1/responses"
    assert websocket_url("ftp://example.com/responses") == "ftp://example.com/responses"


def test_websockets_enabled_from_attributes_or_the_auth_file():
    """CPA codexWebsocketsEnabled and TestWebsocketUpstreamSupportsIncrementalInputForModel
    (per credential here: a follow-up is incremental only on the credential that served
    the turn): the attribute first (a parseable bool), then metadata."""
    assert websockets_enabled(API_KEY) and websockets_enabled(OAUTH)
    assert not websockets_enabled(Credential(id="n", provider="codex"))
    off = Credential(
        id="f", provider="codex", attributes={"websockets": "false"}, metadata={"websockets": True}
    )
    assert not websockets_enabled(off)
    assert websockets_enabled(Credential(id="s", provider="codex", metadata={"websockets": "true"}))


def test_http_unless_the_client_is_on_a_websocket():
    headers: dict[str, str] = {"Accept": "text/event-stream"}
    assert websocket_request(OAUTH, URL, headers, {}, "feature-a") == URL
    assert headers == {"Accept": "text/event-stream"}  # untouched
    plain = Credential(id="p", provider="codex", api_key="k")
    assert websocket_request(plain, URL, headers, {SESSION_HEADER: "s1"}) == URL


def test_upgrade_headers_default_to_the_current_beta():
    """CPA TestApplyCodexWebsocketHeadersDefaultsToCurrentResponsesBeta and
    TestApplyCodexWebsocketHeadersUsesConfigDefaultsForOAuth: ``OpenAI-Beta``, the config's beta features for OAuth."""
    headers: dict[str, str] = {"Accept": "text/event-stream"}
    url = websocket_request(OAUTH, URL, headers, {SESSION_HEADER: "s1"}, "feature-a,feature-b")
    assert url == "wss://chatgpt.com/backend-api/codex/responses"
    assert headers["OpenAI-Beta"] == BETA_HEADER == "responses_websockets=2026-02-06"
    assert headers["x-codex-beta-features"] == "feature-a,feature-b"
    assert headers[SESSION_HEADER] == "s1" and "Accept" not in headers
    for name in ("version", "x-codex-turn-metadata", "x-client-request-id"):
        assert name not in headers  # only when the client sent them


def test_upgrade_headers_prefer_the_client_and_skip_config_for_api_keys():
    """CPA TestApplyCodexWebsocketHeadersPrefersExistingHeadersOverClientAndConfig (the client's beta features win over
    the config's) and TestApplyCodexWebsocketHeadersIgnoresConfigForAPIKeyAuth."""
    client = {
        SESSION_HEADER: "s1",
        "x-codex-beta-features": "client-beta",
        "openai-beta": "responses_websockets=2099-01-01",
        "x-codex-turn-state": "ts",
    }
    headers: dict[str, str] = {}
    websocket_request(OAUTH, URL, headers, client, "config-beta")
    assert headers["x-codex-beta-features"] == "client-beta"
    assert (
        headers["OpenAI-Beta"] == "responses_websockets=2099-01-01" and headers["x-codex-turn-state"] == "ts"
    )
    headers = {}
    websocket_request(API_KEY, URL, headers, {SESSION_HEADER: "s1"}, "config-beta")
    assert "x-codex-beta-features" not in headers


def test_error_event_keeps_wrapped_body_and_headers():
    """CPA TestParseCodexWebsocketErrorPreservesWrappedBodyAndHeaders."""
    event = {
        "type": "error",
        "status": 429,
        "body": {
            "error": {
                "code": "websocket_connection_limit_reached",
                "type": "server_error",
                "message": "too many websocket connections",
            }
        },
        "headers": {"x-request-id": "req-1", "retry-after": 1},
    }
    parsed = orjson.loads(error_body(event, 429))
    assert parsed["status"] == 429
    assert parsed["body"]["error"]["code"] == parsed["error"]["code"] == "websocket_connection_limit_reached"
    assert error_headers(event) == {"x-request-id": "req-1", "retry-after": "1"}
    bare = orjson.loads(error_body({"type": "error", "status": 503}, 503))
    assert bare["error"]["type"] == "server_error"


# xAI's socket (CPA xai_websockets_executor_test.go): errors without a ``type``


@pytest.mark.parametrize(
    ("bare", "status"),
    [
        ({"status": 403, "error": {"code": "unauthenticated:bad-credentials"}}, 403),
        ({"status_code": 429, "error": {"code": "subscription:free-usage-exhausted"}}, 429),
        ({"error": {"code": "429", "message": "slow down"}}, 429),
        ({"error": {"status": 503}}, 503),
        ({"code": 401, "error": "bad token"}, 401),
        ({"error": {"message": 'Request validation error: {"code":"400","error":"no"}'}}, 400),
        ({"error": {"message": "boom", "type": "api_error"}}, 500),
    ],
)
def test_bare_error_is_an_error_event(bare, status):
    """TestParseXAIWebsocketBareError*, TestXAIWebsocketsExecuteStreamStopsOnBareErrorPayload:
    the status from the message, else 400 for request validation, else 500; the error kept
    (the provider's classification then reads it as on HTTP)."""
    event = bare_error_event(bare)
    assert event == {"type": "error", "status": status, "error": bare["error"]}
