"""``gemini.build.text_only`` answers from the build it follows (the attempt asks right
after ``build_request``) and walks the messages otherwise: the same answer either way
(issue 21, translation added time)."""

from __future__ import annotations

import pytest

from cliproxy.translate import ir
from cliproxy.translate.gemini.build import build_request, text_only


def _walked(req: ir.Request) -> bool:
    """What the walk says (a request no build came before)."""
    return req.source != "gemini" and all(type(b) is ir.Text for m in req.messages for b in m.content)


def _req(*messages: ir.Message, **kw: object) -> ir.Request:
    return ir.Request("gemini-2.5-flash", list(messages), source="openai", **kw)  # type: ignore[arg-type]


CASES = {
    "plain": _req(ir.Message("system", [ir.Text("Be terse.")]), ir.Message("user", [ir.Text("Hi")])),
    "no system": _req(ir.Message("user", [ir.Text("Hi")]), ir.Message("assistant", [ir.Text("")])),
    "image in the system": _req(
        ir.Message("system", [ir.Image(data="aGk=", media_type="image/png")]),
        ir.Message("user", [ir.Text("Hi")]),
    ),
    "image in a turn": _req(ir.Message("user", [ir.Text("see"), ir.Image(url="https://x/y.png")])),
    "a call": _req(
        ir.Message("user", [ir.Text("go")]),
        ir.Message("assistant", [ir.ToolCall("c1", "f", "{}")]),
        ir.Message("tool", [ir.ToolResult("c1", [ir.Text("ok")])]),
    ),
    "tools declared": _req(
        ir.Message("user", [ir.Text("Hi")]), tools=[ir.Tool("f", parameters={"type": "object"})]
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_text_only_after_the_build_is_the_walk(name: str) -> None:
    req = CASES[name]
    build_request(req)
    assert text_only(req) is _walked(req)
    assert text_only(req) is _walked(req)  # asked again: the walk


def test_another_request_is_walked() -> None:
    built, other = CASES["plain"], CASES["image in a turn"]
    build_request(built)
    assert text_only(other) is False
    build_request(other)
    assert text_only(built) is True
