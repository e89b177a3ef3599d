"""Ported from CPA internal/translator/codex/gemini/codex_gemini_request_test.go: a Gemini
client's body for the Codex (Responses) upstream."""

from __future__ import annotations

import pytest

from ._run import CODEX, GEMINI, get, req

CPA = "codex_gemini_request_test.go"


def _codex(body: dict) -> dict:
    return req(GEMINI, CODEX, body, "gpt-5.1-codex")


@pytest.mark.parametrize("key", ["id"], ids=["id"])
def test_preserves_custom_call_ids(key: str) -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_PreservesCustomCallIDs (the
    ``id`` row; ``call_id`` is not a Gemini field and is kept as an unknown key)."""
    out = _codex(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {
                                "name": "lookup",
                                key: "call_gateway_id",
                                "args": {"query": "status"},
                            }
                        }
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {
                            "functionResponse": {
                                "name": "lookup",
                                key: "call_gateway_id",
                                "response": {"result": "ok"},
                            }
                        }
                    ],
                },
            ]
        }
    )
    assert get(out, "input.0.call_id") == "call_gateway_id"
    assert get(out, "input.1.call_id") == "call_gateway_id"


def test_accepts_inline_data() -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_AcceptsInlineData."""
    out = _codex(
        {
            "contents": [
                {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "aGVsbG8="}}]}
            ]
        }
    )
    assert get(out, "input.0.content.0.type") == "input_image"
    assert get(out, "input.0.content.0.image_url") == "data:image/png;base64,aGVsbG8="


def test_splits_non_image_inline_data_by_mime() -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_SplitsNonImageInlineDataByMIME
    (we keep the three parts in one user message; CPA sends one message each)."""
    out = _codex(
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                        {"inlineData": {"mimeType": "video/mp4", "data": "AAAAIGZ0eXA="}},
                        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                    ],
                }
            ]
        }
    )
    parts = [p for item in out["input"] for p in item.get("content", [])]
    assert [p["type"] for p in parts] == ["input_audio", "input_file", "input_file"]


def test_drops_hidden_thought_parts_thought_only_turn() -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_DropsHiddenThoughtParts (thought-only turn)."""
    out = _codex(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {
                            "thought": True,
                            "text": "internal reasoning",
                            "thoughtSignature": "opaque-provider-state",
                        }
                    ],
                },
                {"role": "user", "parts": [{"text": "continue"}]},
            ]
        }
    )
    assert len(out["input"]) == 1
    assert get(out, "input.0.role") == "user" and get(out, "input.0.content.0.text") == "continue"


def test_drops_hidden_thought_parts_mixed_turn() -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_DropsHiddenThoughtParts (mixed turn)."""
    out = _codex(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {
                            "thought": True,
                            "text": "internal reasoning",
                            "thoughtSignature": "opaque-provider-state",
                        },
                        {"text": "visible answer"},
                    ],
                }
            ]
        }
    )
    assert len(out["input"]) == 1
    assert get(out, "input.0.content.0.type") == "output_text"
    assert get(out, "input.0.content.0.text") == "visible answer"


def test_deterministic_call_ids() -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_DeterministicCallIDs (our ids
    for id-less Gemini calls are deterministic and pair call and response; the format of
    the id is ours)."""
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "first_tool", "args": {"q": "one"}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "first_tool", "response": {"result": "ok1"}}}],
            },
            {"role": "model", "parts": [{"functionCall": {"name": "second_tool", "args": {"q": "two"}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "second_tool", "response": {"result": "ok2"}}}],
            },
        ]
    }
    out1, out2 = _codex(body), _codex(body)
    assert out1 == out2
    ids = [i["call_id"] for i in out1["input"]]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
