"""Bodies that are not (quite) JSON objects: truncated, non-object, invalid UTF-8, NUL bytes,
trailing garbage, duplicate keys, byte-order marks, huge arrays, on every generation route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from tests.fuzz.env import ROUTES, UPSTREAMS, Env, valid_body
from tests.fuzz.oracle import Route
from tests.fuzz.strategies import encode

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 25
BAD_BYTES = (b"\xff", b"\x00", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x1b", b"\\", b'"')
NON_OBJECTS = (b"[]", b"null", b"1", b'"s"', b"true", b"[{}]", b"0.5", b"-", b"{", b"}", b"[", b'""', b"{}")
TAILS = (b"garbage", b"{}", b"\x00", b"\n\n", b",", b"}", b" // comment", b"\xff", b'{"model":"x"}')


@st.composite
def raw_bodies(draw: st.DrawFn, valid: bytes) -> bytes:
    kind = draw(
        st.sampled_from(
            [
                "truncated",
                "non-object",
                "bad byte",
                "trailing",
                "empty",
                "duplicate",
                "bom",
                "wrapped",
                "huge array",
                "escaped",
                "whitespace",
            ]
        )
    )
    if kind == "truncated":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "non-object":
        return draw(st.sampled_from(NON_OBJECTS))
    if kind == "bad byte":
        at = draw(st.integers(0, len(valid)))
        bad = draw(st.sampled_from(BAD_BYTES))
        return valid[:at] + bad + valid[at + draw(st.integers(0, 1)) :]
    if kind == "trailing":
        return valid + draw(st.sampled_from(TAILS))
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n", b"\r\n\t ", b"\x00" * 10, b"\xef\xbb\xbf"]))
    if kind == "duplicate":
        return b'{"model":5,"stream":"x","contents":5,"messages":5,' + valid[1:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + valid
    if kind == "wrapped":
        return b"[" + valid + b"]"
    if kind == "huge array":
        return valid[:-1] + b',"extra":[' + b",".join([b"{}"] * draw(st.sampled_from([1000, 50_000]))) + b"]}"
    if kind == "escaped":
        return valid.replace(
            b'"hi"',
            draw(
                st.sampled_from(
                    [b'"\\ud83d"', b'"\\u0000"', b'"\\x41"', b'"\\u12"', b'"\\uDFFF\\uD800"', b'"\\/\\b\\f"']
                )
            ),
        )
    return b" \t\r\n" + valid + b" \r\n"


@pytest_asyncio.fixture(loop_scope="module")
async def after_batch(fuzz_env: Env, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    for upstream in UPSTREAMS:
        await fuzz_env.healthy(request.node.callspec.params["route"], upstream)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_raw_body(fuzz_env: Env, after_batch: None, route: Route, data: st.DataObject) -> None:
    upstream = data.draw(st.sampled_from(UPSTREAMS), label="upstream")
    stream = data.draw(st.booleans(), label="stream")
    body: dict[str, Any] = valid_body(route, upstream, stream)
    raw = data.draw(raw_bodies(encode(body)), label="raw body")
    query = "alt=sse" if route.gemini_stream and stream else ""
    await fuzz_env.fuzz(route, upstream, raw, query=query)
