"""Antigravity's part order (CPA's Antigravity Claude translator, its issue #989): a model
turn goes out as thoughts, then text and other parts, then calls, whatever the client sent
(TestConvertClaudeRequestToAntigravity_ReorderThinking and
TestConvertClaudeRequestToAntigravity_ReorderThinkingAndTextBeforeFunctionCall, on the body the provider sends)."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider

CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
THOUGHT = {"text": "Planning...", "thought": True, "thoughtSignature": "sig"}
CALL = {"functionCall": {"name": "Bash", "args": {"command": "ls"}}}


def sent(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"contents": contents}
    before = copy.deepcopy(contents)
    up = AntigravityProvider().build(
        CRED, body, model="claude-sonnet-4-5-thinking", stream=False, client_headers={}
    )
    assert contents == before  # the client's request is not edited
    return orjson.loads(up.body)["request"]["contents"]  # type: ignore[no-any-return]


def test_thinking_goes_first() -> None:
    turn = {"role": "model", "parts": [{"text": "Here is the plan."}, THOUGHT]}
    out = sent([{"role": "user", "parts": [{"text": "hi"}]}, turn])
    assert out[1]["parts"] == [THOUGHT, {"text": "Here is the plan."}]


def test_thinking_first_text_next_calls_last() -> None:
    turn = {
        "role": "model",
        "parts": [{"text": "Before thinking"}, THOUGHT, CALL, {"text": "After tool call"}],
    }
    out = sent([turn])
    assert out[0]["parts"] == [THOUGHT, {"text": "Before thinking"}, {"text": "After tool call"}, CALL]


def test_a_signature_carrier_after_a_call_stays_with_the_calls_and_ordered_turns_are_kept() -> None:
    carrier = {"text": "", "thoughtSignature": "tail"}
    ordered = {"role": "model", "parts": [THOUGHT, {"text": "t"}, CALL, carrier]}
    user = {"role": "user", "parts": [{"text": "x"}, {"text": "y"}]}  # user turns are never reordered
    out = sent([ordered, user])
    assert out == [ordered, user]
    moved = sent([{"role": "model", "parts": [CALL, carrier, {"text": "late"}]}])
    assert moved[0]["parts"] == [{"text": "late"}, CALL, carrier]
