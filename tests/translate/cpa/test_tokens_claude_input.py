"""CPA internal/runtime/executor/helps/claude_input_tokens_test.go: the text CPA counts in a
Claude Messages request, and the o200k counts made of it."""

from __future__ import annotations

import threading
from typing import Any

from cliproxy.translate import tokens
from cliproxy.translate.token_segments import claude_segments
from tests.translate.cpa._run import CLAUDE, CODEX, events, sse, stream


def _count(body: dict[str, Any]) -> int:
    return tokens.count_text(tokens.O200K, "\n".join(claude_segments(body)))


def test_collect_claude_input_token_segments() -> None:
    """TestCollectClaudeInputTokenSegments: system text, roles, text, text documents,
    thinking, tool use (compact JSON input), tool results, tools and tool choice, in order;
    images, signatures, cache_control, metadata and settings are left out."""
    payload = {
        "model": "claude-test",
        "system": [
            {"type": "text", "text": "Follow repository rules.", "cache_control": {"type": "ephemeral"}},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "ignored-system-image"},
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Review the implementation."},
                    {"type": "document", "source": {"type": "text", "data": "Reference document text."}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "ignored-image"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "Inspect the relevant files.",
                        "signature": "ignored-signature",
                    },
                    {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "main.go"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "package main"},
                            {"type": "image", "source": {"type": "base64", "data": "ignored-tool-image"}},
                        ],
                    }
                ],
            },
        ],
        "tools": [
            {
                "name": "read_file",
                "description": "Reads a repository file.",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "tool_choice": {"type": "tool", "name": "read_file"},
        "metadata": {"user_id": "ignored-metadata"},
        "max_tokens": 4096,
        "stream": True,
    }
    assert claude_segments(payload) == [
        "Follow repository rules.",
        "user",
        "Review the implementation.",
        "Reference document text.",
        "assistant",
        "Inspect the relevant files.",
        "toolu_1",
        "read_file",
        '{"path":"main.go"}',
        "user",
        "toolu_1",
        "package main",
        "read_file",
        "Reads a repository file.",
        '{"type":"object","properties":{"path":{"type":"string"}}}',
        "tool",
        "read_file",
    ]


def test_collect_claude_input_token_segments_includes_known_tool_results() -> None:
    """TestCollectClaudeInputTokenSegmentsIncludesKnownToolResults: web search, web fetch,
    code execution results and tool references are counted; encrypted content is not."""
    payload = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "ws_tool_1",
                        "content": [
                            {
                                "type": "web_search_result",
                                "source": "Search source",
                                "title": "Search result title",
                                "url": "https://search.example/result",
                                "page_age": "1 day",
                                "encrypted_content": "ignored-secret",
                            }
                        ],
                    },
                    {
                        "type": "web_fetch_tool_result",
                        "tool_use_id": "fetch_tool_1",
                        "content": {
                            "type": "web_fetch_result",
                            "url": "https://docs.example/page",
                            "retrieved_at": "2026-07-22T00:00:00Z",
                            "content": {
                                "type": "document",
                                "title": "Fetched document",
                                "source": {"type": "text", "data": "Fetched body"},
                            },
                        },
                    },
                    {
                        "type": "bash_code_execution_tool_result",
                        "tool_use_id": "bash_tool_1",
                        "content": {
                            "type": "bash_code_execution_result",
                            "stdout": "command output",
                            "stderr": "command error",
                            "return_code": 1,
                            "content": [{"type": "text", "text": "additional output"}],
                        },
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "tool_reference", "tool_name": "proxy_mcp__nia__manage_resource"}
                        ],
                    },
                ],
            }
        ]
    }
    segments = claude_segments(payload)
    joined = "\n" + "\n".join(segments) + "\n"
    for want in (
        "ws_tool_1",
        "Search source",
        "Search result title",
        "https://search.example/result",
        "1 day",
        "fetch_tool_1",
        "https://docs.example/page",
        "2026-07-22T00:00:00Z",
        "Fetched document",
        "Fetched body",
        "bash_tool_1",
        "command output",
        "command error",
        "1",
        "additional output",
        "toolu_1",
        "proxy_mcp__nia__manage_resource",
    ):
        assert f"\n{want}\n" in joined, (want, segments)
    assert "ignored-secret" not in joined


