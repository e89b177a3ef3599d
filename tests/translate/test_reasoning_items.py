"""``translate.reasoning_items``: CPA openai_responses_signature.go
(sanitizeOpenAIResponsesReasoningEncryptedContent), the parts an end-to-end case cannot
reach (Codex always sends ``store: false``)."""

from __future__ import annotations

from typing import Any

from cliproxy.translate.reasoning_items import drop_foreign_encrypted_content
from tests.translate.cpa.signature_fixtures import claude_signature, gpt_signature


def items() -> list[dict[str, Any]]:
    return [
        {"id": "rs_bad", "type": "reasoning", "encrypted_content": claude_signature()},
        {"id": "rs_space", "type": "reasoning", "encrypted_content": gpt_signature() + " "},
        {"id": "rs_null", "type": "reasoning", "encrypted_content": None},
        {"id": "rs_good", "type": "reasoning", "encrypted_content": gpt_signature()},
        {"id": "rs_orphan", "type": "reasoning"},
    ]


def test_store_true_keeps_ids() -> None:
    """CPA: TestSanitizeOpenAIResponsesReasoningEncryptedContent_KeepsIDsWhenStoreEnabled."""
    body = {"store": True, "input": items()}
    assert drop_foreign_encrypted_content(body)
    assert [sorted(i) for i in body["input"]] == [["id", "type"]] * 3 + [
        ["encrypted_content", "id", "type"],
        ["id", "type"],
    ]


def test_store_false_strips_ids_and_leaves_the_clients_list_alone() -> None:
    """CPA: TestSanitizeOpenAIResponsesReasoningEncryptedContent_StripsOrphanIDsWhenStoreDisabled."""
    original = items()
    body = {"input": original}
    assert drop_foreign_encrypted_content(body)
    assert body["input"] is not original and original == items()
    assert [sorted(i) for i in body["input"]] == [["type"]] * 3 + [
        ["encrypted_content", "id", "type"],
        ["type"],
    ]


def test_nothing_to_do() -> None:
    """CPA: TestSanitizeOpenAIResponsesReasoningEncryptedContent_NoopReturnsOriginalBody."""
    good = [{"id": "rs_good", "type": "reasoning", "encrypted_content": gpt_signature()}]
    body: dict[str, Any] = {"input": good}
    assert not drop_foreign_encrypted_content(body) and body["input"] is good
    assert not drop_foreign_encrypted_content({"input": "hi"})
