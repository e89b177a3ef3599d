"""The direct upstream client does not keep the heads of requests with large headers.

The client keeps up to 512 request-head templates, keyed by the request's headers, so
that a request like the last one costs no head building. A header can carry a client's
value (a Codex prompt_cache_key becomes its session headers, a passthrough header goes as
sent): heads of 64 KiB each were all kept, with the header values their keys held, up to
512 of them at a time. A head larger than 16 KiB is now built for its request only.
"""

from __future__ import annotations

from cliproxy.providers.fasthttp import FastHttpClient
from cliproxy.providers.transport import read_body
from tests.providers.test_fasthttp import Raw, answer, keep_answering


async def test_large_heads_are_built_per_request_and_not_kept() -> None:
    client = FastHttpClient(connect_timeout=2, first_byte_timeout=2, idle_timeout=2)
    try:
        async with Raw(keep_answering(answer(b"ok"))) as raw:
            for n in range(40):
                big = {"Session_id": f"{n:04d}" + "s" * (20 << 10), "Content-Type": "application/json"}
                resp = await client.request("POST", raw.url + "/v1/responses", headers=big, body=b"{}")
                assert resp.status == 200 and await read_body(resp) == b"ok"
            assert not client._heads  # none of the 20 KiB heads was kept
            small = {"Session_id": "abc", "Content-Type": "application/json"}
            for _ in range(3):
                resp = await client.request("POST", raw.url + "/v1/responses", headers=small, body=b"{}")
                assert resp.status == 200 and await read_body(resp) == b"ok"
            assert len(client._heads) == 1  # an ordinary head is still made once and reused
    finally:
        await client.close()
