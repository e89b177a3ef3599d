"""A whole answer reaches the client before its usage accounting runs (usage read off the
body, counters, ledger row, logs): the client does not wait for the bookkeeping. The
accounting still runs in the same step of the event loop, right after the write, so no
other request on the proxy can run in between (a key's budget is charged before its next
request is read).

The client here is a plain blocking socket: when the accounting starts, the answer's bytes
must already be readable on it (loopback delivers a write at once)."""

from __future__ import annotations

import asyncio
import select
import socket
from typing import Any

import orjson

from cliproxy.usage import recorder_of
from tests.policies.conftest import PLAIN, policy_config


def _request(model: str, stream: bool) -> bytes:
    body = orjson.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {PLAIN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer_readable_at_accounting(proxy: Any, stream: bool) -> tuple[list[bool], bytes]:
    """Sends one request on a raw socket; returns, for each accounting call, whether the
    answer was readable on the socket when it began, and the bytes received."""
    rec = recorder_of(proxy.service)
    seen: list[bool] = []
    finished = rec.finished
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)

    def watched(t: Any) -> None:
        seen.append(bool(select.select([sock], [], [], 0.2)[0]))
        finished(t)

    rec.finished = watched  # type: ignore[method-assign]
    try:
        sock.sendall(_request("compat-model", stream))
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.02)
        data = b""
        sock.settimeout(5)
        while not data.endswith(b"}") and not data.endswith(b"\r\n0\r\n\r\n"):
            part = await asyncio.to_thread(sock.recv, 65536)
            if not part:
                break
            data += part
        return seen, data
    finally:
        rec.finished = finished  # type: ignore[method-assign]
        sock.close()


async def test_a_whole_answer_is_on_the_wire_before_its_accounting_runs(start_proxy, fakes):
    proxy = await start_proxy(policy_config(fakes, ""), engine="fast")
    seen, data = await _answer_readable_at_accounting(proxy, stream=False)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert seen == [True]  # accounted once, after the answer was written
    # and what it accounted is the answer the client got: one success, its tokens counted
    keys = recorder_of(proxy.service).stats.counters.by_key.values()
    assert sum(c.success for c in keys) == 1
    assert sum(c.total_tokens for c in keys) > 0


async def test_a_stream_is_accounted_when_it_ends_as_before(start_proxy, fakes):
    proxy = await start_proxy(policy_config(fakes, ""), engine="fast")
    seen, data = await _answer_readable_at_accounting(proxy, stream=True)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"\r\n0\r\n\r\n")
    assert seen == [True]  # once, at the stream's end (its chunks were written by then)
