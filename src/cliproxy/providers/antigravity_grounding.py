"""The sources of an Antigravity web search, at their own addresses.

Cloud Code's search answer (:mod:`cliproxy.providers.antigravity_search`) names each
source by a Vertex AI Search redirect
(``https://vertexaisearch.cloud.google.com/grounding-api-redirect/...``), not by the page's
own URL. As CPA does (``helps.ResolveAntigravityGroundingURLs``), each such link in the
grounding chunks is asked once with ``HEAD`` (no redirect followed) and replaced by the
``https`` page its ``Location`` names, before the answer is translated: Claude Code then
shows and fetches the pages themselves. Only links of that exact host and path are asked
(nothing a response could point elsewhere); a link that does not answer with a redirect to
an ``https`` URL in time stays as it was. The links of one answer are asked together
(CPA: one after the other) within :data:`RESOLVE_SECONDS` in all.

:class:`GroundedResponse` wraps the answer of a search request: a whole body is rewritten
when read, a stream frame by frame (only the frames that carry ``groundingMetadata``; the
others pass as they came).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from cliproxy.errors import UpstreamError
from cliproxy.providers.transport import UpstreamClient, UpstreamResponse

__all__ = ["GroundedResponse", "is_redirect", "resolve", "rewrite_payload"]

log = logging.getLogger(__name__)

REDIRECT_HOST = "vertexaisearch.cloud.google.com"
REDIRECT_PATH = "/grounding-api-redirect/"
RESOLVE_SECONDS = 5.0  # for all the links of one answer
MARK = b"groundingMetadata"
_FRAME_END = re.compile(rb"\r?\n\r?\n")
_DATA = re.compile(rb"^data:[ ]?(.*)$", re.M)


def is_redirect(url: str) -> bool:
    """A Vertex AI Search grounding redirect (https, that host, that path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme == "https" and parts.hostname == REDIRECT_HOST and parts.path.startswith(REDIRECT_PATH)
    )


async def _one(http: UpstreamClient, url: str, proxy: str) -> str:
    try:
        resp = await http.request("HEAD", url, headers={}, body=None, proxy=proxy)
    except (UpstreamError, OSError, ValueError) as exc:  # the link stays as it was
        log.debug("antigravity grounding link not resolved: %r", exc)
        return url
    try:
        location = (resp.headers.get("Location") or resp.headers.get("location") or "").strip()
        if not 300 <= resp.status < 400 or not location:
            return url
        target = urlsplit(location)
        return location if target.scheme == "https" and target.hostname else url
    except ValueError:
        return url
    finally:
        resp.release()


async def resolve(http: UpstreamClient, urls: list[str], proxy: str) -> dict[str, str]:
    """Each redirect of ``urls`` -> the page it leads to (only those resolved in time)."""
    wanted = [u for u in dict.fromkeys(urls) if is_redirect(u)]
    if not wanted:
        return {}
    tasks = {asyncio.ensure_future(_one(http, u, proxy)): u for u in wanted}
    done, pending = await asyncio.wait(tasks, timeout=RESOLVE_SECONDS)
    for task in pending:
        task.cancel()
    return {tasks[t]: t.result() for t in done if not t.cancelled() and t.result() != tasks[t]}


def _chunks(obj: Any) -> list[Any]:
    """The grounding chunks of an answer, enveloped (``response``) or not."""
    if not isinstance(obj, dict):
        return []
    wrapped = obj.get("response")
    cands = (wrapped if isinstance(wrapped, dict) else obj).get("candidates")
    if not isinstance(cands, list) or not cands or not isinstance(cands[0], dict):
        return []
    meta = cands[0].get("groundingMetadata")
    chunks = meta.get("groundingChunks") if isinstance(meta, dict) else None
    return chunks if isinstance(chunks, list) else []


def _webs(obj: Any) -> list[dict[str, Any]]:
    return [
        web
        for chunk in _chunks(obj)
        if isinstance(chunk, dict)
        and isinstance(web := chunk.get("web"), dict)
        and isinstance(web.get("uri"), str)
    ]


async def rewrite_payload(http: UpstreamClient, data: bytes, proxy: str) -> bytes:
    """``data`` (one answer's JSON) with its grounding redirects resolved; as it came when
    it has none, is not JSON, or none resolved."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    webs = _webs(obj)
    found = await resolve(http, [w["uri"].strip() for w in webs], proxy) if webs else {}
    if not found:
        return data
    for web in webs:
        web["uri"] = found.get(web["uri"].strip(), web["uri"])
    return orjson.dumps(obj)


async def _frame(http: UpstreamClient, frame: bytes, proxy: str) -> bytes:
    """One SSE frame (its end included) with the grounding of its ``data:`` resolved."""
    if frame.find(MARK) < 0:
        return frame
    found = _DATA.search(frame)
    if found is None:
        return frame
    payload = found.group(1).rstrip(b"\r")
    rewritten = await rewrite_payload(http, payload, proxy)
    if rewritten is payload:
        return frame
    return frame[: found.start(1)] + rewritten + frame[found.start(1) + len(payload) :]


class GroundedResponse:
    """A search request's answer whose grounding redirects are resolved as it is read."""

    def __init__(self, inner: UpstreamResponse, http: UpstreamClient, proxy: str) -> None:
        self.inner = inner
        self.http = http
        self.proxy = proxy

    @property
    def status(self) -> int:
        return self.inner.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self.inner.headers

    async def read(self) -> bytes:
        data = await self.inner.read()
        if self.inner.status != 200 or data.find(MARK) < 0:
            return data
        return await rewrite_payload(self.http, data, self.proxy)

    async def chunks(self) -> AsyncIterator[bytes]:
        rest = b""
        async for piece in self.inner.chunks():
            rest += piece
            out = b""
            start = 0
            for end in _FRAME_END.finditer(rest):
                out += await _frame(self.http, rest[start : end.end()], self.proxy)
                start = end.end()
            rest = rest[start:]
            if out:
                yield out
        if rest:
            yield await _frame(self.http, rest, self.proxy)

    def release(self) -> None:
        self.inner.release()
