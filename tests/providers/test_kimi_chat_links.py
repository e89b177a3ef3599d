"""CPA runtime/executor/kimi_executor_test.go ``TestNormalizeKimiToolMessageLinks_*`` (and
executor_payload_optimization_test.go's two): ``providers.kimi_chat``, and the Kimi
provider applying it to Chat Completions bodies."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from cliproxy.formats import Format
from cliproxy.providers.kimi import KimiProvider
from cliproxy.providers.kimi_chat import normalize_tool_links
from tests.providers.test_kimi import cred


def _call(cid: str, name: str = "list_directory") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": "{}"}}


def _calls(*ids: str) -> list[dict[str, Any]]:
    return [_call(cid) for cid in ids]


def norm(messages: list[Any]) -> list[Any]:
    """The repaired list (the same one when nothing changed); the input is never edited."""
    before = copy.deepcopy(messages)
    out = normalize_tool_links(messages)
    assert messages == before
    return messages if out is None else out


def test_uses_call_id_fallback() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_UsesCallIDFallback."""
    out = norm(
        [
            {"role": "assistant", "tool_calls": _calls("list_directory:1")},
            {"role": "tool", "call_id": "list_directory:1", "content": "[]"},
        ]
    )
    assert out[1]["tool_call_id"] == "list_directory:1"


def test_infers_single_pending_id() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_InferSinglePendingID."""
    out = norm(
        [
            {"role": "assistant", "tool_calls": [_call("call_123", "read_file")]},
            {"role": "tool", "content": "file-content"},
        ]
    )
    assert out[1]["tool_call_id"] == "call_123"


def test_ambiguous_missing_id_is_not_inferred() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_AmbiguousMissingIDIsNotInferred."""
    out = norm(
        [
            {"role": "assistant", "tool_calls": [_call("call_1"), _call("call_2", "read_file")]},
            {"role": "tool", "content": "result-without-id"},
        ]
    )
    assert "tool_call_id" not in out[1]


def test_preserves_existing_tool_call_id() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_PreservesExistingToolCallID."""
    out = norm(
        [
            {"role": "assistant", "tool_calls": _calls("call_1")},
            {"role": "tool", "tool_call_id": "call_1", "call_id": "different-id", "content": "result"},
        ]
    )
    assert out[1]["tool_call_id"] == "call_1"


def test_inherits_previous_reasoning_for_assistant_tool_calls() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_InheritsPreviousReasoningForAssistantToolCalls."""
    out = norm(
        [
            {"role": "assistant", "content": "plan", "reasoning_content": "previous reasoning"},
            {"role": "assistant", "tool_calls": _calls("call_1")},
        ]
    )
    assert out[1]["reasoning_content"] == "previous reasoning"


def test_inserts_fallback_reasoning_when_missing() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_InsertsFallbackReasoningWhenMissing."""
    out = norm([{"role": "assistant", "tool_calls": _calls("call_1")}])
    assert out[0]["reasoning_content"] == "[reasoning unavailable]"


def test_does_not_reuse_unavailable_reasoning() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_DoesNotReuseUnavailableReasoning."""
    out = norm(
        [
            {"role": "assistant", "reasoning_content": "[reasoning unavailable]"},
            {"role": "assistant", "content": "current summary", "tool_calls": _calls("call_1")},
        ]
    )
    assert out[1]["reasoning_content"] == "current summary"


def test_unavailable_reasoning_does_not_override_previous_reasoning() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_UnavailableReasoningDoesNotOverridePreviousReasoning."""
    out = norm(
        [
            {"role": "assistant", "reasoning_content": "real reasoning"},
            {"role": "assistant", "reasoning_content": "[reasoning unavailable]"},
            {"role": "assistant", "tool_calls": _calls("call_1")},
        ]
    )
    assert out[2]["reasoning_content"] == "real reasoning"


def test_replaces_unavailable_reasoning_content() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_ReplacesUnavailableReasoningContent."""
    out = norm(
        [
            {
                "role": "assistant",
                "content": "assistant summary",
                "tool_calls": _calls("call_1"),
                "reasoning_content": "[reasoning unavailable]",
            }
        ]
    )
    assert out[0]["reasoning_content"] == "assistant summary"


def test_uses_content_as_reasoning_fallback() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_UsesContentAsReasoningFallback."""
    parts = [{"type": "text", "text": "first line"}, {"type": "text", "text": "second line"}]
    out = norm([{"role": "assistant", "content": parts, "tool_calls": _calls("call_1")}])
    assert out[0]["reasoning_content"] == "first line\nsecond line"


def test_replaces_empty_reasoning_content() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_ReplacesEmptyReasoningContent."""
    out = norm(
        [
            {
                "role": "assistant",
                "content": "assistant summary",
                "tool_calls": _calls("call_1"),
                "reasoning_content": "",
            }
        ]
    )
    assert out[0]["reasoning_content"] == "assistant summary"


