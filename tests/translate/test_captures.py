"""Every request captured from a real client translates to every target without error
and without losing what the target can carry: texts, tool calls and their arguments,
tool results, tool declarations, the output limit."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name
from cliproxy.translate.registry import default_registry
from tests.translate.pairs_common import TARGET_FORMATS

DATA = Path(__file__).parent / "data"
REG = default_registry()


def _captures() -> list[tuple[str, Format, Path]]:
    found = [(p.name, Format(p.name.split("__")[0]), p) for p in sorted((DATA / "captures").glob("*.json"))]
    for sub, fmt in (
        ("claude", Format.CLAUDE),
        ("gemini", Format.GEMINI),
        ("openai_responses", Format.RESPONSES),
    ):
        for p in sorted((DATA / sub).glob("*.json")):
            if "count_tokens" not in p.name:
                found.append((p.name, fmt, p))
    return found


CAPTURES = _captures()
CASES = [(name, fmt, path, dst) for name, fmt, path in CAPTURES for dst in TARGET_FORMATS]


def _texts(req: ir.Request) -> str:
    out = []
    for m in req.messages:
        for b in m.content:
            if isinstance(b, ir.Text):
                out.append(b.text)
            elif isinstance(b, ir.ToolResult):
                out.extend(c.text for c in b.content if isinstance(c, ir.Text))
    return "\n".join(out)


def _calls(req: ir.Request) -> list[tuple[str, object]]:
    return [
        (flat_name(b.name, b.namespace), orjson.loads(b.arguments or "{}"))
        for m in req.messages
        for b in m.content
        if isinstance(b, ir.ToolCall)
    ]


def _tool_names(req: ir.Request) -> list[str]:
    return [flat_name(t.name, t.namespace) for t in req.tools or [] if t.kind != "builtin"]


def test_every_capture_is_there():
    names = {n for n, _, _ in CAPTURES}
    assert len(CAPTURES) >= 9, names
    assert {f for _, f, _ in CAPTURES} == {Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI}


@pytest.mark.parametrize("name,src,path,dst", CASES, ids=[f"{n}->{d.value}" for n, _, _, d in CASES])
def test_capture_translates_to_every_target(name, src, path, dst):
    body = orjson.loads(path.read_bytes())
    original = REG.adapter(src).parse_request(orjson.loads(path.read_bytes()))
    upstream, _ = REG.translate_request(src, dst, body, model="target-model")
    orjson.dumps(upstream)  # serialisable
    back = REG.adapter(dst).parse_request(upstream)

    text = _texts(back)
    for m in original.messages:
        for b in m.content:
            # Claude Code's billing header is not forwarded to other families (CPA)
            billing = b.text.startswith("x-anthropic-billing-header:") if isinstance(b, ir.Text) else False
            if isinstance(b, ir.Text) and b.text.strip() and not (billing and dst != Format.CLAUDE):
                assert b.text.strip() in text, f"lost text {b.text[:60]!r}"
            if isinstance(b, ir.ToolResult):
                for c in b.content:
                    if isinstance(c, ir.Text):
                        assert c.text.strip() in text, f"lost tool result {c.text[:60]!r}"
    assert _calls(back) == _calls(original)
    assert set(_tool_names(original)) <= set(_tool_names(back))
    if original.max_tokens and dst is not Format.CODEX:  # the Codex backend rejects output limits
        assert back.max_tokens == original.max_tokens
