"""Stream-chunk interceptors through a running proxy: the header-init call's header edits
reach the client, and data chunks are numbered from 0 (CPA's
TestStreamChunkRequestBodyPolicyBySchemaVersion and TestResponseInterceptorsChainAndStreamHistory
fix ChunkIndex -1 as the header-init call alone)."""

from __future__ import annotations

import json

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import ECHO, HEADER, _proxy

HEADS = (
    HEADER
    + """
LOG = {log!r}
class Heads(Plugin, StreamChunkInterceptor):
    name = "heads"; version = "1"; author = "t"; github_repository = "https://example.com/h"
    async def intercept_chunk(self, req):
        with open(LOG, "a") as f:
            f.write(json.dumps([req.chunk_index, bool(req.body)]) + "\\n")
        if req.chunk_index == -1:
            return ChunkInterceptResult(headers={{"X-Plugin-Head": ["set-at-init"]}})
        return None
plugin = Heads()
"""
)


async def test_header_init_edits_reach_the_client_and_chunks_count_from_zero(start_proxy, fakes, tmp_path):
    """The -1 call comes once, before any chunk, and its header is on the client's response;
    the data chunks then get 0, 1, 2... Before, the first data chunk was also sent as -1,
    and the header edit was lost because the response head had already gone out."""
    log = tmp_path / "seen.jsonl"
    heads = HEADS.replace("{log!r}", repr(str(log))).replace("{{", "{").replace("}}", "}")
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"echo": ECHO, "heads": heads}, {"echo": {}, "heads": {}}
    )
    async with openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="echo", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert raw.headers.get("x-plugin-head") == "set-at-init"
        text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
    assert text == "PLUGIN-STREAM"
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert seen[0] == [-1, False]
    assert seen[1:] == [[i, True] for i in range(len(seen) - 1)] and len(seen) > 2