def test_preserves_existing_assistant_reasoning() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_PreservesExistingAssistantReasoning."""
    out = norm([{"role": "assistant", "tool_calls": _calls("call_1"), "reasoning_content": "keep me"}])
    assert out[0]["reasoning_content"] == "keep me"


def test_repairs_ids_and_reasoning_together() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_RepairsIDsAndReasoningTogether."""
    out = norm(
        [
            {"role": "assistant", "tool_calls": _calls("call_1"), "reasoning_content": "r1"},
            {"role": "tool", "call_id": "call_1", "content": "[]"},
            {"role": "assistant", "tool_calls": [_call("call_2", "read_file")]},
            {"role": "tool", "call_id": "call_2", "content": "file"},
        ]
    )
    assert out[1]["tool_call_id"] == "call_1"
    assert out[3]["tool_call_id"] == "call_2"
    assert out[2]["reasoning_content"] == "r1"


def test_drops_empty_assistant_without_tool_link() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_DropsEmptyAssistantWithoutToolLink."""
    out = norm(
        [
            {"role": "user", "content": "start"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "   "},
            {"role": "assistant", "content": "", "tool_calls": None},
            {"role": "assistant", "content": [{"type": "text", "text": "  "}]},
            {"role": "assistant"},
            {"role": "assistant", "content": "keep"},
            {"role": "user", "content": "next"},
        ]
    )
    assert [m["content"] for m in out] == ["start", "keep", "next"]


def test_preserves_assistant_with_tool_link_or_reasoning() -> None:
    """CPA: TestNormalizeKimiToolMessageLinks_PreservesAssistantWithToolLinkOrReasoning."""
    out = norm(
        [
            {"role": "assistant", "content": "", "tool_calls": _calls("call_1")},
            {"role": "assistant", "content": "", "function_call": {"name": "legacy_call", "arguments": "{}"}},
            {"role": "assistant", "content": "", "reasoning_content": "thought"},
            {"role": "assistant", "content": [{"type": "text", "text": " visible "}]},
        ]
    )
    assert len(out) == 4
    assert "tool_calls" in out[0]
    assert "function_call" in out[1]
    assert out[2]["reasoning_content"] == "thought"
    assert out[3]["content"][0]["text"] == " visible "


def test_canonical_history_is_reused() -> None:
    """TestNormalizeKimiToolMessageLinksReusesCanonicalPayload: nothing to repair, no copy."""
    messages = [
        {"role": "assistant", "reasoning_content": "checking", "tool_calls": [_call("call_1", "lookup")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]
    assert normalize_tool_links(messages) is None
    assert normalize_tool_links(None) is None and normalize_tool_links("text") is None


def test_large_arguments_survive() -> None:
    """TestNormalizeKimiToolMessageLinksPreservesLargeArguments."""
    body = orjson.loads(
        b'{"messages":[{"role":"assistant","content":"lookup","tool_calls":[{"id":"call_1","type":"function",'
        b'"function":{"name":"lookup","arguments":{"id":9007199254740993}}}]},'
        b'{"role":"tool","call_id":"call_1","content":"ok"}]}'
    )
    out = norm(body["messages"])
    sent = orjson.dumps({"messages": out})
    assert b'"id":9007199254740993' in sent
    assert out[1]["tool_call_id"] == "call_1"
    assert out[0]["reasoning_content"] == "lookup"


def test_unchanged_messages_are_shared_and_changed_ones_copied() -> None:
    """The client's messages are never edited: a repaired one is a new dict, the rest are
    the same objects."""
    user = {"role": "user", "content": "go"}
    assistant = {"role": "assistant", "reasoning_content": "r", "tool_calls": _calls("c1")}
    tool = {"role": "tool", "call_id": "c1", "content": "ok"}
    messages = [user, assistant, tool]
    out = norm(messages)
    assert out is not messages and out[0] is user and out[1] is assistant
    assert out[2] is not tool and "tool_call_id" not in tool


def test_chat_request_is_repaired_and_the_client_list_kept() -> None:
    """The Kimi Chat Completions request carries the repaired history (CPA repairs it in
    Execute and ExecuteStream); the body's list, which a pass-through shares with the
    client, is replaced, not edited."""
    messages: list[Any] = [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": "", "tool_calls": _calls("call_1")},
        {"role": "tool", "call_id": "call_1", "content": "[]"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "next"},
    ]
    client = copy.deepcopy(messages)
    body = {"model": "kimi-k3", "messages": messages}
    req = KimiProvider().build(
        cred(), body, model="kimi-k3", stream=True, client_headers={}, fmt=Format.OPENAI
    )
    sent = orjson.loads(req.body)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[1]["reasoning_content"] == "[reasoning unavailable]"
    assert sent[2]["tool_call_id"] == "call_1"
    assert messages == client


def test_messages_request_is_not_touched() -> None:
    """Claude clients go to the Messages endpoint: no Chat repair there."""
    body = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}],
        "max_tokens": 8,
    }
    req = KimiProvider().build(
        cred(), body, model="kimi-k3", stream=False, client_headers={}, fmt=Format.CLAUDE
    )
    assert len(orjson.loads(req.body)["messages"]) == 2
