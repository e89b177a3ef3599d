"""Ported from CPA internal/translator/antigravity/claude/antigravity_claude_response_test.go
(the web-search cases; web_search.go): the grounding of an Antigravity Google search, whole
and streamed, as the Claude client of Claude Code's web search gets it.

CPA's answers carry Antigravity's ``{"response": ...}`` envelope, which our Antigravity
provider takes off before translation: the cases feed the inner answer. CPA's condition
"the upstream request had googleSearch" is ours "the answer has grounding" (we send
googleSearch to a Claude client only for this request): its
``..._WebSearchGroundingRequiresNativeGoogleSearch`` case becomes a request without the typed
tool, and an answer without grounding, both translated as before."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import orjson
import pytest

from cliproxy.translate import ir
from cliproxy.translate.claude.encode import ClaudeStreamEncoder
from cliproxy.translate.gemini.decode import GeminiStreamDecoder, WebSearchStreamDecoder, stream_decoder
from cliproxy.translate.gemini.web_search import Support, cited_pieces, search_results, supports_of
from tests.translate.pairs_common import serve_sse

from ._run import CLAUDE, GEMINI, claude_blocks, events, get, ir_of, resp, sse, stream

CPA = "antigravity_claude_response_test.go"
MODEL = "gemini-3.1-flash-lite"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def _request(tools: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Beijing weather"}],
        "tools": [WEB_SEARCH] if tools is None else tools,
    }
    body.update(extra)
    return body


GROUNDING: dict[str, Any] = {
    "webSearchQueries": ["Beijing weather June 10 2026"],
    "groundingChunks": [{"web": {"uri": "https://example.com/weather", "title": "Beijing Weather"}}],
    "groundingSupports": [
        {
            "segment": {"startIndex": 0, "endIndex": 31, "text": "Beijing weather is clear today."},
            "groundingChunkIndices": [0],
        }
    ],
}


def _grounding_response() -> dict[str, Any]:
    """CPA's testAntigravityGroundingResponse, its envelope taken off."""
    return {
        "responseId": "resp-web-search",
        "modelVersion": MODEL,
        "candidates": [
            {
                "content": {"parts": [{"text": "Beijing weather is clear today."}]},
                "groundingMetadata": copy.deepcopy(GROUNDING),
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 6, "totalTokenCount": 16},
    }


def _of(evs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in evs if e.get("type") == kind]


def _starts(evs: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(e["index"], e["content_block"]["type"]) for e in _of(evs, "content_block_start")]


# --------------------------------------------------------------------------- whole


def test_non_stream_web_search_grounding() -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeNonStream_WebSearchGrounding."""
    out = resp(GEMINI, CLAUDE, _grounding_response(), _request())
    assert get(out, "content.0.type") == "server_tool_use"
    assert get(out, "content.1.type") == "web_search_tool_result"
    assert get(out, "usage.server_tool_use.web_search_requests") == 1
    assert get(out, "content.1.content.0.url") == "https://example.com/weather"
    assert get(out, "content.2.citations.0.url") == "https://example.com/weather"
    # and the rest of the shape
    use, result, text = out["content"]
    assert use["id"].startswith("srvtoolu_") and use["name"] == "web_search"
    assert use["input"] == {"query": "Beijing weather June 10 2026"}
    assert result["tool_use_id"] == use["id"]
    assert result["content"] == [
        {
            "type": "web_search_result",
            "title": "Beijing Weather",
            "url": "https://example.com/weather",
            "page_age": None,
        }
    ]
    assert text == {
        "type": "text",
        "text": "Beijing weather is clear today.",
        "citations": [
            {
                "type": "web_search_result_location",
                "cited_text": "Beijing weather is clear today.",
                "url": "https://example.com/weather",
                "title": "Beijing Weather",
            }
        ],
    }
    assert out["stop_reason"] == "end_turn"
    assert out["usage"]["input_tokens"] == 10 and out["usage"]["output_tokens"] == 6


@pytest.mark.parametrize(
    "tools",
    [[], [{"name": "lookup", "input_schema": {"type": "object"}}]],
    ids=["no-tools", "function-tool"],
)
def test_non_stream_grounding_without_the_typed_tool_is_plain(tools: list[dict[str, Any]]) -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeNonStream_WebSearchGroundingRequiresNativeGoogleSearch
    (ours: a request without the typed web-search tool)."""
    out = resp(GEMINI, CLAUDE, _grounding_response(), _request(tools))
    assert get(out, "content.0.type") != "server_tool_use"
    assert out["content"] == [{"type": "text", "text": "Beijing weather is clear today."}]
    assert get(out, "usage.server_tool_use.web_search_requests") is None


def test_non_stream_web_search_without_grounding_is_plain() -> None:
    """The other half of ..._WebSearchGroundingRequiresNativeGoogleSearch: the typed tool,
    but an answer without grounding (a model that did not search)."""
    body = _grounding_response()
    del body["candidates"][0]["groundingMetadata"]
    out = resp(GEMINI, CLAUDE, body, _request())
    assert out["content"] == [{"type": "text", "text": "Beijing weather is clear today."}]
    assert "server_tool_use" not in out["usage"]


def test_non_stream_web_search_leaves_thoughts_and_calls_out() -> None:
    body = _grounding_response()
    body["candidates"][0]["content"]["parts"] = [
        {"text": "thinking about it", "thought": True},
        {"functionCall": {"name": "x", "args": {}}},
        {"text": "Beijing weather "},
        {"text": "is clear today."},
    ]
    out = resp(GEMINI, CLAUDE, body, _request())
    assert [b["type"] for b in out["content"]] == ["server_tool_use", "web_search_tool_result", "text"]
    assert out["content"][2]["text"] == "Beijing weather is clear today."
    assert out["stop_reason"] == "end_turn"


def test_non_stream_web_search_without_query_or_supports() -> None:
    body = _grounding_response()
    body["candidates"][0]["groundingMetadata"] = {"groundingChunks": GROUNDING["groundingChunks"]}
    out = resp(GEMINI, CLAUDE, body, _request())
    assert out["content"][0]["input"] == {}
    assert out["content"][2] == {"type": "text", "text": "Beijing weather is clear today."}


def test_tool_choice_none_is_no_web_search() -> None:
    out = resp(GEMINI, CLAUDE, _grounding_response(), _request(tool_choice={"type": "none"}))
    assert out["content"] == [{"type": "text", "text": "Beijing weather is clear today."}]


# --------------------------------------------------------------------------- stream


def test_stream_web_search_grounding() -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeStream_WebSearchGrounding."""
    out = stream(GEMINI, CLAUDE, sse(_grounding_response()), _request())
    text = out.decode()
    for needle in (
        '"type":"server_tool_use"',
        '"type":"web_search_tool_result"',
        '"web_search_requests":1',
        '"type":"citations_delta"',
        "event: message_stop",
    ):
        assert needle in text, text
    evs = events(out)
    assert _starts(evs) == [(0, "server_tool_use"), (1, "web_search_tool_result"), (2, "text")]
    use, result, cited = claude_blocks(evs)
    # the query comes as the server tool's input delta, as Anthropic streams it
    assert _of(evs, "content_block_start")[0]["content_block"]["input"] == {}
    assert use["input"] == {"query": "Beijing weather June 10 2026"}
    assert result["tool_use_id"] == use["id"]
    assert result["content"][0]["url"] == "https://example.com/weather"
    assert cited["citations"] == [] and cited["text"] == "Beijing weather is clear today."
    deltas = [e["delta"] for e in _of(evs, "content_block_delta") if e["index"] == 2]
    assert [d["type"] for d in deltas] == ["citations_delta", "text_delta"]
    assert deltas[0]["citation"] == {
        "type": "web_search_result_location",
        "cited_text": "Beijing weather is clear today.",
        "url": "https://example.com/weather",
        "title": "Beijing Weather",
    }
    end = _of(evs, "message_delta")[-1]
    assert end["delta"]["stop_reason"] == "end_turn"
    assert end["usage"]["server_tool_use"] == {"web_search_requests": 1}


def test_stream_web_search_buffers_text_until_grounding() -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeStream_WebSearchBuffersTextUntilGrounding."""
    first = {
        "modelVersion": MODEL,
        "responseId": "resp-web-search-stream",
        "candidates": [{"content": {"parts": [{"text": "Beijing weather "}]}}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12},
    }
    final = {
        "modelVersion": MODEL,
        "responseId": "resp-web-search-stream",
        "candidates": [
            {
                "content": {"parts": [{"text": "is clear today."}]},
                "groundingMetadata": {
                    "webSearchQueries": ["Beijing weather"],
                    "groundingChunks": [
                        {"web": {"uri": "https://example.com/weather", "title": "Beijing Weather"}}
                    ],
                    "groundingSupports": [
                        {
                            "segment": {
                                "startIndex": 0,
                                "endIndex": 31,
                                "text": "Beijing weather is clear today.",
                            },
                            "groundingChunkIndices": [0],
                        }
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 6, "totalTokenCount": 16},
    }
    out = stream(GEMINI, CLAUDE, sse(first, final), _request())
    evs = events(out)
    starts = _starts(evs)
    # nothing before the server tool: index 0 is server_tool_use, 1 its result
    assert starts[0] == (0, "server_tool_use") and starts[1] == (1, "web_search_tool_result")
    assert all(kind == "text" for _, kind in starts[2:])
    assert "Beijing weather is clear today." in "".join(
        b["text"] for b in claude_blocks(evs) if b["type"] == "text"
    )
    assert claude_blocks(evs)[0]["input"] == {"query": "Beijing weather"}


@pytest.mark.parametrize("usage_key", ["cpaUsageMetadata", "usageMetadata"])
def test_stream_web_search_message_start_output_tokens_zero(usage_key: str) -> None:
    """antigravity_claude_response_test.go TestConvertAntigravityResponseToClaudeStream_WebSearchMessageStartOutputTokensZero
    (CPA's own ``cpaUsageMetadata`` key, and Gemini's ``usageMetadata``)."""
    chunk = {
        "modelVersion": MODEL,
        "responseId": "resp-web-search-start",
        "candidates": [{"content": {"parts": [{"text": "Beijing weather"}]}}],
        usage_key: {"promptTokenCount": 85, "candidatesTokenCount": 43},
    }
    evs = events(stream(GEMINI, CLAUDE, sse(chunk), _request()))
    start = _of(evs, "message_start")[0]
    assert start["message"]["usage"]["output_tokens"] == 0
    # no grounding came: what was held goes out as one plain text block, no search counted
    assert _starts(evs) == [(0, "text")]
    assert claude_blocks(evs) == [{"type": "text", "text": "Beijing weather"}]
    assert "server_tool_use" not in _of(evs, "message_delta")[-1]["usage"]


def test_stream_without_grounding_holds_text_to_the_end() -> None:
    chunks: list[dict[str, Any]] = [
        {"candidates": [{"content": {"parts": [{"text": "a", "thought": True}, {"text": "Hello "}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "x", "args": {}}}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "world"}]}, "finishReason": "STOP"}]},
    ]
    evs = events(stream(GEMINI, CLAUDE, sse(*chunks), _request()))
    assert claude_blocks(evs) == [{"type": "text", "text": "Hello world"}]
    assert _of(evs, "message_delta")[-1]["delta"]["stop_reason"] == "end_turn"


def test_stream_after_grounding_reads_on() -> None:
    """Chunks after the grounding one are read as any Gemini stream's (CPA)."""
    body = _grounding_response()
    del body["candidates"][0]["finishReason"]
    late = {"candidates": [{"content": {"parts": [{"text": " More."}]}, "finishReason": "STOP"}]}
    evs = events(stream(GEMINI, CLAUDE, sse(body, late), _request()))
    assert _starts(evs) == [(0, "server_tool_use"), (1, "web_search_tool_result"), (2, "text"), (3, "text")]
    assert claude_blocks(evs)[3] == {"type": "text", "text": " More."}


def test_stream_split_at_every_byte() -> None:
    data = sse(_grounding_response())
    dec = WebSearchStreamDecoder(ir_of(CLAUDE, _request()))
    got: list[ir.Event] = []
    for i in range(len(data)):
        got += dec.decode(data[i : i + 1])
    got += dec.flush()
    kinds = [(type(e).__name__, getattr(e, "kind", None)) for e in got if isinstance(e, ir.BlockStart)]
    assert kinds == [("BlockStart", "server_tool"), ("BlockStart", "server_tool"), ("BlockStart", "text")]
    end = got[-1]
    assert isinstance(end, ir.StreamEnd) and end.usage is not None and end.usage.web_search_requests == 1


def test_decoder_is_chosen_once_per_request() -> None:
    assert type(stream_decoder(ir_of(CLAUDE, _request()))) is WebSearchStreamDecoder
    assert type(stream_decoder(ir_of(CLAUDE, _request([])))) is GeminiStreamDecoder
    mixed: list[dict[str, Any]] = [WEB_SEARCH, {"name": "lookup", "input_schema": {"type": "object"}}]
    assert type(stream_decoder(ir_of(CLAUDE, _request(mixed)))) is GeminiStreamDecoder
    assert type(stream_decoder(None)) is GeminiStreamDecoder
    named = _request(tool_choice={"type": "tool", "name": "web_search"})
    assert type(stream_decoder(ir_of(CLAUDE, named))) is WebSearchStreamDecoder


def test_stream_without_the_typed_tool_is_unchanged() -> None:
    plain = stream(GEMINI, CLAUDE, sse(_grounding_response()), _request([]))
    evs = events(plain)
    assert _starts(evs) == [(0, "text")]
    assert b"server_tool_use" not in plain


async def test_anthropic_sdk_reads_the_stream() -> None:
    """The official SDK accumulates our stream into Anthropic's web search message."""
    body = stream(GEMINI, CLAUDE, sse(_grounding_response()), _request())

    server = await serve_sse(body, 29)
    try:
        url = str(server.make_url(""))
        async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as client:
            async with client.messages.stream(
                model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "q"}]
            ) as events_:
                kinds = [e.type async for e in events_]
                final = await events_.get_final_message()
    finally:
        await server.close()
    assert kinds.count("citation") == 1
    content: list[Any] = list(final.content)  # (as Any: the SDK's block unions)
    use, result, text = content
    assert use.type == "server_tool_use" and use.input == {"query": "Beijing weather June 10 2026"}
    assert result.type == "web_search_tool_result" and result.tool_use_id == use.id
    assert [(r.url, r.title) for r in result.content] == [("https://example.com/weather", "Beijing Weather")]
    assert text.type == "text" and text.text == "Beijing weather is clear today."
    citations: list[Any] = text.citations or []
    assert [(c.url, c.cited_text) for c in citations] == [
        ("https://example.com/weather", "Beijing weather is clear today.")
    ]
    assert final.usage.server_tool_use is not None and final.usage.server_tool_use.web_search_requests == 1


