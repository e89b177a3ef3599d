"""An Antigravity web search's sources at their own addresses (CPA
``helps.ResolveAntigravityGroundingURLs``): Vertex AI Search redirect links asked once with
HEAD and replaced by the https page they lead to. ``Google`` below stands in for the redirect
server on the network (the only party these HEAD requests reach): it answers as that server
does, a 302 with a ``Location``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from cliproxy.providers import antigravity_grounding as grounding
from cliproxy.providers.antigravity_grounding import GroundedResponse, is_redirect, resolve
from cliproxy.providers.antigravity_hosts import HostFallback
from cliproxy.providers.transport import UpstreamNetworkError

R = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"


class Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes = b"", pieces: int = 1) -> None:
        self.status, self.headers, self.body, self.pieces = status, headers, body, pieces
        self.released = False

    async def read(self) -> bytes:
        return self.body

    async def chunks(self) -> AsyncIterator[bytes]:
        step = max(1, len(self.body) // self.pieces + 1)
        for i in range(0, len(self.body), step):
            yield self.body[i : i + step]

    def release(self) -> None:
        self.released = True


class Google:
    """HEAD ``R + name``: 302 to ``pages[name]``; ``slow``: never answers in time; other
    names: what ``answers`` says (default 404)."""

    def __init__(self, pages: dict[str, str], answers: dict[str, Any] | None = None) -> None:
        self.pages, self.answers = pages, answers or {}
        self.asked: list[tuple[str, str, str]] = []
        self.upstream: Answer | None = None

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Answer:
        if method != "HEAD":  # the search request itself, for a transport test
            assert self.upstream is not None
            return self.upstream
        self.asked.append((method, url, proxy))
        name = url.removeprefix(R)
        if name in self.pages:
            return Answer(302, {"Location": self.pages[name]})
        answer = self.answers.get(name, 404)
        if answer == "slow":
            await asyncio.sleep(10)
        if isinstance(answer, Exception):
            raise answer
        return Answer(answer if isinstance(answer, int) else 200, answer if isinstance(answer, dict) else {})


def answer(*uris: str, wrapped: bool = True) -> dict[str, Any]:
    inner = {
        "candidates": [
            {
                "content": {"parts": [{"text": "It is so."}], "role": "model"},
                "groundingMetadata": {
                    "webSearchQueries": ["q"],
                    "groundingChunks": [{"web": {"uri": u, "title": "t"}} for u in uris],
                },
            }
        ]
    }
    return {"response": inner, "traceId": "x"} if wrapped else inner


def uris(obj: dict[str, Any]) -> list[str]:
    inner = obj.get("response", obj)
    return [c["web"]["uri"] for c in inner["candidates"][0]["groundingMetadata"]["groundingChunks"]]


@pytest.mark.parametrize(
    ("url", "redirect"),
    [
        (R + "AbC", True),
        ("http://vertexaisearch.cloud.google.com/grounding-api-redirect/AbC", False),
        ("https://vertexaisearch.cloud.google.com/other/AbC", False),
        ("https://example.com/grounding-api-redirect/AbC", False),
        ("https://vertexaisearch.cloud.google.com@evil.example/grounding-api-redirect/AbC", False),
        ("https://[::1", False),
    ],
)
def test_only_vertex_search_redirects_are_asked(url: str, redirect: bool) -> None:
    assert is_redirect(url) is redirect


async def test_each_redirect_is_asked_once_and_only_https_pages_replace_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grounding, "RESOLVE_SECONDS", 0.2)
    google = Google(
        {"a": "https://page.example/a", "http": "http://plain.example/", "rel": "/relative"},
        {"ok": 200, "down": UpstreamNetworkError("unreachable"), "slow": "slow"},
    )
    names = ["a", "a", "http", "rel", "ok", "down", "slow", "gone"]
    found = await resolve(google, [R + n for n in names] + ["https://example.com/x"], "socks5://p:1")
    assert found == {R + "a": "https://page.example/a"}
    assert sorted(u for _, u, _ in google.asked) == sorted(R + n for n in dict.fromkeys(names))
    assert {(m, p) for m, _, p in google.asked} == {("HEAD", "socks5://p:1")}  # the credential's proxy


async def test_a_whole_answer_is_read_with_its_pages() -> None:
    google = Google({"a": "https://page.example/a"})
    body = orjson.dumps(answer(R + "a", "https://example.org/b", R + "a"))
    read = await GroundedResponse(Answer(200, {}, body), google, "").read()
    assert uris(orjson.loads(read)) == [
        "https://page.example/a",
        "https://example.org/b",
        "https://page.example/a",
    ]
    assert len(google.asked) == 1
    untouched = orjson.dumps(answer("https://example.org/b", wrapped=False))
    assert await GroundedResponse(Answer(200, {}, untouched), google, "").read() == untouched
    error = b'{"error": {"code": 429, "message": "groundingMetadata"}}'
    assert await GroundedResponse(Answer(429, {}, error), google, "").read() == error


@pytest.mark.parametrize("pieces", [1, 3, 17])
async def test_a_stream_is_rewritten_frame_by_frame(pieces: int) -> None:
    google = Google({"a": "https://page.example/a"})
    head = b"data: " + orjson.dumps({"response": {"candidates": [{"content": {"parts": [{"text": "It "}]}}]}})
    tail = b"data: " + orjson.dumps(answer(R + "a"))
    stream = head + b"\r\n\r\n" + tail + b"\r\n\r\n"
    resp = GroundedResponse(Answer(200, {}, stream, pieces), google, "")
    out = b"".join([c async for c in resp.chunks()])
    first, second, rest = out.split(b"\r\n\r\n")
    assert first == head and rest == b""  # a frame without grounding passes byte for byte
    assert uris(orjson.loads(second.removeprefix(b"data: "))) == ["https://page.example/a"]
    resp.release()
    assert resp.inner.released  # type: ignore[attr-defined]


async def test_the_transport_resolves_only_search_answers() -> None:
    """CPA: TestShouldResolveAntigravityWebSearchGroundingURLsRequiresTypedWebSearchAndSearchRequest:
    only an envelope sent as ``requestType: web_search`` has its redirects resolved. Only a
    Claude client's typed web_search tool becomes such a request here (as in CPA), so the
    source-format condition holds by construction."""
    google = Google({"a": "https://page.example/a"})
    google.upstream = Answer(200, {}, orjson.dumps(answer(R + "a")))
    transport = HostFallback("https://daily.test", "https://prod.test", google)
    search = orjson.dumps(
        {"model": "m", "userAgent": "antigravity", "requestType": "web_search", "request": {}}
    )
    resp = await transport.request(
        "POST", "https://gw.test/v1internal:generateContent", headers={}, body=search
    )
    assert uris(orjson.loads(await resp.read())) == ["https://page.example/a"]
    chat = orjson.dumps({"model": "m", "requestType": "agent", "request": {}})
    resp = await transport.request(
        "POST", "https://gw.test/v1internal:generateContent", headers={}, body=chat
    )
    assert uris(orjson.loads(await resp.read())) == [R + "a"] and len(google.asked) == 1
