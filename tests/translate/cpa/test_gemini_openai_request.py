"""Ported from CPA internal/translator/gemini/openai/chat-completions/gemini_openai_request_test.go
(and gemini_openai_file_data_test.go): a Chat Completions client's body for a Gemini upstream.

Documented differences kept as assertions: we write ``inlineData.mimeType`` (Gemini's
JSON name; CPA writes ``mime_type``, which the API also reads) and tool schemas go in
``parameters`` cleaned for Gemini (CPA sends ``parametersJsonSchema``)."""

from __future__ import annotations

import pytest

from ._run import GEMINI, OPENAI, get, req

CPA = "gemini_openai_request_test.go"


def _gem(body: dict, model: str) -> dict:
    return req(OPENAI, GEMINI, body, model)


def _mime(part: dict) -> str | None:
    inline = part.get("inlineData") or {}
    return inline.get("mimeType") or inline.get("mime_type")


def test_strips_trailing_assistant_prefill() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGemini_StripsTrailingAssistantPrefill."""
    out = _gem(
        {
            "model": "gpt-5.4",
            "messages": [
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "previous answer"},
            ],
        },
        "gemini-3.1-pro-high",
    )
    assert len(out["contents"]) == 1
    assert out["contents"][0]["role"] == "user"


def test_preserves_input_audio() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiPreservesInputAudio."""
    out = _gem(
        {
            "model": "gpt-5.5",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe this audio verbatim."},
                        {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}},
                    ],
                }
            ],
        },
        "gemini-3.1-pro-high",
    )
    parts = get(out, "contents.0.parts")
    assert len(parts) == 2
    assert parts[0]["text"] == "Transcribe this audio verbatim."
    assert _mime(parts[1]) == "audio/mpeg"
    assert parts[1]["inlineData"]["data"] == "SUQzBA=="


def test_preserves_video_url() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiPreservesVideoURL."""
    out = _gem(
        {
            "model": "gemini-3-flash",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAAIGZ0eXBtcDQy"}},
                        {"type": "text", "text": "Describe the video"},
                    ],
                }
            ],
        },
        "gemini-3-flash",
    )
    parts = get(out, "contents.0.parts")
    assert len(parts) == 2
    assert _mime(parts[0]) == "video/mp4"
    assert parts[0]["inlineData"]["data"] == "AAAAIGZ0eXBtcDQy"
    assert parts[1]["text"] == "Describe the video"


def test_skips_empty_text_parts_without_nulls() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiSkipsEmptyTextPartsWithoutNulls."""
    out = _gem(
        {
            "model": "gemini-3-flash",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": ""},
                        {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": ""}],
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": '{"path":"a.txt"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"output":"ok"}'},
                {"role": "user", "content": "done"},
            ],
        },
        "gemini-3-flash",
    )
    user_parts = get(out, "contents.0.parts")
    assert len(user_parts) == 1 and user_parts[0] is not None
    assert _mime(user_parts[0]) == "audio/mpeg"
    model_parts = get(out, "contents.1.parts")
    assert len(model_parts) == 1 and model_parts[0] is not None
    assert "functionCall" in model_parts[0]


def test_preserves_reasoning_content() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiPreservesReasoningContent
    (the bypass-sentinel signature half belongs to the signatures work)."""
    out = _gem(
        {
            "model": "gemini-3-flash",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "reasoning_content": "thinking only"},
                {"role": "user", "content": "say ok"},
            ],
        },
        "gemini-3-flash",
    )
    contents = out["contents"]
    assert len(contents) == 3
    assert contents[1]["role"] == "model"
    part = contents[1]["parts"][0]
    assert part["text"] == "thinking only"
    assert part.get("thought") is True


def test_preserves_reasoning_before_visible_content_and_tool_call() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiPreservesReasoningBeforeVisibleContentAndToolCall."""
    out = _gem(
        {
            "model": "gemini-3-flash",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "visible answer",
                    "reasoning_content": "thinking only",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"output":"ok"}'},
                {"role": "user", "content": "say ok"},
            ],
        },
        "gemini-3-flash",
    )
    contents = out["contents"]
    # we merge consecutive user turns (tool response + next question) into one content;
    # CPA sends them as two (Gemini takes both)
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert [list(p) for p in contents[2]["parts"]] == [["functionResponse"], ["text"]]
    parts = contents[1]["parts"]
    assert len(parts) == 3
    assert parts[0]["text"] == "thinking only" and parts[0].get("thought") is True
    assert parts[1]["text"] == "visible answer" and not parts[1].get("thought")
    assert get(parts[2], "functionCall.name") == "read_file"
    assert get(contents[2], "parts.0.functionResponse.name") == "read_file"
    assert get(parts[2], "thoughtSignature")  # the first call of the turn is signed


