"""A text block's citations in streams: Claude's ``citations_delta`` -> ``ir.CitationDelta``
-> what each client format has for it (Responses ``url_citation`` annotations announced by
``response.output_text.annotation.added``; Claude's own ``citations_delta``; nothing for
Chat, Gemini and Interactions streams), and whole Chat answers' ``message.annotations``."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import ir
from cliproxy.translate.claude.decode import ClaudeStreamDecoder
from cliproxy.translate.claude.encode import ClaudeStreamEncoder
from cliproxy.translate.collect import Collector
from cliproxy.translate.openai_responses.encode import ResponsesEncoder
from tests.translate.cpa._run import CLAUDE, GEMINI, OPENAI, RESPONSES, events, resp, sse, stream

PAGE = {
    "type": "web_search_result_location",
    "url": "https://a.example/",
    "title": "A",
    "encrypted_index": "Eo",
    "cited_text": "one",
}
OTHER = {**PAGE, "url": "https://b.example/", "title": "B"}
DOC = {
    "type": "char_location",
    "cited_text": "x",
    "document_index": 0,
    "start_char_index": 0,
    "end_char_index": 1,
}
START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 1}},
}
END = [
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {"type": "message_stop"},
]


def _text(index: int, *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    ]
    out += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    return [*out, {"type": "content_block_stop", "index": index}]


def _said(text: str) -> dict[str, Any]:
    return {"type": "text_delta", "text": text}


def _cite(citation: Any) -> dict[str, Any]:
    return {"type": "citations_delta", "citation": citation}


def _decoded(*payloads: dict[str, Any]) -> list[ir.Event]:
    dec = ClaudeStreamDecoder()
    return [*dec.decode(sse(*payloads)), *dec.flush()]


def _note(start: int, end: int, page: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "url_citation",
        "start_index": start,
        "end_index": end,
        "url": page["url"],
        "title": page["title"],
    }


# -- the Claude stream decoder


def test_a_citations_delta_is_a_citation_of_its_text_block() -> None:
    evs = _decoded(START, *_text(0, _cite(PAGE), _said("one")), *END)
    kinds = [type(e).__name__ for e in evs]
    assert kinds == ["StreamStart", "BlockStart", "CitationDelta", "TextDelta", "BlockStop", "StreamEnd"]
    assert evs[2] == ir.CitationDelta(0, PAGE)


def test_a_citation_with_no_object_is_dropped() -> None:
    evs = _decoded(START, *_text(0, _cite(None), {"type": "citations_delta"}, _said("one")), *END)
    assert not [e for e in evs if isinstance(e, ir.CitationDelta)]


def test_a_citation_naming_no_open_text_block_goes_to_the_next_one() -> None:
    """CPA's translator keeps such a citation for the next message (its
    ``pendingAnnotations``); a stray one never makes a block of its own."""
    stray = {"type": "content_block_delta", "index": 5, "delta": _cite(PAGE)}
    evs = _decoded(START, stray, *_text(6, _said("one")), *END)
    starts = [e for e in evs if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.kind) for s in starts] == [(6, "text")]
    assert [e for e in evs if isinstance(e, ir.CitationDelta)] == [ir.CitationDelta(6, PAGE)]


def test_a_stream_with_no_citation_decodes_as_before() -> None:
    evs = _decoded(START, *_text(0, _said("one")), *END)
    assert not [e for e in evs if isinstance(e, ir.CitationDelta)]


def test_a_collected_stream_keeps_each_blocks_citations() -> None:
    """A stream gathered into a whole answer (a client that asked for none)."""
    col = Collector()
    col.feed(
        _decoded(START, *_text(0, _said("lead")), *_text(1, _cite(PAGE), _said("one"), _cite(DOC)), *END)
    )
    assert col.response().content == [ir.Text("lead"), ir.Text("one", [PAGE, DOC])]


# -- Responses clients


def _responses(*payloads: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(CLAUDE, RESPONSES, sse(*payloads), {"model": "c", "input": "hi", "stream": True}))


def test_each_cited_block_of_a_merged_message_spans_its_own_text() -> None:
    """Two cited text blocks split by a server tool are one message (as CPA aggregates them);
    each block's page spans that block's text in the one part, whether the citation came
    before or after the text, and each is announced once, in order."""
    tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    evs = _responses(
        START,
        *_text(0, _cite(PAGE), _said("one "), _said("two. ")),
        {"type": "content_block_start", "index": 1, "content_block": tool},
        {"type": "content_block_stop", "index": 1},
        *_text(2, _said("three."), _cite(OTHER), _cite(DOC), _cite(OTHER)),
        *END,
    )
    notes = [_note(0, 9, PAGE), _note(9, 15, OTHER)]
    added = [e for e in evs if e["_event"] == "response.output_text.annotation.added"]
    item = next(e for e in evs if e["_event"] == "response.output_item.done")["item"]
    assert [a["annotation"] for a in added] == notes
    assert [a["annotation_index"] for a in added] == [0, 1]
    assert {(a["item_id"], a["output_index"], a["content_index"]) for a in added} == {(item["id"], 0, 0)}
    # announced when each block ends: the first before the second block's text
    names = [e["_event"] for e in evs]
    first_added = names.index("response.output_text.annotation.added")
    assert names[first_added - 1] == "response.output_text.delta"
    assert evs[first_added - 1]["delta"] == "two. "
    part = next(e for e in evs if e["_event"] == "response.content_part.done")["part"]
    done = next(e for e in evs if e["_event"] == "response.completed")["response"]
    assert part["text"] == "one two. three."
    assert part["annotations"] == notes
    assert item["content"][0]["annotations"] == notes
    assert done["output"][0]["content"][0]["annotations"] == notes


def test_a_message_after_another_item_counts_from_its_own_text() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    evs = _responses(
        START,
        *_text(0, _said("before")),
        {"type": "content_block_start", "index": 1, "content_block": call},
        {"type": "content_block_stop", "index": 1},
        *_text(2, _cite(PAGE), _said("after")),
        *END,
    )
    (added,) = [e for e in evs if e["_event"] == "response.output_text.annotation.added"]
    assert added["annotation"] == _note(0, 5, PAGE)
    assert added["output_index"] == 2


def test_citations_without_a_page_have_no_annotation() -> None:
    evs = _responses(START, *_text(0, _cite(DOC), _said("one")), *END)
    assert not [e for e in evs if "annotation" in e["_event"]]
    done = next(e for e in evs if e["_event"] == "response.completed")["response"]
    assert done["output"][0]["content"][0]["annotations"] == []


def test_a_cut_stream_still_writes_the_cited_blocks_annotation() -> None:
    evs = _responses(START, *_text(0, _cite(PAGE), _said("one"))[:-1])  # no block stop, no message_stop
    (added,) = [e for e in evs if e["_event"] == "response.output_text.annotation.added"]
    assert added["annotation"] == _note(0, 3, PAGE)
    failed = next(e for e in evs if e["_event"] == "response.failed")["response"]
    assert failed["output"][0]["content"][0]["annotations"] == [_note(0, 3, PAGE)]


def test_citations_a_text_block_opens_with_become_annotations() -> None:
    """``BlockStart.raw["citations"]``: the cited text of an Antigravity search."""
    enc = ResponsesEncoder()
    out = enc.encode(ir.StreamStart("r", "m"))
    out += enc.encode(ir.BlockStart(0, "text", raw={"citations": [PAGE]}))
    out += enc.encode(ir.TextDelta(0, "one")) + enc.encode(ir.BlockStop(0))
    out += enc.encode(ir.StreamEnd("end_turn"))
    evs = events(out)
    (added,) = [e for e in evs if e["_event"] == "response.output_text.annotation.added"]
    assert added["annotation"] == _note(0, 3, PAGE)


# -- Claude clients through the IR, and other clients


def test_claude_encoder_writes_each_citation_as_a_citations_delta() -> None:
    dec, enc = ClaudeStreamDecoder(), ClaudeStreamEncoder()
    data = sse(START, *_text(0, _cite(PAGE), _said("one")), *END)
    out = b"".join(enc.encode(e) for e in dec.decode(data)) + enc.flush()
    deltas = [e["delta"] for e in events(out) if e["type"] == "content_block_delta"]
    assert deltas == [_cite(PAGE), _said("one")]


def test_claude_encoder_writes_no_citation_outside_a_text_block() -> None:
    enc = ClaudeStreamEncoder()
    enc.encode(ir.StreamStart("m", "x"))
    enc.encode(ir.BlockStart(0, "thinking", family="claude"))
    assert enc.encode(ir.CitationDelta(0, PAGE)) == b""


@pytest.mark.parametrize("client", [OPENAI, GEMINI])
def test_other_stream_clients_get_the_text_and_nothing_else(client: Any) -> None:
    plain = stream(CLAUDE, client, sse(START, *_text(0, _said("one")), *END))
    cited = stream(CLAUDE, client, sse(START, *_text(0, _cite(PAGE), _said("one")), *END))

    def same(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k not in ("id", "created", "responseId")} for e in evs]

    assert same(events(cited)) == same(events(plain))


# -- Chat whole answers


def test_whole_chat_answer_carries_the_cited_pages_as_annotations() -> None:
    """OpenAI's search models write each source as ``message.annotations`` (``url_citation``
    with the span of ``content`` it supports); CPA's Claude to Chat translator drops them."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "text", "text": "Lead. "},
            {"type": "text", "text": "Cited.", "citations": [PAGE, DOC]},
            {"type": "text", "text": " More", "citations": [OTHER]},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    msg = resp(CLAUDE, OPENAI, body)["choices"][0]["message"]
    assert msg["content"] == "Lead. Cited. More"
    assert msg["annotations"] == [
        {"type": "url_citation", "url_citation": {k: v for k, v in n.items() if k != "type"}}
        for n in (_note(6, 12, PAGE), _note(12, 17, OTHER))
    ]
    plain = {**body, "content": [{"type": "text", "text": "Lead."}]}
    assert "annotations" not in resp(CLAUDE, OPENAI, plain)["choices"][0]["message"]
