"""A streamed Claude answer cut anywhere still gets its tool names back
(``upstream_body.rewritten`` feeding ``ToolNames.restore_lines``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from cliproxy.providers.claude_tools import ToolNames
from cliproxy.upstream_body import rewritten

ALIAS = "mcp__hmzqrngkulqv__xuo7jlxlpzee_Bash"


def stream() -> bytes:
    block = {"type": "tool_use", "id": "toolu_1", "name": ALIAS, "input": {}}
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "content": []}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "héllo"}},
        ),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(
        b"event: " + e.encode() + b"\r\ndata: " + orjson.dumps(d) + b"\r\n\r\n" for e, d in events
    )


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_name_split_across_chunks_is_restored() -> None:
    names = ToolNames({ALIAS: "Bash"})
    whole = stream()
    expected = whole.replace(ALIAS.encode(), b"Bash")
    for size in (1, 7, 64, len(whole)):
        out = [piece async for piece in rewritten(pieces(whole, size), names.restore_lines)]
        assert b"".join(out) == expected, size
        assert all(piece.endswith(b"\n") for piece in out)  # only whole lines go on


async def test_a_last_line_without_its_end_is_still_passed_on() -> None:
    names = ToolNames({ALIAS: "Bash"})
    tail = (
        b'data: {"type":"content_block_start","content_block":{"type":"tool_use","name":"'
        + ALIAS.encode()
        + b'"}}'
    )
    out = [piece async for piece in rewritten(pieces(b"event: x\n" + tail, 5), names.restore_lines)]
    assert (
        b"".join(out)
        == b'event: x\ndata: {"type":"content_block_start","content_block":{"type":"tool_use","name":"Bash"}}'
    )