def test_skips_empty_assistant_messages() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiSkipsEmptyAssistantMessages
    (we refuse a tool call without a name with a 400 instead; the empty assistant turn
    itself is the case kept here)."""
    out = _gem(
        {
            "model": "gemini-3-flash",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "say ok"},
            ],
        },
        "gemini-3-flash",
    )
    # the empty model turn is not sent; we then merge the two user turns (CPA keeps two)
    assert [c["role"] for c in out["contents"]] == ["user"]
    assert [p["text"] for p in out["contents"][0]["parts"]] == ["hi", "say ok"]


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ({"max_tokens": 30}, 30),
        ({"max_completion_tokens": 40}, 40),
        # CPA prefers max_tokens; our Chat parser lets max_completion_tokens win (the
        # newer name, and what OpenAI itself honours): a deliberate difference
        ({"max_tokens": 30, "max_completion_tokens": 40}, 40),
    ],
    ids=["max_tokens", "max_completion_tokens", "max_tokens preferred"],
)
def test_maps_max_tokens(extra: dict, want: int) -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiMapsMaxTokens."""
    body = {"model": "gemini-2.0-flash", "messages": [{"role": "user", "content": "hi"}], **extra}
    out = _gem(body, "gemini-2.0-flash")
    assert get(out, "generationConfig.maxOutputTokens") == want


def test_cleans_tool_schema_required_fields() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiCleansToolSchemaRequiredFields."""
    out = _gem(
        {
            "model": "gemini-2.0-flash",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "search_company",
                        "description": "Search",
                        "parameters": {
                            "type": "object",
                            "title": "SearchCompany",
                            "properties": {"country": {"type": "string"}, "industry": {"type": "string"}},
                            "required": ["country", "industry", "stale_field", "another_stale"],
                        },
                    },
                }
            ],
        },
        "gemini-2.0-flash",
    )
    decl = get(out, "tools.0.functionDeclarations.0")
    schema = decl.get("parametersJsonSchema") or decl.get("parameters")
    assert schema is not None
    assert schema["required"] == ["country", "industry"]


def test_response_format_json_schema() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiResponseFormatJSONSchema
    (the client's stray ``generationConfig`` is not a Chat field: left out here)."""
    out = _gem(
        {
            "model": "gemini-3.1-flash-lite",
            "temperature": 0.2,
            "messages": [{"role": "user", "content": "Return structured JSON."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "response",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"cleanedContent": {"type": "string"}},
                        "required": ["cleanedContent"],
                        "additionalProperties": False,
                    },
                },
            },
        },
        "gemini-3.1-flash-lite",
    )
    gc = out["generationConfig"]
    assert gc["responseMimeType"] == "application/json"
    schema = gc.get("responseJsonSchema")
    assert schema is not None and "responseSchema" not in gc
    assert schema.get("additionalProperties") is False
    assert gc["temperature"] == 0.2


def test_response_format_json_object() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiResponseFormatJSONObject."""
    out = _gem(
        {
            "model": "gemini-3.1-flash-lite",
            "temperature": 0.6,
            "messages": [{"role": "user", "content": "Return a JSON object."}],
            "response_format": {"type": "json_object"},
        },
        "gemini-3.1-flash-lite",
    )
    gc = out["generationConfig"]
    assert gc["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in gc
    assert gc["temperature"] == 0.6


def test_response_format_json_schema_without_schema() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiResponseFormatJSONSchemaWithoutSchema."""
    out = _gem(
        {
            "model": "gemini-3.1-flash-lite",
            "messages": [{"role": "user", "content": "Return structured JSON."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "response"}},
        },
        "gemini-3.1-flash-lite",
    )
    gc = out["generationConfig"]
    assert gc["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in gc


@pytest.mark.parametrize("fmt", [None, {"type": "text"}], ids=["absent", "unknown type"])
def test_response_format_no_op(fmt: dict | None) -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiResponseFormatNoOp."""
    body: dict = {
        "model": "gemini-3.1-flash-lite",
        "messages": [{"role": "user", "content": "plain text"}],
        "temperature": 0.5,
    }
    if fmt is not None:
        body["response_format"] = fmt
    gc = _gem(body, "gemini-3.1-flash-lite")["generationConfig"]
    assert "responseMimeType" not in gc and "responseJsonSchema" not in gc
    assert gc["temperature"] == 0.5


def test_normalizes_file_data_url() -> None:
    """gemini_openai_file_data_test.go TestConvertOpenAIRequestToGeminiNormalizesFileDataURL."""
    out = _gem(
        {
            "model": "gemini-2.5-pro",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "test.pdf",
                                "file_data": "data:application/pdf;base64,JVBERi0xLjQK",
                            },
                        }
                    ],
                }
            ],
        },
        "gemini-2.5-pro",
    )
    part = get(out, "contents.0.parts.0")
    assert _mime(part) == "application/pdf"
    assert part["inlineData"]["data"] == "JVBERi0xLjQK"
