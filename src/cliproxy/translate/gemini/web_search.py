"""Antigravity's Google Search grounding as Claude's web search (CPA).

Claude Code's WebSearch tool asks with a Claude request whose only tools are Anthropic's
typed web search (``web_search_20250305`` / ``web_search_20260209``); through Antigravity
it becomes a Gemini request with a ``googleSearch`` tool
(:mod:`cliproxy.providers.antigravity_search`), and the answer's first candidate carries
``groundingMetadata``::

    {"webSearchQueries": ["Beijing weather"],
     "groundingChunks": [{"web": {"uri": "https://...", "title": "..."}}, ...],
     "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 31},
                            "groundingChunkIndices": [0]}, ...]}

A Claude client gets it as Anthropic's own web search answers: a ``server_tool_use``
block named ``web_search`` with the query, its ``web_search_tool_result`` listing the
pages, then the answer's text cut by the supports, each supported piece a text block
with a ``web_search_result_location`` citation (``usage.server_tool_use`` counts one
search). The two search blocks travel as ``ServerTool`` blocks of the claude family (the
other encoders drop them), the citations on ``Text.citations`` (whole answers) or
``BlockStart.raw`` (streams). Any other request, or an answer without grounding, is
translated as before.

Differences from CPA, on purpose: a supported piece whose chunk indices name no page with
a URL stays as plain text (CPA drops it, and its text with it); support offsets (bytes of
the UTF-8 text) that fall inside a character are moved to the character's end; the text
is that of the answer's parts that are no thought (CPA's whole answers also take thought
text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cliproxy.formats.ids import token_hex
from cliproxy.translate import ir

__all__ = [
    "Support",
    "answer_text",
    "asks_web_search",
    "cited_pieces",
    "search_blocks",
    "search_results",
    "supports_of",
    "web_search_answer",
]

TYPED = frozenset(("web_search_20250305", "web_search_20260209"))
CLAUDE = "claude"
CITATION = "web_search_result_location"


def _typed(tool: ir.Tool) -> bool:
    extras = tool.extras
    if tool.kind != "builtin" or not extras or extras.get("family") != CLAUDE:
        return False
    raw = extras.get("raw")
    return isinstance(raw, dict) and raw.get("type") in TYPED


def asks_web_search(request: ir.Request | None) -> bool:
    """Whether ``request`` is Claude Code's web search, the request Antigravity answers with
    a Google search: a Claude request whose tools are all typed web search, and whose
    ``tool_choice`` lets it run (none given, auto, any, or the tool ``web_search``). The
    first tool of any other request (a function) ends the test."""
    tools = request.tools if request is not None else None
    if not tools or not all(_typed(t) for t in tools):
        return False
    choice = request.tool_choice  # type: ignore[union-attr]
    if isinstance(choice, dict):
        return choice.get("name") == "web_search"
    return choice != "none"


def answer_text(cand: dict[str, Any]) -> str:
    """The text of a candidate's parts that are neither thoughts nor calls."""
    content = cand.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return ""
    return "".join(
        p["text"]
        for p in parts
        if isinstance(p, dict)
        and isinstance(p.get("text"), str)
        and p.get("thought") is not True
        and "functionCall" not in p
    )


# --------------------------------------------------------------------------- grounding


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _page(chunk: Any) -> tuple[str, str | None] | None:
    """``(url, title)`` of a grounding chunk that names a web page with a URL."""
    web = chunk.get("web") if isinstance(chunk, dict) else None
    if not isinstance(web, dict):
        return None
    uri, title = web.get("uri"), web.get("title")
    if not isinstance(uri, str) or not uri.strip():
        return None
    return uri.strip(), title if isinstance(title, str) else None