# --------------------------------------------------------------------------- the Claude encoder


def _encode(*evs: ir.Event) -> list[dict[str, Any]]:
    enc = ClaudeStreamEncoder(None, "m")
    return events(b"".join(enc.encode(e) for e in evs) + enc.flush())


def test_encoder_server_tool_without_input_has_no_delta() -> None:
    raw = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    evs = _encode(ir.StreamStart("m", "m"), ir.BlockStart(0, "server_tool", family="claude", raw=raw))
    assert _of(evs, "content_block_delta") == []
    assert _of(evs, "content_block_start")[0]["content_block"] == raw


def test_encoder_text_citations_and_other_families() -> None:
    cite = {"type": "web_search_result_location", "cited_text": "x", "url": "u", "title": "t"}
    evs = _encode(
        ir.StreamStart("m", "m"),
        ir.BlockStart(0, "text", raw={"citations": [cite, cite]}),
        ir.TextDelta(0, "x"),
        ir.BlockStop(0),
        ir.BlockStart(1, "server_tool", family="openai", raw={"type": "web_search_call"}),
        ir.BlockStop(1),
    )
    assert _of(evs, "content_block_start")[0]["content_block"] == {
        "citations": [],
        "type": "text",
        "text": "",
    }
    deltas = [e["delta"] for e in _of(evs, "content_block_delta")]
    assert deltas == [
        {"type": "citations_delta", "citation": cite},
        {"type": "citations_delta", "citation": cite},
        {"type": "text_delta", "text": "x"},
    ]
    assert len(_of(evs, "content_block_start")) == 1  # the openai family's block is left out


