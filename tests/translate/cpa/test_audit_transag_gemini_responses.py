"""Audit (helper transag) of CPA's gemini_openai-responses_response_test.go: the facts of
TestConvertGeminiResponseToOpenAIResponses_UnwrapAndAggregateText that our earlier port
(test_gemini_openai_responses_response.py::test_unwrap_and_aggregate_text, "the text
half") left out: the message closes before the function call opens, the response id is
the upstream's with ``resp_``, cached tokens reach the usage, the call's arguments are
whole, and the finished Response repeats the client's ``instructions`` (as the OpenAI API
does; before, a translated answer always said ``instructions: null``).

CPA's chunks come wrapped in Vertex's ``{"response": ...}``; ours come unwrapped, because
the Gemini CLI / Antigravity providers take the envelope off before the translator sees
the stream (tests/e2e/test_providers_more.py::test_antigravity_envelope_in_and_unwrapped_out).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from cliproxy.translate.carriers import GEMINI_CARRIER_PREFIX

from ._run import GEMINI, RESPONSES, events, req, resp, sse, stream

USAGE = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2, "cachedContentTokenCount": 0}
LAST_USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 5,
    "totalTokenCount": 15,
    "cachedContentTokenCount": 2,
}
REQUEST = {"instructions": "test instructions", "model": "gpt-5", "max_output_tokens": 123, "input": "hi"}


def _chunk(
    parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, Any] = USAGE
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "test-model",
        "responseId": "req_vrtx_1",
    }


CALL = {
    "functionCall": {
        "name": "mcp__serena__list_dir",
        "args": {"recursive": False, "relative_path": "internal"},
        "id": "toolu_1",
    }
}
CHUNKS = [
    _chunk([{"text": ""}]),
    _chunk([{"text": "让"}]),
    _chunk([{"text": "我先"}]),
    _chunk([{"text": "了解"}]),
    _chunk([CALL]),
    _chunk([{"text": ""}], "STOP", LAST_USAGE),
]


def test_unwrap_and_aggregate_text_stream() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_UnwrapAndAggregateText (the rest)."""
    evs = events(
        stream(GEMINI, RESPONSES, sse(*CHUNKS, events=False), {**REQUEST, "stream": True}, "test-model")
    )
    kinds = [e["type"] for e in evs]

    def first(kind: str, item_type: str | None = None) -> int:
        return next(
            i
            for i, e in enumerate(evs)
            if e["type"] == kind and (item_type is None or e["item"]["type"] == item_type)
        )

    text_done = first("response.output_text.done")
    part_done = first("response.content_part.done")
    message_done = first("response.output_item.done", "message")
    call_added = first("response.output_item.added", "function_call")
    assert text_done < part_done < message_done < call_added, kinds
    assert evs[text_done]["text"] == "让我先了解"
    assert evs[message_done]["item"]["content"][0]["text"] == "让我先了解"
    call = evs[first("response.output_item.done", "function_call")]["item"]
    assert call["name"] == "mcp__serena__list_dir"
    assert orjson.loads(call["arguments"]) == {"recursive": False, "relative_path": "internal"}
    assert kinds.count("response.completed") == 1
    done = evs[kinds.index("response.completed")]["response"]
    assert done["id"] == "resp_req_vrtx_1"
    assert done["instructions"] == "test instructions"
    assert done["max_output_tokens"] == 123
    assert done["usage"]["input_tokens_details"]["cached_tokens"] == 2


def test_whole_answer_repeats_instructions() -> None:
    """The whole (non-stream) answer of the same case repeats ``instructions`` too (CPA's
    ConvertGeminiResponseToOpenAIResponsesNonStream writes it); a request without them
    keeps ``instructions: null``."""
    whole = _chunk([{"text": "hello"}], "STOP", LAST_USAGE)
    out = resp(GEMINI, RESPONSES, whole, REQUEST, "test-model")
    assert out["instructions"] == "test instructions"
    assert out["id"] == "resp_req_vrtx_1"
    bare = resp(GEMINI, RESPONSES, whole, {"model": "gpt-5", "input": "hi"}, "test-model")
    assert bare["instructions"] is None


def test_wrapped_uuid_function_signature_round_trip() -> None:
    """TestGeminiResponsesWrappedUUIDFunctionSignatureRoundTrip, both halves (our earlier
    port, test_signature_responses.py, had the request half only): a Gemini signature
    that is a protobuf-wrapped UUID, on a function call, reaches a Responses client as a
    reasoning carrier before the call; the client's next turn, under a model alias that
    names no provider, gives Gemini the call with that very signature and no carrier text."""
    uuid = b"e24830a7-5cd6-42fe-998b-ee539e72b9c3"
    inner = bytes([0x0A, len(uuid)]) + uuid  # field 1, bytes
    signature = base64.b64encode(bytes([0x12, len(inner)]) + inner).decode()  # field 2, bytes
    chunk = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "thoughtSignature": signature,
                            "functionCall": {"id": "native-call", "name": "run", "args": {"command": "true"}},
                        }
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "modelVersion": "gemini-3.6-flash",
        "responseId": "wrapped-uuid",
    }
    alias = "alias-without-provider-name"
    evs = events(
        stream(
            GEMINI,
            RESPONSES,
            sse(chunk, events=False),
            {"model": alias, "input": "run", "stream": True},
            alias,
        )
    )
    items = [e["item"] for e in evs if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    assert items[0]["encrypted_content"].startswith(GEMINI_CARRIER_PREFIX + "next:function:")
    call_id = items[1]["call_id"]
    assert call_id
    turn = [
        {"role": "user", "content": "run"},
        *items,
        {"type": "function_call_output", "call_id": call_id, "output": "ok"},
    ]
    out = req(RESPONSES, GEMINI, {"model": alias, "input": turn}, alias)
    calls = [p for c in out["contents"] for p in c["parts"] if "functionCall" in p]
    assert len(calls) == 1
    assert calls[0]["functionCall"] == {"name": "run", "args": {"command": "true"}}
    assert calls[0]["thoughtSignature"] == signature
    assert GEMINI_CARRIER_PREFIX not in orjson.dumps(out).decode()