def search_results(grounding: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``web_search_result`` entries of the grounding's pages, in order: chunks with no
    page or an empty URL are left out, and a URL seen before (the first wins)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for chunk in _list(grounding.get("groundingChunks")):
        page = _page(chunk)
        if page is None or page[0] in seen:
            continue
        url, title = page
        seen.add(url)
        result: dict[str, Any] = {"type": "web_search_result"}
        if title is not None:
            result["title"] = title
        result["url"] = url
        result["page_age"] = None
        out.append(result)
    return out


def _query(grounding: dict[str, Any]) -> str:
    queries = _list(grounding.get("webSearchQueries"))
    return queries[0] if queries and isinstance(queries[0], str) else ""


@dataclass(slots=True)
class Support:
    """A grounding support: the bytes ``start``..``end`` of the answer's UTF-8 text, and the
    page that supports them (``url``; ``None`` when its chunk indices name none)."""

    start: int
    end: int
    url: str | None = None
    title: str | None = None

    def citation(self, cited: str) -> dict[str, Any]:
        return {"type": CITATION, "cited_text": cited, "url": self.url, "title": self.title}


def _int(value: Any) -> int:
    """A proto int (a number, or a string of one; an omitted zero reads as 0)."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def supports_of(grounding: dict[str, Any]) -> list[Support]:
    """The grounding's supports, in order (one without a ``segment`` is left out); the page
    of each is the first of its chunk indices that names a page with a URL."""
    pages = [_page(c) for c in _list(grounding.get("groundingChunks"))]
    out: list[Support] = []
    for s in _list(grounding.get("groundingSupports")):
        segment = s.get("segment") if isinstance(s, dict) else None
        if not isinstance(segment, dict):
            continue
        support = Support(_int(segment.get("startIndex")), _int(segment.get("endIndex")))
        for i in _list(s.get("groundingChunkIndices")):
            page = pages[i] if type(i) is int and 0 <= i < len(pages) else None
            if page is not None:
                support.url, support.title = page
                break
        out.append(support)
    return out


def _boundary(data: bytes, i: int) -> int:
    """``i`` clamped to ``data``, moved past the rest of a character it falls inside."""
    i = min(max(i, 0), len(data))
    while i < len(data) and data[i] & 0xC0 == 0x80:
        i += 1
    return i


def cited_pieces(text: str, supports: list[Support]) -> list[tuple[str, dict[str, Any] | None]]:
    """``text`` cut by ``supports`` into ``(piece, citation or None)``, which join back to
    ``text``: supports in order, one that ends within what earlier ones covered skipped, one
    that overlaps them trimmed to its new part (CPA). Text no support with a page covers is
    plain, one piece between two cited ones; empty pieces are left out."""
    if not supports:
        return [(text, None)] if text else []
    data = text.encode()
    out: list[tuple[str, dict[str, Any] | None]] = []

    def put(a: int, b: int, support: Support | None) -> None:
        a, b = _boundary(data, a), _boundary(data, b)
        if a >= b:
            return
        piece = data[a:b].decode()
        if support is not None and support.url is not None:
            out.append((piece, support.citation(piece)))
        elif out and out[-1][1] is None:  # plain after plain: one piece
            out[-1] = (out[-1][0] + piece, None)
        else:
            out.append((piece, None))

    covered = 0
    for s in supports:
        if s.end <= covered:
            continue
        start = max(s.start, covered)
        put(covered, start, None)
        put(start, s.end, s)
        covered = s.end
    put(covered, len(data), None)
    return out


# --------------------------------------------------------------------------- answers


def _use(use_id: str, query: str) -> dict[str, Any]:
    return {
        "type": "server_tool_use",
        "id": use_id,
        "name": "web_search",
        "input": {"query": query} if query else {},
    }


def search_blocks(text: str, grounding: dict[str, Any]) -> list[ir.Block]:
    """``server_tool_use``, ``web_search_tool_result`` and the cited text of an answer's
    ``text`` and grounding."""
    use_id = "srvtoolu_" + token_hex(12)
    result = {"type": "web_search_tool_result", "tool_use_id": use_id, "content": search_results(grounding)}
    blocks: list[ir.Block] = [
        ir.ServerTool(CLAUDE, _use(use_id, _query(grounding))),
        ir.ServerTool(CLAUDE, result),
    ]
    for piece, citation in cited_pieces(text, supports_of(grounding)):
        blocks.append(ir.Text(piece, [citation]) if citation is not None else ir.Text(piece))
    return blocks


def web_search_answer(resp: ir.Response, cand: dict[str, Any], grounding: dict[str, Any]) -> None:
    """Make ``resp`` (the answer ``cand`` is the first candidate of) Claude's web search
    answer: the search blocks and the cited text for all its content (calls and thoughts
    dropped, as CPA), ``end_turn``, one search counted."""
    resp.content = search_blocks(answer_text(cand), grounding)
    resp.stop_reason = "end_turn"
    resp.usage.web_search_requests = 1