def test_whole_answer_keeps_only_claude_citations_for_other_sources() -> None:
    from cliproxy.translate.registry import default_registry

    claude = default_registry().adapter(CLAUDE)
    cite = {"type": "web_search_result_location", "cited_text": "x", "url": "u", "title": "t"}
    annotation = {"type": "url_citation", "url": "u", "start_index": 0, "end_index": 1}
    answer = ir.Response(
        "r", "m", [ir.Text("a", [cite]), ir.Text("b", [annotation]), ir.Text("c", [])], source="openai"
    )
    out = claude.build_response(answer, None)
    assert out["content"] == [
        {"type": "text", "text": "a", "citations": [cite]},
        {"type": "text", "text": "b"},
        {"type": "text", "text": "c"},
    ]


# --------------------------------------------------------------------------- grounding pieces


def test_web_search_results_deduplicate_and_skip_empty_urls() -> None:
    """antigravity_claude_response_test.go TestWebSearchResultsFromGrounding_DeduplicatesAndSkipsEmptyURLs."""
    results = search_results(
        {
            "groundingChunks": [
                {"web": {"uri": "https://example.com/a", "title": "A"}},
                {"web": {"uri": "https://example.com/b", "title": "B"}},
                {"web": {"uri": "https://example.com/a", "title": "A duplicate"}},
                {"web": {"uri": "", "title": "Empty"}},
            ]
        }
    )
    assert len(results) == 2
    assert results[0]["url"] == "https://example.com/a" and results[0]["title"] == "A"
    assert results[1]["url"] == "https://example.com/b"


