"""Ported from CPA internal/translator/codex/openai/responses/codex_openai-responses_request_test.go:
a Responses client's body shaped for the Codex (ChatGPT backend) upstream."""

from __future__ import annotations

import orjson

from ._run import CODEX, RESPONSES, get, req

CPA = "codex_openai-responses_request_test.go"


def _codex(body: dict) -> dict:
    return req(RESPONSES, CODEX, body, body.get("model"))


def _msg(role: str, text: str, kind: str = "input_text") -> dict:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def test_system_role_basic_conversion() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_BasicConversion."""
    out = _codex(
        {"model": "gpt-5.2", "input": [_msg("system", "You are a pirate."), _msg("user", "Say hello.")]}
    )
    assert get(out, "input.0.role") == "developer"
    assert get(out, "input.1.role") == "user"
    assert get(out, "input.0.content.0.text") == "You are a pirate."


def test_system_role_multiple_system_messages() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_MultipleSystemMessages."""
    out = _codex(
        {
            "model": "gpt-5.2",
            "input": [
                _msg("system", "You are helpful."),
                _msg("system", "Be concise."),
                _msg("user", "Hello"),
            ],
        }
    )
    assert [i["role"] for i in out["input"]] == ["developer", "developer", "user"]


def test_system_role_no_system_messages() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_NoSystemMessages."""
    out = _codex(
        {"model": "gpt-5.2", "input": [_msg("user", "Hello"), _msg("assistant", "Hi there!", "output_text")]}
    )
    assert [i["role"] for i in out["input"]] == ["user", "assistant"]


def test_system_role_empty_input() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_EmptyInput."""
    out = _codex({"model": "gpt-5.2", "input": []})
    assert out["input"] == []


def test_system_role_no_input_field() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_NoInputField."""
    out = _codex({"model": "gpt-5.2", "stream": False})
    assert out["stream"] is True
    assert out["store"] is False


def test_original_issue() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodex_OriginalIssue."""
    out = _codex(
        {
            "model": "gpt-5.2",
            "input": [
                {
                    "type": "message",
                    "role": "system",
                    "content": "You are a pirate. Always respond in pirate speak.",
                },
                {"type": "message", "role": "user", "content": "Say hello."},
            ],
            "stream": False,
        }
    )
    assert get(out, "input.0.role") == "developer"
    assert out["stream"] is True
    assert out["store"] is False
    assert out["parallel_tool_calls"] is True
    assert out["include"] == ["reasoning.encrypted_content"]


def test_normalized_payload_kept() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodexReusesNormalizedPayload
    (the byte-identity half is Go-specific; the facts: nothing changes)."""
    body = {
        "model": "gpt-5.6",
        "stream": True,
        "store": False,
        "parallel_tool_calls": True,
        "include": ["reasoning.encrypted_content"],
        "service_tier": "priority",
        "input": [{"type": "message", "role": "user", "content": "hello"}],
    }
    out = _codex(orjson.loads(orjson.dumps(body)))
    for key, value in body.items():
        if key != "input":
            assert out[key] == value, key
    assert get(out, "input.0.role") == "user"
    assert "hello" in orjson.dumps(out["input"]).decode()


def test_normalizes_required_fields() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodexNormalizesRequiredFields."""
    out = _codex(
        {
            "model": "gpt-5.6",
            "stream": True,
            "store": True,
            "parallel_tool_calls": False,
            "include": ["file_search_call.results", "reasoning.encrypted_content"],
            "max_output_tokens": 4096,
            "max_completion_tokens": 4096,
            "temperature": 0.2,
            "top_p": 0.9,
            "service_tier": "standard",
            "truncation": "auto",
            "prompt_cache_options": {"mode": "implicit"},
            "prompt_cache_retention": "24h",
            "user": "request-owner",
            "input": [{"type": "message", "role": "system", "content": "hello"}],
        }
    )
    assert out["stream"] is True
    assert out["store"] is False
    assert out["parallel_tool_calls"] is True
    assert out["include"] == ["reasoning.encrypted_content"]
    assert get(out, "input.0.role") == "developer"
    for key in (
        "max_output_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "service_tier",
        "truncation",
        "prompt_cache_options",
        "prompt_cache_retention",
        "user",
    ):
        assert key not in out, key


