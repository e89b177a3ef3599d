"""Rows of CPA translator tests that the first ports left out (audit, helper transoc)."""

from __future__ import annotations

from typing import Any

import pytest

from ._run import CLAUDE, CODEX, GEMINI, OPENAI, get, req, resp

REQUEST = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _call_pair(key: str, value: str) -> dict[str, Any]:
    return {
        "contents": [
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "lookup", key: value, "args": {"query": "status"}}}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "lookup", key: value, "response": {"result": "ok"}}}],
            },
        ]
    }


@pytest.mark.parametrize("key", ["id", "call_id"])
def test_gemini_custom_call_ids_reach_codex(key: str) -> None:
    """codex_gemini_request_test.go TestConvertGeminiRequestToCodex_PreservesCustomCallIDs, both
    rows: a gateway's ``id`` or ``call_id`` on a Gemini call and its response is the Codex
    ``call_id`` of both items (the first port had the ``id`` row only)."""
    value = f"call_gateway_{key}"
    out = req(GEMINI, CODEX, _call_pair(key, value), "gpt-5.1-codex")
    assert get(out, "input.0.type") == "function_call"
    assert get(out, "input.0.call_id") == value
    assert get(out, "input.1.type") == "function_call_output"
    assert get(out, "input.1.call_id") == value


@pytest.mark.parametrize("key", ["id", "call_id"])
def test_gemini_custom_call_ids_pair_on_claude_and_chat(key: str) -> None:
    """The same ids for the other upstreams of this audit (CPA's Claude and OpenAI Gemini
    translators read ``id`` then ``call_id`` the same way)."""
    value = f"call_gateway_{key}"
    claude = req(GEMINI, CLAUDE, _call_pair(key, value), "claude-sonnet-4-5")
    assert get(claude, "messages.0.content.0.id") == value
    assert get(claude, "messages.1.content.0.tool_use_id") == value
    chat = req(GEMINI, OPENAI, _call_pair(key, value), "gpt-5")
    assert get(chat, "messages.0.tool_calls.0.id") == value
    assert get(chat, "messages.1.tool_call_id") == value


@pytest.mark.parametrize(
    ("choices", "want"),
    [
        (
            [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": "{}"},
                            }
                        ],
                    },
                },
                {"index": 1, "message": {"role": "assistant", "content": "choice 1 text"}},
            ],
            [{"functionCall": {"id": "call_1", "name": "lookup", "args": {}}}],
        ),
        (
            [
                {"index": 0, "message": {"role": "assistant", "content": "original text"}},
                {
                    "index": 1,
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "search", "arguments": "{}"},
                            }
                        ],
                    },
                },
            ],
            [{"text": "original text"}],
        ),
    ],
    ids=["call then text", "text then call"],
)
def test_multi_choice_answer_to_gemini_is_the_first_choice(choices: list[Any], want: list[Any]) -> None:
    """openai_gemini_response_test.go TestConvertOpenAIResponseToGeminiNonStream_MultiChoicePartsOverlay,
    a deliberate difference: CPA overlays choice 1's part 0 onto choice 0's, making one part
    that holds a ``text`` and a ``functionCall`` together, which is no valid Gemini part. A
    Gemini client asked for one candidate (Gemini has no ``n``), so it gets choice 0 whole
    and well-formed (each part one kind)."""
    out = resp(
        OPENAI, GEMINI, {"id": "c", "object": "chat.completion", "choices": choices}, REQUEST, "gpt-test"
    )
    parts = get(out, "candidates.0.content.parts")
    got = [
        {k: ({kk: vv for kk, vv in v.items() if kk in ("id", "name", "args")} if k == "functionCall" else v)}
        for p in parts
        for k, v in p.items()
        if k in ("text", "functionCall")
    ]
    assert got == want
    assert all(len({"text", "functionCall"} & p.keys()) == 1 for p in parts)
    assert len(get(out, "candidates")) == 1