def test_web_search_results_skip_chunks_without_web_and_trim() -> None:
    results = search_results(
        {"groundingChunks": [{"retrievedContext": {}}, {"web": {"uri": " https://x.test/ "}}, "junk"]}
    )
    assert results == [{"type": "web_search_result", "url": "https://x.test/", "page_age": None}]
    assert search_results({}) == [] and search_results({"groundingChunks": 5}) == []


def test_cited_text_blocks_trim_overlapping_grounding_supports() -> None:
    """antigravity_claude_response_test.go TestBuildWebSearchCitedTextBlocks_TrimsOverlappingGroundingSupports."""
    first = "北京今天晴"
    second = "北京今天晴，气温19到31度"
    text = second + "。"
    url = "https://example.com/weather"
    pieces = cited_pieces(
        text,
        [Support(0, len(first.encode()), url, "Weather"), Support(0, len(second.encode()), url, "Weather")],
    )
    assert "".join(p for p, _ in pieces) == text
    assert len(pieces) >= 2 and pieces[1][0] == "，气温19到31度"
    citation = pieces[1][1]
    assert citation is not None and citation["cited_text"] == pieces[1][0]


def test_cited_pieces_cut_by_supports() -> None:
    text = "Intro. Cited one. Gap. Cited two. Tail."
    b = text.encode()
    one, two = b.index(b"Cited one."), b.index(b"Cited two.")
    pieces = cited_pieces(
        text,
        [Support(one, one + 10, "https://1", "1"), Support(two, two + 10, "https://2", None)],
    )
    assert [(p, c["url"] if c else None) for p, c in pieces] == [
        ("Intro. ", None),
        ("Cited one.", "https://1"),
        (" Gap. ", None),
        ("Cited two.", "https://2"),
        (" Tail.", None),
    ]
    assert pieces[3][1] == {
        "type": "web_search_result_location",
        "cited_text": "Cited two.",
        "url": "https://2",
        "title": None,
    }


