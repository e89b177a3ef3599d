"""Valid bodies with odd headers, odd framing and odd query strings, on every generation route."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from cliproxy.formats import Format
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.env import ROUTES, UPSTREAMS, Env, valid_body
from tests.fuzz.oracle import Route
from tests.fuzz.strategies import encode
from tests.fuzz.wire import Header, WireError

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 25
KEY_PLACEHOLDER = "<key>"

CONTENT_TYPES = st.sampled_from(
    [
        None,
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "",
        "\x01",
        "application/json, text/plain",
        "application/json;;;",
        "*/*",
        "application/json; charset=" + "x" * 2000,
    ]
)
ODD_HEADERS: tuple[tuple[Header, ...], ...] = (
    (("anthropic-version", "weird"),),
    (("anthropic-beta", "x" * 4000),),
    (("anthropic-beta", ",,,"),),
    (("x-goog-api-client", "\x01"),),
    (("Accept", "text/html"),),
    (("Accept", "text/event-stream"),),
    (("Accept-Encoding", "gzip"),),
    (("User-Agent", ""),),
    (("User-Agent", "claude-cli/9.9 (external, cli)"),),
    (("User-Agent", "u" * 7000),),
    (("X-Forwarded-For", "garbage, , 999.1.1.1"),),
    (("Origin", "null"),),
    (("session-id", "\x7f"),),
    (("Idempotency-Key", "k" * 3000),),
    (("Expect", "100-continue"),),
    (("Connection", "Upgrade"), ("Upgrade", "websocket")),
    (("X-Latin", b"\xe9\xe8"),),
    (("X-Utf8", "\u00e9\u2603".encode()),),
    tuple((f"X-H{i}", "v") for i in range(150)),
    (("X-Big", "b" * 9000),),
    (("X-Nul", "a\x00b"),),
    (("Bad Name", "x"),),
    (("X-\x01", "x"),),
    (("Content-Type", "application/json"), ("Content-Type", "text/plain")),
    (("Content-Encoding", "gzip"),),
    (("Content-Encoding", "deflate"),),
    (("Content-Encoding", "br"),),
    (("Content-Encoding", "zstd"),),
    (("Content-Encoding", "weird"),),
    (("Content-Encoding", "gzip, gzip"),),
    (("Transfer-Encoding", "chunked"),),
    (("Transfer-Encoding", "gzip"),),
    (("Transfer-Encoding", "identity"),),
    (("x-stainless-retry-count", "-1"),),
    (("openai-beta", "responses=v1" * 50),),
    (("Cookie", "a=\x7f" * 100),),
)
AUTHS: tuple[tuple[Header, ...], ...] = (
    (),
    (("Authorization", "Bearer"),),
    (("Authorization", "Bearer "),),
    (("Authorization", "Bearer wrong"),),
    (("Authorization", "Basic Zm9vOmJhcg=="),),
    (("x-api-key", b"\xff\xfe"),),
    (("x-api-key", "k\u00e9y".encode()),),
    (("Authorization", "Bearer " + "k" * 7000),),
    (("Authorization", "Bearer wrong"), ("Authorization", "Bearer <key>")),
    (("Authorization", "bearer <key>"),),
    (("Authorization", "Bearer  <key> "),),
    (("x-goog-api-key", ""),),
    (("x-api-key", "<key>"), ("Authorization", "Bearer wrong")),
    (("Authorization", "Bearer <key>\x00"),),
)
QUERIES = st.sampled_from(
    [
        "",
        "key=<key>",
        "key=<key>&key=wrong",
        "key=wrong",
        "auth_token=<key>",
        "alt=sse",
        "alt=weird",
        "beta=true",
        "%zz",
        "a=1&" * 1500,
        "key=%00",
        "=",
        "&&&",
        "alt=sse&alt=json",
    ]
)


def _fill(headers: tuple[Header, ...], key: str) -> list[Header]:
    out: list[Header] = []
    for name, value in headers:
        if isinstance(value, str):
            value = value.replace(KEY_PLACEHOLDER, key)
        out.append((name, value))
    return out


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """One odd request: which headers, which auth, which query, how the body is framed."""
    return {
        "content_type": draw(CONTENT_TYPES),
        "odd": draw(st.lists(st.sampled_from(ODD_HEADERS), max_size=2)),
        "auth": draw(st.one_of(st.none(), st.sampled_from(AUTHS))),  # None: the route's usual key header
        "query": draw(QUERIES),
        "framing": draw(st.sampled_from(["plain", "plain", "gzip", "cl-short", "cl-long", "no-cl"])),
    }


@pytest_asyncio.fixture(loop_scope="module")
async def after_batch(fuzz_env: Env, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    for upstream in UPSTREAMS:
        await fuzz_env.healthy(request.node.callspec.params["route"], upstream)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_odd_headers(fuzz_env: Env, after_batch: None, route: Route, data: st.DataObject) -> None:
    upstream = data.draw(st.sampled_from(UPSTREAMS), label="upstream")
    stream = data.draw(st.booleans(), label="stream")
    spec = data.draw(requests(), label="request")
    body = valid_body(route, upstream, stream)
    raw = encode(body)
    headers: list[Header] = []
    if spec["content_type"] is not None:
        headers.append(("Content-Type", spec["content_type"]))
    for group in spec["odd"]:
        headers.extend(_fill(group, fuzz_env.key))
    auth = spec["auth"] is None
    if not auth:
        headers.extend(_fill(spec["auth"], fuzz_env.key))
    length: int | bool | None = True
    if spec["framing"] == "gzip":
        raw = gzip.compress(raw)
        headers.append(("Content-Encoding", "gzip"))
    elif spec["framing"] == "cl-short":
        length = max(0, len(raw) - 7)
    elif spec["framing"] == "cl-long":
        length = len(raw) + 100
    elif spec["framing"] == "no-cl":
        length = False
    query = spec["query"].replace(KEY_PLACEHOLDER, fuzz_env.key)
    if route.gemini_stream and stream and "alt=" not in query:
        query = (query + "&alt=sse") if query else "alt=sse"
    await fuzz_env.reset()
    try:
        answer = await fuzz_env.send(
            route, route.target(upstream, query), raw, headers, auth=auth, content_length=length
        )
    except WireError:
        if spec["framing"] != "cl-long":
            raise
        # the client promised more body than it sent, then closed: a client that went away,
        # which needs no answer, but must not be logged as our error either
        problems = await fuzz_env.problems()
        assert not problems, "; ".join(problems)
        return
    alt = None
    if route.fmt is Format.GEMINI and "alt=" in query:
        alt = query.split("alt=", 1)[1].split("&", 1)[0]
    await fuzz_env.judge(route, answer, streamed=body.get("stream") is True, alt=alt)