def test_count_claude_input_tokens_excludes_multimedia_and_control_fields() -> None:
    """TestCountClaudeInputTokensExcludesMultimediaAndControlFields: images, audio, video,
    base64 documents, cache_control, metadata and sampling settings add no tokens."""
    base = {
        "system": "System text.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "User text."}]}],
        "tools": [{"name": "lookup", "description": "Looks up data.", "input_schema": {"type": "object"}}],
    }
    excluded = {
        "model": "claude-test",
        "system": "System text.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "User text."},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "very-large-image-data",
                        },
                    },
                    {"type": "input_audio", "source": {"type": "base64", "data": "very-large-audio-data"}},
                    {"type": "video", "source": {"type": "url", "url": "https://example.com/video.mp4"}},
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "very-large-pdf-data",
                        },
                    },
                ],
            }
        ],
        "tools": [
            {
                "name": "lookup",
                "description": "Looks up data.",
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "metadata": {"large_wrapper": "ignored"},
        "max_tokens": 8192,
        "temperature": 0.8,
        "top_p": 0.9,
        "thinking": {"type": "enabled", "budget_tokens": 4096},
        "stream": True,
    }
    assert _count(base) > 0
    assert _count(excluded) == _count(base)


def test_claude_input_tokenizer_concurrent_count() -> None:
    """TestClaudeInputTokenizerConcurrentCount: one shared encoder, counting from many
    threads at once, always positive (CJK text included)."""
    first = tokens.encoder(tokens.O200K)
    assert tokens.encoder(tokens.O200K) is first
    errors: list[str] = []

    def work(worker: int) -> None:
        for iteration in range(50):
            body = {"messages": [{"role": "user", "content": f"worker {worker} iteration {iteration} 你好"}]}
            if _count(body) <= 0:
                errors.append(f"{worker}/{iteration}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_message_start_is_not_estimated_the_real_count_ends_the_stream() -> None:
    """TestTranslateStreamWithClaudeInputTokensPatchesMessageStartOnce (and the other
    ClaudeInputTokenState cases: TestClaudeInputTokenStatePreservesCRLFAndNonTargetEvents,
    TestClaudeInputTokenStatePatchesMissingAndPreservesNonZero,
    TestClaudeInputTokenStateSkipsUnsupportedFlows, TestClaudeInputTokenStateCountErrorKeepsZero,
    TestClaudeInputTokenStateInvalidJSONKeepsZeroWithoutLoggingRequest): CPA estimates ``message_start``'s input_tokens for a
    Claude stream from a non-Claude upstream. Deliberate difference: no per-stream
    estimate (it would tokenize every prompt on the hot path, ~3 ms per 100 KB); the
    upstream's real input count reaches the client in ``message_delta``, whose usage the
    SDKs write over ``message_start``'s."""
    data = sse(
        {
            "type": "response.created",
            "response": {"id": "resp_1", "model": "gpt-5.4", "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "m1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "item_id": "m1",
            "delta": "Hi",
        },
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "model": "gpt-5.4",
                "status": "completed",
                "output": [],
                "usage": {"input_tokens": 42, "output_tokens": 3, "total_tokens": 45},
            },
        },
    )
    request = {
        "model": "m",
        "max_tokens": 10,
        "stream": True,
        "messages": [{"role": "user", "content": "Hello."}],
    }
    got = {e["type"]: e for e in events(stream(CODEX, CLAUDE, data, request))}
    assert got["message_start"]["message"]["usage"]["input_tokens"] == 0
    assert got["message_delta"]["usage"]["input_tokens"] == 42
