"""CPA internal/translator/openai/openai/chat-completions/openai_openai_request_test.go:
Chat client -> Chat upstream."""

from __future__ import annotations

from tests.translate.cpa._run import OPENAI, req


def test_updates_different_model() -> None:
    """TestConvertOpenAIRequestToOpenAIUpdatesDifferentModel."""
    out = req(
        OPENAI, OPENAI, {"model": "old-model", "messages": [{"role": "user", "content": "hi"}]}, "new-model"
    )
    assert out["model"] == "new-model"


def test_matching_model_payload_round_trips() -> None:
    """TestConvertOpenAIRequestToOpenAIReusesMatchingModelPayload. CPA checks that no copy
    is made; same-format requests skip translation in our pipeline (bytes pass through),
    and the hub path gives the body back unchanged."""
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}
    assert req(OPENAI, OPENAI, body, "gpt-test") == body
