"""Multipart bodies (image edits, OpenAI-style video creates), which their handlers read
themselves instead of the middleware: the same promises as any body, a client's mistake
is its 400 and ``timeouts.client-body`` bounds the read."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_images_upstreams import _config, fake_xai

__all__ = ["fake_xai"]

BOUNDARY = "b0undary"
EDITS = "/v1/images/edits"
VIDEOS = "/openai/v1/videos"


def form(encoding: str = "8bit") -> bytes:
    """A form with a model, and a prompt part with this Content-Transfer-Encoding."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngrok-imagine-image\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\nmake it blue\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


async def _post(proxy: Any, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": content_type}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (form("x-unknown"), f"multipart/form-data; boundary={BOUNDARY}"),
        (form("base64"), f"multipart/form-data; boundary={BOUNDARY}"),  # "make it blue" is no base64
        (form(), "multipart/form-data"),  # no boundary
    ],
    ids=["unknown-transfer-encoding", "bad-base64", "no-boundary"],
)
async def test_an_undecodable_form_is_the_clients_400(start_proxy, fake_xai, fake_openai, body, content_type):
    """A form whose part cannot be decoded (a Content-Transfer-Encoding aiohttp does not
    know, base64 that is not), or a multipart Content-Type without its boundary, is the
    client's 400 in its own format, with nothing sent upstream. Before, each was a 500
    "internal error in cliproxy" with a traceback in the log (one per request, as many as
    a client cares to send); the video route answered the same 500."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    status, answer = await _post(proxy, EDITS, body, content_type)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    status, answer = await _post(proxy, VIDEOS, body, content_type)
    assert status == 400, answer  # CPA's shape there: a failed video
    assert answer["status"] == "failed" and answer["error"]["code"] == "invalid_request_error"
    assert fake_xai.requests == []
    status, answer = await _post(proxy, EDITS, form(), f"multipart/form-data; boundary={BOUNDARY}")
    assert (status, answer["error"]["param"]) == (400, "image")  # a readable form gets as far as that


@pytest.mark.parametrize("path", [EDITS, VIDEOS])
async def test_a_trickled_form_is_cut_by_client_body(start_proxy, fake_xai, fake_openai, path):
    """``timeouts.client-body`` bounds a multipart body as any other: a client that sends
    a form's first bytes and then nothing gets its 408 (the video route: CPA's failed video,
    400) when the time is up. Before, such a body was waited for without end, holding the
    connection and the request's task for a client that sends a byte now and then."""
    proxy = await start_proxy(_config(fake_xai, fake_openai) + "timeouts:\n  client-body: 500ms\n")
    body = form()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[:40])
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 3)
    except TimeoutError:
        answer = b"(no answer within 3 s)"
    finally:
        writer.close()
    want = b"HTTP/1.1 408" if path == EDITS else b"HTTP/1.1 400"
    assert answer.startswith(want), answer
