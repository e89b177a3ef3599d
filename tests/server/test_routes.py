"""Route table: health, root, CORS, the real answer of every built route and the 501 of the rest."""

from __future__ import annotations

import re
from collections.abc import Callable

import aiohttp
import pytest

from cliproxy.server.routes import NOT_BUILT


async def test_healthz_get_and_head(start_proxy):
    proxy = await start_proxy()
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/healthz") as r:
            assert r.status == 200
            assert await r.json() == {"status": "ok"}
        async with s.head(proxy.url + "/healthz") as r:
            assert r.status == 200
        async with s.get(proxy.url + "/") as r:
            body = await r.json()
            assert body["message"] == "CLI Proxy API Server"
            assert "GET /v1/models" in body["endpoints"]


async def test_cors_preflight_and_headers(start_proxy):
    # CPA's "*" when a key is required (an open proxy: tests/security/test_defaults.py)
    proxy = await start_proxy("api-keys: [sk-1]\n")
    async with aiohttp.ClientSession() as s:
        async with s.options(
            proxy.url + "/v1/chat/completions",
            headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
        async with s.get(proxy.url + "/healthz", headers={"Origin": "http://x"}) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
        async with s.get(proxy.url + "/healthz") as r:  # not a browser: no CORS headers needed
            assert "Access-Control-Allow-Origin" not in r.headers


def _concrete(path: str) -> str:
    path = re.sub(r"\{action:([^|}]+)[^}]*\}", r"\1", path)  # the first of the alternatives
    path = path.replace("{name:.+}", "gemini-2.5-flash:generateContent")
    return re.sub(r"\{[^}]+\}", "abc", path)


def _openai_error(body: dict, code: str) -> str:
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code and body["error"]["type"] == "invalid_request_error", body
    return body["error"]["message"]


def _claude_error(body: dict, code: str) -> str:
    assert body["type"] == "error" and body["error"]["type"] == code, body
    return body["error"]["message"]


def _gemini_error(body: dict, code: str) -> str:
    assert set(body) == {"error"}, body
    status = {"UNIMPLEMENTED": 501, "INVALID_ARGUMENT": 400, "NOT_FOUND": 404}[code]
    assert body["error"]["status"] == code and body["error"]["code"] == status, body
    return body["error"]["message"]


# what a built route answers to an empty JSON object (or a bare GET) with no upstream
# configured: (status, checker of the body); a route not listed here must answer 501
MODEL_REQUIRED = "model: required, a non-empty string"


def _empty_openai_list(body: dict) -> None:
    assert body == {"object": "list", "data": []}, body


def _empty_gemini_list(body: dict) -> None:
    assert body == {"models": []}, body


def _openai_model_required(body: dict) -> None:
    assert _openai_error(body, "invalid_request_error") == MODEL_REQUIRED, body


def _openai_prompt_required(body: dict) -> None:
    assert _openai_error(body, "invalid_request_error") == "prompt: required, a non-empty string", body


def _interactions_target_required(body: dict) -> None:
    # CPA answers the Interactions entry checks in its OpenAI-like handler error shape
    assert _openai_error(body, "invalid_request_error") == "request requires exactly one of model or agent", (
        body
    )


def _claude_model_required(body: dict) -> None:
    assert _claude_error(body, "invalid_request_error") == MODEL_REQUIRED, body


def _video_model_unknown(body: dict) -> None:
    # no xAI credential: the video model has no provider (cliproxy.media)
    assert _openai_error(body, "model_not_found") == "unknown provider for model grok-imagine-video", body


def _failed_video(body: dict) -> None:
    # CPA writeVideosFailedError: a client mistake on /openai/v1/videos is a failed video
    assert body["object"] == "video" and body["status"] == "failed", body
    assert body["error"]["message"] == "Invalid request: prompt is required", body


def _websocket_required(body: dict) -> None:
    # the Responses WebSocket (tests/e2e/test_responses_ws.py) to a plain GET
    assert _openai_error(body, "invalid_request_error").startswith("this endpoint is a WebSocket"), body


def _no_search_credential(body: dict) -> None:
    # Codex Alpha Search (tests/e2e/test_codex_alpha_search.py) with no Codex credential
    assert set(body) == {"error"} and body["error"]["type"] == "server_error", body
    assert body["error"]["message"].startswith("no credential serves Codex Alpha Search"), body


def _realtime(code: str) -> Callable[[dict], None]:
    """A Realtime route (tests/e2e/test_realtime*.py): CPA's error shape with its code."""

    def check(body: dict) -> None:
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert body["error"]["code"] == code, body

    return check


def _client_secret(body: dict) -> None:
    assert body["value"].startswith("ek_") and body["session"]["model"] == "gpt-realtime", body


def _legacy_session(body: dict) -> None:
    assert body["client_secret"]["value"].startswith("ek_") and body["model"] == "gpt-realtime", body


def _gemini_model_not_found(body: dict) -> None:
    assert _gemini_error(body, "NOT_FOUND") == "model 'gemini-2.5-flash:generateContent' not found", body


def _gemini_contents_required(body: dict) -> None:
    assert _gemini_error(body, "INVALID_ARGUMENT").startswith("contents: required"), body


BUILT: dict[tuple[str, str], tuple[int, Callable[[dict], None]]] = {
    ("GET", "/v1/models"): (200, _empty_openai_list),
    ("GET", "/v1beta/models"): (200, _empty_gemini_list),
    ("POST", "/v1/chat/completions"): (400, _openai_model_required),
    ("POST", "/v1/responses"): (400, _openai_model_required),
    ("POST", "/backend-api/codex/responses"): (400, _openai_model_required),
    ("POST", "/v1/responses/compact"): (400, _openai_model_required),
    ("POST", "/v1/responses/input_tokens"): (400, _openai_model_required),
    ("POST", "/backend-api/codex/responses/compact"): (400, _openai_model_required),
    ("POST", "/v1/images/generations"): (400, _openai_prompt_required),
    ("POST", "/v1/images/edits"): (400, _openai_prompt_required),
    ("POST", "/v1/messages"): (400, _claude_model_required),
    ("GET", "/v1/responses"): (426, _websocket_required),
    ("GET", "/backend-api/codex/responses"): (426, _websocket_required),
    ("POST", "/v1/messages/count_tokens"): (400, _claude_model_required),
    ("GET", "/v1beta/models/{name:.+}"): (404, _gemini_model_not_found),
    ("GET", "/v1/models/{name:.+}"): (404, _gemini_model_not_found),
    ("POST", "/v1beta/models/{name:.+}"): (400, _gemini_contents_required),
    ("POST", "/v1beta/interactions"): (400, _interactions_target_required),
    ("POST", "/v1/interactions"): (400, _interactions_target_required),
    ("POST", "/v1/models/{name:.+}"): (400, _gemini_contents_required),
    ("POST", "/v1/completions"): (400, _openai_model_required),
    ("POST", "/v1/videos"): (400, _video_model_unknown),
    ("POST", "/v1/videos/generations"): (400, _video_model_unknown),
    ("POST", "/v1/videos/edits"): (400, _video_model_unknown),
    ("POST", "/v1/videos/extensions"): (400, _video_model_unknown),
    ("GET", "/v1/videos/{request_id}"): (400, _video_model_unknown),
    ("POST", "/openai/v1/videos"): (400, _failed_video),
    ("GET", "/openai/v1/videos/{video_id}"): (400, _video_model_unknown),
    ("GET", "/openai/v1/videos/{video_id}/content"): (400, _video_model_unknown),
    ("GET", "/v1/ws"): (426, _websocket_required),
    ("POST", "/v1/alpha/search"): (503, _no_search_credential),
    ("POST", "/backend-api/codex/alpha/search"): (503, _no_search_credential),
    # CPA's TestRealtimeStandardRoutesAndClientSecretAuth statuses (no WebRTC media relay)
    ("GET", "/v1/realtime"): (426, _realtime("websocket_upgrade_required")),
    ("POST", "/v1/realtime"): (503, _realtime("realtime_request_failed")),
    ("POST", "/v1/realtime/calls"): (503, _realtime("realtime_request_failed")),
    ("POST", "/v1/live"): (503, _realtime("realtime_request_failed")),
    ("GET", "/v1/realtime/calls/{call_id}"): (426, _realtime("realtime_request_failed")),
    ("GET", "/v1/live/{call_id}"): (426, _realtime("realtime_request_failed")),
    ("POST", "/v1/realtime/client_secrets"): (200, _client_secret),
    ("POST", "/v1/realtime/sessions"): (200, _legacy_session),
    ("POST", "/v1/realtime/transcription_sessions"): (501, _realtime("realtime_capability_not_supported")),
    ("GET", "/v1/realtime/translations"): (501, _realtime("realtime_capability_not_supported")),
    ("POST", "/v1/realtime/translations"): (501, _realtime("realtime_capability_not_supported")),
    ("POST", "/v1/realtime/translations/client_secrets"): (
        501,
        _realtime("realtime_capability_not_supported"),
    ),
    ("POST", "/v1/realtime/calls/{call_id}/hangup"): (404, _realtime("realtime_call_not_found")),
    ("POST", "/v1/realtime/calls/{call_id}/{action:accept|reject|refer}"): (
        501,
        _realtime("realtime_capability_not_supported"),
    ),
}


def _not_built(path: str, feature: str) -> Callable[[dict], None]:
    def check(body: dict) -> None:
        if path.startswith("/v1/messages"):
            message = _claude_error(body, "api_error")
        elif path.startswith("/v1beta") or ":" in _concrete(path).rpartition("/")[2]:
            message = _gemini_error(body, "UNIMPLEMENTED")
        else:
            message = _openai_error(body, "not_implemented")
        assert message == f"{feature} is not implemented in cliproxy yet", body

    return check


def test_every_built_route_is_in_the_route_table():
    assert set(BUILT) <= {(m, p) for m, p, _ in NOT_BUILT}


@pytest.mark.parametrize("method,path,feature", NOT_BUILT, ids=[f"{m} {p}" for m, p, _ in NOT_BUILT])
async def test_every_route_answers_in_client_format(start_proxy, method, path, feature):
    """Built routes give their real answer, the rest 501 naming the feature; never a 500."""
    status, check = BUILT.get((method, path)) or (501, _not_built(path, feature))
    proxy = await start_proxy()
    url = proxy.url + _concrete(path)
    async with aiohttp.ClientSession() as s, s.request(method, url, json={}) as r:
        assert r.status == status, await r.text()
        assert r.content_type == "application/json"
        body = await r.json()
    check(body)


async def test_unknown_proxy_path_is_404_in_client_format(start_proxy):
    proxy = await start_proxy()
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages/nope") as r:
            assert r.status == 404
            assert (await r.json())["type"] == "error"
        async with s.post(proxy.url + "/v1/nope") as r:
            assert r.status == 404
            assert "error" in await r.json()
