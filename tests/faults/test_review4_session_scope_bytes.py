"""A client's session header whose bytes are not UTF-8 (both server engines keep such bytes as
surrogates) was a 500 for a Codex model: the Codex prompt-cache key's uuid5 and the session
id's length check encode the id and refuse surrogates, and b381ddb and 559fd22 added one more
such check where a long session id is hashed. Now such an id is counted and hashed as it is,
and the request is answered."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cliproxy.translate.replay_keys import claude_code_scope
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config


def test_a_session_id_with_non_utf8_bytes_makes_a_scope() -> None:
    raw = b"sess-\xff\xfe".decode("utf-8", "surrogateescape")
    assert claude_code_scope({}, {"x-claude-code-session-id": raw}).startswith("claude:")
    long = raw * 100
    scope = claude_code_scope({}, {"x-claude-code-session-id": long, "x-claude-code-agent-id": raw})
    assert scope.startswith("claude:sha256-") and len(scope) < 200


async def _post(port: int, path: bytes, auth: bytes, headers: bytes, body: bytes) -> bytes:
    """A raw POST (a client library would refuse to send the header's bytes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST "
            + path
            + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + auth
            + b"\r\n"
            + headers
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize("header", [b"x-claude-code-session-id", b"x-claude-code-agent-id"])
async def test_a_claude_request_with_such_an_id_is_answered(start_proxy, fakes, header) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    body = orjson.dumps(
        {"model": "codex-model", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    )
    extra = b"x-claude-code-session-id: 0f0e0d0c-0b0a-4908-8706-050403020100\r\n"
    if header == b"x-claude-code-session-id":
        extra = b""
    raw = await _post(
        proxy.port,
        b"/v1/messages",
        b"x-api-key: " + KEY.encode(),
        extra + header + b": sess-\xff\xfe\r\n",
        body,
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]  # before: 500


async def test_a_responses_session_header_with_such_bytes_is_answered(start_proxy, fakes) -> None:
    """559fd22 runs a client's session header (session_id, x-codex-window-id) through the same
    length check: a byte that is not UTF-8 there was a 500 too."""
    proxy = await start_proxy(matrix_config(fakes))
    body = orjson.dumps({"model": "codex-model", "input": "hi"})
    raw = await _post(
        proxy.port,
        b"/v1/responses",
        b"Authorization: Bearer " + KEY.encode(),
        b"session_id: s-\xff\xfe" + b"x" * 300 + b"\r\n",
        body,
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
