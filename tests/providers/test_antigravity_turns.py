"""Tool-result turns for Antigravity's Gemini models (CPA
internal/runtime/executor/antigravity_executor_signature_test.go
TestNormalizeAntigravityGeminiFunctionResponseRoles*), on the body the provider sends (a
history whose calls and responses do not pair, which ``build`` refuses as CPA's pairing
check does, on the shaped history alone)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.providers.antigravity import AntigravityProvider, shape_history
from cliproxy.providers.antigravity_replay import restore
from cliproxy.providers.antigravity_turns import applies_to, camel_parts
from cliproxy.translate.antigravity_replay import CallItem, canonical
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache

CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
EMPTY_USER = {"role": "user", "parts": [{"text": ""}]}
REPLAY_MODEL = "gemini-3.6-flash-high"


def sent(contents: list[dict[str, Any]], model: str = "gemini-3-flash", action: str = "generate") -> Any:
    before = copy.deepcopy(contents)
    up = AntigravityProvider().build(
        CRED, {"contents": contents}, model=model, stream=False, client_headers={}, action=action
    )
    assert contents == before  # the client's request is not edited
    return orjson.loads(up.body)["request"]["contents"]


def shaped(contents: list[dict[str, Any]], model: str = "gemini-3-flash") -> Any:
    """The history as ``build`` shapes it, before the pairing check."""
    body: dict[str, Any] = {"contents": contents}
    shape_history(body, model)
    return body["contents"]


def call(call_id: str, name: str = "read", **args: Any) -> dict[str, Any]:
    fc: dict[str, Any] = {"name": name, "args": args}
    if call_id:
        fc["id"] = call_id
    return {"functionCall": fc}


def response(call_id: str, name: str = "read", result: str = "ok") -> dict[str, Any]:
    fr: dict[str, Any] = {"name": name, "response": {"result": result}}
    if call_id:
        fr["id"] = call_id
    return {"functionResponse": fr}


USER = {"role": "user", "parts": [{"text": "go"}]}


def test_leaves_mixed_user_content() -> None:
    """CPA: TestNormalizeAntigravityGeminiFunctionResponseRolesLeavesMixedUserContent:
    responses with user text stay a user turn."""
    mixed = {"role": "user", "parts": [response(""), {"text": "user follow-up"}]}
    assert sent([USER, {"role": "model", "parts": [call("")]}, mixed])[2] == mixed


@pytest.mark.parametrize("action", ["generate", "count"])
def test_orders_parallel_responses(action: str) -> None:
    """CPA: TestNormalizeAntigravityGeminiFunctionResponseRolesOrdersParallelResponses: by
    call id, as the calls came; the turn is a model turn."""
    calls = {"role": "model", "parts": [call("call-1", file="one"), call("call-2", file="two")]}
    answers = {
        "role": " Model ",
        "parts": [response("call-2", result="two"), response("call-1", result="one")],
    }
    out = sent([USER, calls, answers], action=action)
    assert out[2]["role"] == "model"
    assert [p["functionResponse"]["id"] for p in out[2]["parts"]] == ["call-1", "call-2"]


def test_orders_by_name_when_the_calls_have_no_id() -> None:
    calls = {"role": "model", "parts": [call("", "read"), call("", "grep")]}
    answers = {"role": "user", "parts": [response("", "grep"), response("", "read")]}
    out = sent([USER, calls, answers])
    assert [p["functionResponse"]["name"] for p in out[2]["parts"]] == ["read", "grep"]


@pytest.mark.parametrize(
    "boundary",
    [{"role": "user", "parts": []}, {"role": "user"}, {"role": "user", "parts": None}],
    ids=["empty-parts", "no-parts", "null-parts"],
)
def test_does_not_cross_an_empty_content(boundary: dict[str, Any]) -> None:
    """CPA: TestNormalizeAntigravityGeminiFunctionResponseRolesDoesNotCrossEmptyContentBoundary:
    still a model turn, but not reordered (and the request refused: a content comes before
    the calls' responses)."""
    calls = {"role": "model", "parts": [call("call-1"), call("call-2")]}
    answers = {"role": "user", "parts": [response("call-2"), response("call-1")]}
    out = shaped([USER, calls, boundary, answers])
    assert out[3]["role"] == "model"
    assert [p["functionResponse"]["id"] for p in out[3]["parts"]] == ["call-2", "call-1"]
    with pytest.raises(RequestError, match="pending functionResponse"):
        sent([USER, calls, boundary, answers])


def test_a_response_named_unknown_takes_its_calls_name() -> None:
    """repairAntigravityGeminiFunctionResponseNames: by call id (an empty name is filled
    earlier, by position: gemini.backfill_response_names)."""
    calls = {"role": "model", "parts": [call("call-1", "Bash")]}
    out = sent([USER, calls, {"role": "user", "parts": [response("call-1", "unknown")]}])
    assert out[2]["parts"][0]["functionResponse"]["name"] == "Bash"


def test_a_history_that_starts_with_responses_gets_its_user_turn() -> None:
    """The response turn becomes a model turn first, so the empty user turn goes in front
    of it (CPA's order: the roles, then the leading user turn)."""
    out = shaped([{"role": "user", "parts": [response("call-1")]}])
    assert out[0] == EMPTY_USER and out[1]["role"] == "model"


def test_claude_models_are_left_alone() -> None:
    answers = {"role": "user", "parts": [response("call-2"), response("call-1")]}
    history = [USER, {"role": "model", "parts": [call("call-1"), call("call-2")]}, answers]
    assert sent(history, model="claude-sonnet-4-6")[2] == answers
    assert not applies_to("claude-opus-4-6-thinking") and applies_to("gemini-3-pro-high")


def test_snake_case_parts_go_in_camel_case_and_data_stays() -> None:
    """``camel_parts`` (a deliberate difference: CPA reads these parts in camelCase only):
    a part's kind, signature and media members are renamed, a call's ``args`` and a
    response's ``response`` are the client's data and stay, a part spelled both ways keeps
    its camelCase member, and a history already in camelCase is left as the same objects."""
    args = {"file_path": "/tmp/a", "old_string": "x"}
    history = [
        USER,
        {
            "role": "model",
            "parts": [
                {"function_call": {"id": "c1", "name": "read", "args": args}, "thought_signature": "s"}
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "function_response": {
                        "id": "c1",
                        "name": "read",
                        "response": {"result_text": "ok"},
                        "parts": [{"inline_data": {"mime_type": "image/png", "data": "QUJD"}}],
                    },
                    "functionResponse": {"id": "c1", "name": "read", "response": {"result": "camel"}},
                }
            ],
        },
    ]
    body: dict[str, Any] = {"contents": copy.deepcopy(history)}
    camel_parts(body)
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"id": "c1", "name": "read", "args": args}, "thoughtSignature": "s"}
    ]
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"id": "c1", "name": "read", "response": {"result": "camel"}}}
    ]
    camel = {"contents": body["contents"]}
    contents = camel["contents"]
    camel_parts(camel)
    assert camel["contents"] is contents and all(
        a is b for a, b in zip(camel["contents"], contents, strict=True)
    )
    nested: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [history[2]["parts"][0] | {"functionResponse": None}]}]
    }
    del nested["contents"][0]["parts"][0]["functionResponse"]
    camel_parts(nested)
    (part,) = nested["contents"][0]["parts"]
    assert part["functionResponse"]["response"] == {"result_text": "ok"}
    assert part["functionResponse"]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": "QUJD"}}]


def test_a_replayed_call_at_the_start_gets_the_user_turn_before_it() -> None:
    """CPA: TestAntigravityStreamPrependsLeadingUserAfterReplayInsertsFunctionCall: a client
    that sends only the results of a call it left out (the reasoning replay puts the call
    back as the first content) still sends a history that starts with the empty user turn,
    then the restored call, then its results."""
    cache = AntigravityReplayCache()
    item = CallItem(0, 0, None, "run", "call-1", canonical({}), "replay-inserted-call-signature-123456", "")
    assert cache.replace(cache.read(REPLAY_MODEL, "s"), [item])
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [response("call-1", "run")]}]}
    assert restore(cache, request, model=REPLAY_MODEL, session="s", headers={}) is not None
    out = request["contents"]
    assert len(out) == 3 and out[0] == EMPTY_USER
    assert out[1]["role"] == "model" and out[1]["parts"][0]["functionCall"]["id"] == "call-1"
    assert out[2]["parts"][0]["functionResponse"]["name"] == "run"