def test_filters_prompt_cache_retention() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodex_FiltersPromptCacheRetention."""
    out = _codex(
        {"model": "gpt-5.6-terra", "prompt_cache_retention": "24h", "input": [_msg("user", "hello")]}
    )
    assert "prompt_cache_retention" not in out


def test_system_role_assistant_role_preserved() -> None:
    """codex_openai-responses_request_test.go TestConvertSystemRoleToDeveloper_AssistantRole."""
    out = _codex(
        {
            "model": "gpt-5.2",
            "input": [
                _msg("system", "You are helpful."),
                _msg("user", "Hello"),
                _msg("assistant", "Hi!", "output_text"),
            ],
        }
    )
    assert [i["role"] for i in out["input"]] == ["developer", "user", "assistant"]


def test_normalizes_web_search_preview() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodex_NormalizesWebSearchPreview."""
    out = _codex(
        {
            "model": "gpt-5.4-mini",
            "input": "find latest OpenAI model news",
            "tools": [{"type": "web_search_preview_2025_03_11"}],
            "tool_choice": {
                "type": "allowed_tools",
                "tools": [{"type": "web_search_preview"}, {"type": "web_search_preview_2025_03_11"}],
            },
        }
    )
    assert get(out, "tools.0.type") == "web_search"
    assert get(out, "tool_choice.type") == "allowed_tools"
    assert get(out, "tool_choice.tools.0.type") == "web_search"
    assert get(out, "tool_choice.tools.1.type") == "web_search"


def test_normalizes_top_level_tool_choice_preview_alias() -> None:
    """codex_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToCodex_NormalizesTopLevelToolChoicePreviewAlias."""
    out = _codex(
        {
            "model": "gpt-5.4-mini",
            "input": "find latest OpenAI model news",
            "tool_choice": {"type": "web_search_preview_2025_03_11"},
        }
    )
    assert get(out, "tool_choice.type") == "web_search"


def test_user_field_deletion() -> None:
    """codex_openai-responses_request_test.go TestUserFieldDeletion."""
    out = _codex({"model": "gpt-5.2", "user": "test-user", "input": [{"role": "user", "content": "Hello"}]})
    assert "user" not in out


def test_context_management_compaction_compatibility() -> None:
    """codex_openai-responses_request_test.go TestContextManagementCompactionCompatibility."""
    out = _codex(
        {
            "model": "gpt-5.2",
            "context_management": [{"type": "compaction", "compact_threshold": 12000}],
            "input": [{"role": "user", "content": "hello"}],
        }
    )
    assert "context_management" not in out
    assert "truncation" not in out


def test_truncation_removed() -> None:
    """codex_openai-responses_request_test.go TestTruncationRemovedForCodexCompatibility."""
    out = _codex(
        {"model": "gpt-5.2", "truncation": "disabled", "input": [{"role": "user", "content": "hello"}]}
    )
    assert "truncation" not in out


def test_strip_cache_breakpoints() -> None:
    """codex_openai-responses_request_test.go TestStripCodexResponsesCacheBreakpoints."""
    out = _codex(
        {
            "model": "gpt-5.2",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "Hello world",
                            "prompt_cache_breakpoint": {"mode": "explicit"},
                        },
                        {"type": "input_text", "text": "Second part"},
                    ],
                }
            ],
        }
    )
    assert b"prompt_cache_breakpoint" not in orjson.dumps(out)
    assert get(out, "input.0.content.0.text") == "Hello world"
    assert get(out, "input.0.content.1.text") == "Second part"


def test_strip_cache_breakpoints_with_system_role() -> None:
    """codex_openai-responses_request_test.go TestStripCodexResponsesCacheBreakpoints_WithSystemRole."""
    bp = {"mode": "explicit"}
    out = _codex(
        {
            "model": "gpt-5.2",
            "input": [
                {
                    "type": "message",
                    "role": "system",
                    "content": [
                        {"type": "input_text", "text": "System prompt", "prompt_cache_breakpoint": bp}
                    ],
                },
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "User query", "prompt_cache_breakpoint": bp}],
                },
            ],
        }
    )
    assert get(out, "input.0.role") == "developer"
    assert b"prompt_cache_breakpoint" not in orjson.dumps(out)
    assert get(out, "input.0.content.0.text") == "System prompt"
    assert get(out, "input.1.content.0.text") == "User query"
