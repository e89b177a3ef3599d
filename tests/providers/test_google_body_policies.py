"""Body policies of Google's upstreams, on the body each provider sends.

A history that starts with a model turn gets an empty user turn in front before it goes
to a Gemini-format upstream (CPA ``helps.EnsureGeminiLeadingUserContent``, called by its
Gemini, Vertex, AI Studio and Antigravity executors, for generation and token counts):
TestAntigravityStreamPrependsLeadingUserForGemini, …ForIssue4959ResponsesHistory,
…DoesNotPrependLeadingUserForClaudeTarget and TestAntigravityCountTokensMatchesTargetLeadingUserPolicy
(internal/runtime/executor/antigravity_executor_signature_test.go). Antigravity's Gemini
models get no ``maxOutputTokens`` (antigravity_executor_buildrequest_test.go)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.gemini import GeminiProvider
from cliproxy.providers.vertex import VertexProvider

CALL_FIRST = [
    {"role": "model", "parts": [{"functionCall": {"name": "read", "args": {"path": "a"}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "read", "response": {"result": "ok"}}}]},
]
EMPTY_USER = {"role": "user", "parts": [{"text": ""}]}
ANTIGRAVITY = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
GEMINI = Credential(id="g", provider="gemini", api_key="k")
VERTEX = Credential(id="vertex:apikey:1", provider="vertex", api_key="vk-1")


def contents(provider: str, model: str, history: list[dict[str, Any]], action: str = "generate") -> Any:
    body = {"contents": history}
    before = copy.deepcopy(history)
    if provider == "antigravity":
        up = AntigravityProvider().build(
            ANTIGRAVITY, body, model=model, stream=True, client_headers={}, action=action
        )
        sent = orjson.loads(up.body)["request"]["contents"]
    elif provider == "gemini":
        up = GeminiProvider().build(GEMINI, body, model=model, stream=True, client_headers={}, action=action)
        sent = orjson.loads(up.body)["contents"]
    else:
        up = VertexProvider().build(VERTEX, body, model=model, stream=True, client_headers={}, action=action)
        sent = orjson.loads(up.body)["contents"]
    assert history == before  # the client's list is not edited
    return sent


def roles_as_sent(provider: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` as ``provider`` sends it: Antigravity's Gemini models get a tool-result
    turn as a model turn (tests/providers/test_antigravity_turns.py)."""
    if provider != "antigravity":
        return history
    return [
        {**c, "role": "model"} if all("functionResponse" in p for p in c["parts"]) else c for c in history
    ]


@pytest.mark.parametrize("action", ["generate", "count"])
@pytest.mark.parametrize("provider", ["antigravity", "gemini", "vertex"])
def test_a_model_turn_first_gets_an_empty_user_turn(provider: str, action: str) -> None:
    want = [EMPTY_USER, *roles_as_sent(provider, CALL_FIRST)]
    assert contents(provider, "gemini-3-flash", CALL_FIRST, action) == want


@pytest.mark.parametrize("action", ["generate", "count"])
def test_antigravity_claude_target_is_left_as_sent(action: str) -> None:
    assert contents("antigravity", "claude-sonnet-4-6", CALL_FIRST, action) == CALL_FIRST


@pytest.mark.parametrize("provider", ["antigravity", "gemini", "vertex"])
def test_a_user_turn_first_is_left_alone(provider: str) -> None:
    history = [{"role": "user", "parts": [{"text": "hi"}]}, *CALL_FIRST]
    assert contents(provider, "gemini-3-flash", history) == roles_as_sent(provider, history)


# ---------------------------------------------------------------------- maxOutputTokens


def generation_config(model: str) -> Any:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 128, "temperature": 0.2},
    }
    up = AntigravityProvider().build(ANTIGRAVITY, body, model=model, stream=False, client_headers={})
    return orjson.loads(up.body)["request"]["generationConfig"]


def test_antigravity_gemini_models_get_no_max_output_tokens() -> None:
    """TestAntigravityBuildRequest_SkipsSchemaSanitization*: maxOutputTokens is removed for
    non-Claude requests; the rest of the config stays."""
    assert generation_config("gemini-3.1-flash-image") == {"temperature": 0.2}
    assert generation_config("gemini-3-pro-high") == {"temperature": 0.2}


def test_antigravity_claude_models_keep_max_output_tokens() -> None:
    assert generation_config("claude-sonnet-4-6") == {"maxOutputTokens": 128, "temperature": 0.2}


# ---------------------------------------------------------------------- sessionId


def session_id(first: str, headers: dict[str, str]) -> str:
    body = {"contents": [{"role": "user", "parts": [{"text": first}]}]}
    up = AntigravityProvider().build(
        ANTIGRAVITY, body, model="gemini-3-flash", stream=False, client_headers=headers
    )
    out: str = orjson.loads(up.body)["request"]["sessionId"]
    return out


def test_antigravity_session_follows_the_clients_conversation() -> None:
    """TestAntigravityBuildRequestUsesDerivedSessionIDAndPreservesExplicit (the derived
    part): a client's conversation id (Claude Code's header, Codex's) names the session,
    so two conversations that open with the same text stay apart and one keeps its id."""
    a = session_id("hi", {"X-Claude-Code-Session-Id": "conv-a"})
    assert a == session_id("something else", {"x-claude-code-session-id": "conv-a"})
    assert a != session_id("hi", {"X-Claude-Code-Session-Id": "conv-b"})
    assert session_id("hi", {"session_id": "codex-1"}) != a
    assert a.startswith("-") and a[1:].isdigit()
    # no conversation id: the first user text's hash, as before
    assert session_id("hi", {}) == session_id("hi", {"User-Agent": "x"}) != a


def test_antigravity_keeps_an_explicit_session() -> None:
    body = {"sessionId": "-987654321", "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    up = AntigravityProvider().build(
        ANTIGRAVITY,
        body,
        model="gemini-3-flash",
        stream=False,
        client_headers={"X-Claude-Code-Session-Id": "a"},
    )
    assert orjson.loads(up.body)["request"]["sessionId"] == "-987654321"
