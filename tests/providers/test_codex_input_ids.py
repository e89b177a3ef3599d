"""Codex input item ids (CPA internal/runtime/executor/helps/codex_input_ids_test.go and
codex_executor_input_ids_test.go), on ``sanitize_input_ids`` and on the body the Codex
provider sends."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.codex_input_ids import LIMIT, _suffixed, sanitize_input_ids


def sanitized(items: list[Any]) -> list[Any]:
    body = {"input": items}
    before = copy.deepcopy(items)
    sanitize_input_ids(body)
    assert items == before  # the client's items are not edited
    out: list[Any] = body["input"]
    return out


def ids(items: list[Any]) -> list[Any]:
    return [i.get("id") for i in sanitized(items)]


def test_boundaries() -> None:
    """TestSanitizeCodexInputItemIDsBoundaries: 64 kept, 65 (ASCII or not) cut to 64."""
    got = ids([{"id": "a" * 64}, {"id": "b" * 65}, {"id": "界" * 65}])
    assert got[0] == "a" * 64 and len(got[1]) == 64 and len(got[2]) == 64


def test_normalizes_message_ids() -> None:
    """TestSanitizeCodexInputItemIDsNormalizesMessageIDs."""
    items = [
        {"type": "message", "id": "item_74ec40c883248ebb4885ec84", "role": "user"},
        {"type": "message", "id": "msg-1", "role": "assistant"},
        {"type": "function_call", "id": "item_call", "call_id": "call-1"},
    ]
    assert ids(items) == ["msg_item_74ec40c883248ebb4885ec84", "msg-1", "fc_item_call"]
    assert sanitized(items) == sanitized(items)


def test_normalizes_response_item_ids() -> None:
    """TestSanitizeCodexInputItemIDsNormalizesResponseItemIDs: function_call_output ids stay."""
    items = [
        {"type": "message", "id": "item_message"},
        {"type": "reasoning", "id": "item_reasoning"},
        {"type": "function_call", "id": "item_function_call", "call_id": "call-1"},
        {"type": "function_call_output", "id": "item_function_call_output", "call_id": "call-1"},
        {"type": "reasoning", "id": "rs-existing"},
        {"type": "function_call", "id": "fc-existing", "call_id": "call-2"},
        {"type": "message", "id": "msg-existing"},
    ]
    assert ids(items) == [
        "msg_item_message",
        "rs_item_reasoning",
        "fc_item_function_call",
        "item_function_call_output",
        "rs-existing",
        "fc-existing",
        "msg-existing",
    ]


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        ("message", "msg_"),
        ("reasoning", "rs_"),
        ("function_call", "fc_"),
        ("custom_tool_call", "ctc_"),
        ("custom_tool_call_output", "ctco_"),
    ],
)
@pytest.mark.parametrize("length", ["short", "overlong"])
@pytest.mark.parametrize("prefixed_first", [False, True], ids=["local-first", "prefixed-first"])
def test_avoids_normalization_collisions(kind: str, prefix: str, length: str, prefixed_first: bool) -> None:
    """TestSanitizeCodexInputItemIDsAvoidsNormalizationCollisions."""
    local = "item_collision" if length == "short" else "x" * (LIMIT - len(prefix) + 1)
    prefixed = prefix + local
    pair = [prefixed, local] if prefixed_first else [local, prefixed]
    items = [{"type": kind, "id": pair[0]}, {"type": kind, "id": pair[1]}]
    first = sanitized(items)
    got = [i["id"] for i in first]
    assert got[0] != got[1]
    assert all(i.startswith(prefix) and len(i) <= LIMIT for i in got)
    if len(prefixed) <= LIMIT:
        assert got[pair.index(prefixed)] == prefixed  # an id already valid stays
    assert sanitized(items) == first  # deterministic
    assert sanitized(first) == first  # idempotent


def test_custom_tool_call_ids() -> None:
    """TestSanitizeCodexInputItemIDsNormalizesCustomToolCallIDs and
    TestSanitizeCodexInputItemIDsNormalizesCustomToolCallOutputIDs."""
    call = {
        "type": "custom_tool_call",
        "id": "item_44e1",
        "call_id": "call-1",
        "name": "lookup",
        "input": "{}",
    }
    assert ids([call]) == ["ctc_item_44e1"]
    outputs = [
        {"type": "custom_tool_call_output", "id": "item_44e1_output", "call_id": "call-1", "output": "done"},
        {"type": "custom_tool_call_output", "id": "ctco-existing", "call_id": "call-2", "output": "done"},
    ]
    first = sanitized(outputs)
    assert [i["id"] for i in first] == ["ctco_item_44e1_output", "ctco-existing"]
    assert sanitized(first) == first


def test_drops_overlong_encrypted_reasoning() -> None:
    """TestSanitizeCodexInputItemIDsDropsOverlongEncryptedReasoningItem."""
    long_reasoning, short_reasoning, long_call = "rs_" + "a" * 64, "rs_" + "b" * 48, "call-item-" * 8
    items = [
        {"type": "message", "id": "msg-1", "role": "user", "content": "before"},
        {"type": "reasoning", "id": long_reasoning, "encrypted_content": "gAAAA-encrypted", "summary": []},
        {"type": "reasoning", "id": short_reasoning, "encrypted_content": "gAAAA-encrypted", "summary": []},
        {"type": "function_call", "id": long_call, "call_id": "call-1", "name": "lookup", "arguments": "{}"},
    ]
    got = ids(items)
    assert got[:2] == ["msg-1", short_reasoning] and len(got) == 3
    assert got[2] != long_call and len(got[2]) == 64


@pytest.mark.parametrize("content", [None, "", "absent"])
def test_shortens_overlong_reasoning_without_encrypted_content(content: str | None) -> None:
    """TestSanitizeCodexInputItemIDsShortensOverlongReasoningWithoutEncryptedContent."""
    item: dict[str, Any] = {"type": "reasoning", "id": "rs_" + "a" * 64, "summary": []}
    if content != "absent":
        item["encrypted_content"] = content
    got = ids([item])
    assert len(got) == 1 and len(got[0]) == 64


def test_avoids_existing_id_collision() -> None:
    """TestSanitizeCodexInputItemIDsAvoidsExistingIDCollision."""
    long_id = "grok-item-" * 10
    taken = _suffixed(long_id, 0)
    got = ids([{"id": long_id}, {"id": taken}])
    assert got[0] != taken and len(got[0]) <= 64 and got[1] == taken
    assert ids([{"id": long_id}, {"id": taken}]) == got


@pytest.mark.parametrize("value", [{"id": "item-1"}, [1, {"id": 2}], "text"])
def test_leaves_other_payloads_unchanged(value: Any) -> None:
    """TestSanitizeCodexInputItemIDsLeavesUnsupportedPayloadsUnchanged."""
    body = {"input": value}
    sanitize_input_ids(body)
    assert body == {"input": value}


def test_the_codex_request_carries_fixed_ids() -> None:
    """TestCodexExecutorExecuteStreamSanitizesOverlongInputItemIDs: on the body sent (and
    TestBuildCodexWebsocketRequestBodySanitizesOverlongInputItemIDs: the upstream socket's
    ``response.create`` is this body)."""
    long_call, long_output = "grok-call-item-" * 6, "grok-output-item-" * 6
    body = {
        "model": "gpt-5.4",
        "input": [
            {"type": "reasoning", "id": "rs_" + "a" * 64, "encrypted_content": "gAAAA-x", "summary": []},
            {
                "type": "function_call",
                "id": long_call,
                "call_id": "call-1",
                "name": "lookup",
                "arguments": "{}",
            },
            {"type": "function_call_output", "id": long_output, "call_id": "call-1", "output": "ok"},
            {"type": "message", "id": "item_74ec40c883248ebb4885ec84", "role": "user", "content": "continue"},
        ],
    }
    cred = Credential(id="c", provider="codex", api_key="k")
    up = CodexProvider().build(cred, body, model="gpt-5.4", stream=True, client_headers={})
    sent = orjson.loads(up.body)["input"]
    assert [i["type"] for i in sent] == ["function_call", "function_call_output", "message"]
    assert all(len(i["id"]) <= 64 for i in sent)
    assert sent[0]["id"] != long_call and sent[1]["id"] != long_output
    assert [i["call_id"] for i in sent[:2]] == ["call-1", "call-1"]
    assert sent[2]["id"] == "msg_item_74ec40c883248ebb4885ec84"
