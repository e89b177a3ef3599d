"""Header names a plugin gets are Go's canonical ones, as CPA hands them (net/http's
``http.Header``, canonical on every read), while query names stay as sent (``url.Values``).
Each call that carries headers is checked on the wire: the JSON a native plugin receives.
A client's ``x-user`` must reach a Go plugin as ``X-User`` (its ``Header.Get("X-User")``
looks the canonical key up), and ``x-a: 1`` + ``X-A: 2`` as one key with both values."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, MultiDict

from cliproxy.plugins import abi, rules, surface
from cliproxy.plugins.rules import canonical_header_key
from tests.plugins.wire_host import WirePlugin, wire_host

# as a client sends them: lower case, a name repeated in two casings, an odd name
CLIENT = CIMultiDict(
    [
        ("x-user", "alice"),
        ("authorization", "Bearer k"),
        ("x-a", "1"),
        ("X-A", "2"),
        ("content-type", "application/json"),
        ("x-weird name", "w"),
    ]
)
CANONICAL = {
    "X-User": ["alice"],
    "Authorization": ["Bearer k"],
    "X-A": ["1", "2"],
    "Content-Type": ["application/json"],
    "x-weird name": ["w"],  # a space is no token byte: Go leaves the name as it is
}
QUERY = MultiDict([("Key", "v"), ("key", "w"), ("alt", "sse"), ("alt", "json")])
QUERY_WIRE = {"Key": ["v"], "key": ["w"], "alt": ["sse", "json"]}


@pytest.mark.parametrize(
    ("name", "want"),
    [  # Go's textproto TestCanonicalMIMEHeaderKey cases, and the names of this brief
        ("a-b-c", "A-B-C"),
        ("a-1-c", "A-1-C"),
        ("User-Agent", "User-Agent"),
        ("uSER-aGENT", "User-Agent"),
        ("user-agent", "User-Agent"),
        ("USER-AGENT", "User-Agent"),
        ("foo-bar_baz", "Foo-Bar_baz"),
        ("foo-bar$baz", "Foo-Bar$baz"),
        ("foo-bar~baz", "Foo-Bar~baz"),
        ("foo-bar*baz", "Foo-Bar*baz"),
        ("üser-agenT", "üser-agenT"),
        ("a B", "a B"),
        ("C Ontent-Transfer-Encoding", "C Ontent-Transfer-Encoding"),
        ("foo bar", "foo bar"),
        ("foo\nbar", "foo\nbar"),
        ("x:y", "x:y"),
        ("WWW-Authenticate", "Www-Authenticate"),
        ("x-user", "X-User"),
        ("-x-", "-X-"),
        ("", ""),
    ],
)
def test_canonical_header_key_is_gos(name: str, want: str) -> None:
    assert canonical_header_key(name) == want


def test_wire_headers_merge_casings_and_wire_query_keeps_names() -> None:
    assert rules.wire_headers(CLIENT) == CANONICAL
    assert rules.wire_query(QUERY) == QUERY_WIRE
    assert rules.wire_headers(None) == {} and rules.wire_query(None) == {}


def _ok(_p: dict[str, Any]) -> dict[str, Any]:
    return {}


async def test_model_router_gets_canonical_headers_and_query_as_sent() -> None:
    r = WirePlugin("r", 1, {"model_router": True}, {abi.MODEL_ROUTE: _ok})
    await rules.route_model(
        wire_host(r),
        source_format="openai",
        model="m",
        stream=False,
        headers=CLIENT,
        query=QUERY,
        body=b"{}",
        available_providers=[],
        skip=None,
        scope=None,
    )
    sent = r.called(abi.MODEL_ROUTE)[0]
    assert sent["Headers"] == CANONICAL and sent["Query"] == QUERY_WIRE


async def test_scheduler_options_headers_are_canonical() -> None:
    s = WirePlugin("s", 1, {"scheduler": True}, {abi.SCHEDULER_PICK: _ok})
    await rules.pick_auth(
        wire_host(s), [], provider="p", providers=[], model="m", stream=False, headers=CLIENT
    )
    assert s.called(abi.SCHEDULER_PICK)[0]["Options"]["Headers"] == CANONICAL


async def test_frontend_auth_reads_authorization_a_client_sent_in_lower_case() -> None:
    """A Go frontend-auth plugin's ``Header.Get("Authorization")``: a map lookup of the
    canonical key, done here on the JSON it gets."""

    def auth(p: dict[str, Any]) -> dict[str, Any]:
        return {"Authenticated": p["Headers"].get("Authorization") == ["Bearer k"], "Principal": "alice"}

    a = WirePlugin("a", 1, {"frontend_auth_provider": True}, {abi.FRONTEND_AUTH_AUTHENTICATE: auth})
    host = wire_host(a)
    got = await surface.authenticate(
        host, tuple(host.active("frontend_auth_provider")), method="POST", path="/v1/x",
        headers=CLIENT, query=QUERY, body=b"",
    )  # fmt: skip
    assert got == "alice"
    sent = a.called(abi.FRONTEND_AUTH_AUTHENTICATE)[0]
    assert sent["Headers"] == CANONICAL and sent["Query"] == QUERY_WIRE


async def test_management_handler_gets_canonical_headers_and_query_as_sent() -> None:
    m = WirePlugin("m", 1, {"management_api": True}, {abi.MANAGEMENT_HANDLE: _ok})
    host = wire_host(m)
    await surface.handle_management(
        host, host.records["m"], method="GET", path="/v0/management/x", headers=CLIENT, query=QUERY, body=b""
    )
    sent = m.called(abi.MANAGEMENT_HANDLE)[0]
    assert sent["Headers"] == CANONICAL and sent["Query"] == QUERY_WIRE


async def test_request_interceptor_headers_canonical_and_answers_merge_whatever_the_case() -> None:
    """CPA's mergeHeaders: ``ClearHeaders`` and each returned name replace what is held under
    it in any case (no second ``X-User`` beside the client's ``x-user``), with all the
    values returned; an empty list removes the header. The next plugin sees the result."""
    first = WirePlugin(
        "first", 2, {"request_interceptor": True},
        {abi.REQUEST_INTERCEPT_BEFORE: lambda _p: {
            "Headers": {"X-User": ["bob"], "content-type": [], "x-new": ["n1", "n2"]},
            "ClearHeaders": ["AUTHORIZATION"],
        }},
    )  # fmt: skip
    second = WirePlugin("second", 1, {"request_interceptor": True}, {abi.REQUEST_INTERCEPT_BEFORE: _ok})
    state = await rules.intercept(
        wire_host(first, second), abi.REQUEST_INTERCEPT_BEFORE, request_id="r", source_format="openai",
        to_format="", model="m", requested_model="m", stream=False, headers=CLIENT, body=b"b",
        skip=None, scope=None,
    )  # fmt: skip
    assert first.called(abi.REQUEST_INTERCEPT_BEFORE)[0]["Headers"] == CANONICAL
    assert state.changed
    assert state.headers.getall("x-user") == ["bob"] and "authorization" not in state.headers
    assert "content-type" not in state.headers and state.headers.getall("X-NEW") == ["n1", "n2"]
    assert second.called(abi.REQUEST_INTERCEPT_BEFORE)[0]["Headers"] == {
        "X-User": ["bob"],
        "X-A": ["1", "2"],
        "x-weird name": ["w"],
        "X-New": ["n1", "n2"],
    }


async def test_response_interceptor_headers_canonical_and_replaced_whatever_the_case() -> None:
    r = WirePlugin(
        "r", 1, {"response_interceptor": True},
        {abi.RESPONSE_INTERCEPT_AFTER: lambda _p: {"Headers": {"Content-Type": ["text/plain"]}}},
    )  # fmt: skip
    headers, _ = await rules.response_intercept(
        wire_host(r), request_id="r", source_format="openai", model="m", requested_model="m",
        stream=False, request_headers=CLIENT,
        response_headers={"content-type": "application/json", "x-request-id": "q"},
        original=b"o", body=b"b", skip=None, scope=None,
    )  # fmt: skip
    sent = r.called(abi.RESPONSE_INTERCEPT_AFTER)[0]
    assert sent["RequestHeaders"] == CANONICAL
    assert sent["ResponseHeaders"] == {"Content-Type": ["application/json"], "X-Request-Id": ["q"]}
    assert [k for k in headers if k.lower() == "content-type"] == ["Content-Type"]
    assert headers["Content-Type"] == "text/plain" and headers["x-request-id"] == "q"


async def test_stream_chunk_interceptor_headers_canonical_and_replaced_whatever_the_case() -> None:
    c = WirePlugin(
        "c", 1, {"response_stream_interceptor": True},
        {abi.RESPONSE_INTERCEPT_STREAM_CHUNK: lambda _p: {"Headers": {"X-Trace": ["t2"]}}},
    )  # fmt: skip
    st = rules.ChunkState(
        "r",
        "openai",
        "m",
        "m",
        CLIENT,
        {"x-trace": "t1", "content-type": "text/event-stream"},
        b"o",
        None,
        None,
    )
    await rules.stream_chunk(wire_host(c), st, None)
    sent = c.called(abi.RESPONSE_INTERCEPT_STREAM_CHUNK)[0]
    assert sent["RequestHeaders"] == CANONICAL
    assert sent["ResponseHeaders"] == {"X-Trace": ["t1"], "Content-Type": ["text/event-stream"]}
    assert [k for k in st.response_headers if k.lower() == "x-trace"] == ["X-Trace"]
    assert st.response_headers["X-Trace"] == "t2"
