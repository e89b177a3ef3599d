"""Another format's citations of a text as OpenAI ``url_citation`` annotations.

Claude cites the pages its web search found on its text blocks
(``web_search_result_location``: the page's ``url`` and ``title``); an Antigravity search's
grounding becomes the same kind. OpenAI writes a web source as a ``url_citation`` spanning
the cited text: flat in a Responses ``output_text`` part's ``annotations``, nested under
``url_citation`` in a Chat ``message.annotations``. Citations that name no page (a
document's ``char_location``, ``page_location``...) have no OpenAI equivalent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["url_citations"]


def url_citations(citations: list[Any] | None, start: int, end: int) -> list[dict[str, Any]] | None:
    """``citations`` as Responses ``url_citation`` annotations spanning ``start`` to ``end``
    of the part's text, one per page (None when none names a page)."""
    out: list[dict[str, Any]] = []
    for c in citations or ():
        url = c.get("url") if isinstance(c, dict) else None
        if isinstance(url, str) and url and all(a["url"] != url for a in out):
            title = c.get("title")
            out.append(
                {
                    "type": "url_citation",
                    "start_index": start,
                    "end_index": end,
                    "url": url,
                    "title": title if isinstance(title, str) else url,
                }
            )
    return out or None