def test_cited_piece_without_a_page_stays_as_plain_text() -> None:
    """CPA drops a supported piece whose chunk indices name no page (and its text with it);
    we keep the text, as plain text joined to the plain text around it."""
    grounding = {
        "groundingChunks": [{"web": {"uri": "https://a"}}, {"retrievedContext": {}}],
        "groundingSupports": [
            {"segment": {"endIndex": 3}, "groundingChunkIndices": [1, 7]},
            {"segment": {"startIndex": 3, "endIndex": 6}, "groundingChunkIndices": [0]},
            {"segment": {"startIndex": 6, "endIndex": 9}},
            {"groundingChunkIndices": [0]},  # no segment: left out
        ],
    }
    supports = supports_of(grounding)
    assert [(s.start, s.end, s.url) for s in supports] == [(0, 3, None), (3, 6, "https://a"), (6, 9, None)]
    pieces = cited_pieces("abcdefghijkl", supports)
    assert [(p, c is not None) for p, c in pieces] == [("abc", False), ("def", True), ("ghijkl", False)]


def test_cited_pieces_offsets_are_bytes_and_never_split_a_character() -> None:
    text = "é€x"  # 2 + 3 + 1 bytes
    whole = cited_pieces(text, [Support(0, 5, "https://a")])
    assert whole == [("é€", {**whole[0][1], "cited_text": "é€"}), ("x", None)]  # type: ignore[dict-item]
    inside = cited_pieces(text, [Support(1, 3, "https://a"), Support(0, 100, "https://b")])
    assert "".join(p for p, _ in inside) == text
    assert [p for p, _ in inside] == ["é", "€", "x"]
    assert cited_pieces(text, []) == [(text, None)]
    assert cited_pieces("", []) == []


def test_grounding_indices_as_strings_and_out_of_range() -> None:
    supports = supports_of(
        {
            "groundingChunks": [{"web": {"uri": "https://a", "title": "A"}}],
            "groundingSupports": [
                {"segment": {"startIndex": "2", "endIndex": "4"}, "groundingChunkIndices": [-1, 3, 0]}
            ],
        }
    )
    assert [(s.start, s.end, s.url, s.title) for s in supports] == [(2, 4, "https://a", "A")]


def test_usage_round_trip_keeps_positional_construction() -> None:
    u = ir.Usage(1, 2, 0, 0, 0, None)
    assert u.web_search_requests == 0
    assert orjson.dumps(u.web_search_requests) == b"0"
