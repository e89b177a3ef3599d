"""Stream-chunk interceptors get one event a call, in the client's format, however many
events one upstream read held (the fakes write a whole stream in one write here): for a
Chat Completions or Gemini client the event's bare ``data`` JSON (one object of a
Gemini JSON-array stream), for a Claude client the whole event text. CPA's executors hand its handler one chunk per event (the OpenAI-compatible
executor one translated ``data`` payload per SSE frame, the Claude executor one event text
per blank-line-ended event), and ``executeStreamWithAuthManagerFormats`` passes each to
the chain (CPA: TestHandlerStreamInterceptorRewritesAndDropsChunks, with several events a
read)."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import openai

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.plugins.plugin_dir import log_entries, with_log
from tests.plugins.test_flow_python import HEADER, _proxy

PLUGINS = HEADER + (
    """
LOG = __LOG__

def parts(fmt, body):
    if fmt == "claude":  # "event: X\\ndata: {...}\\n\\n"
        head, data = body.split(b"\\ndata: ")
        assert head.startswith(b"event: ") and data.endswith(b"\\n\\n") and data.count(b"\\n") == 2
        return head + b"\\ndata: ", json.loads(data), b"\\n\\n"
    return b"", json.loads(body), b""

class Drop(Plugin, StreamChunkInterceptor):
    name = "drop"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    async def intercept_chunk(self, req):
        if req.chunk_index >= 0 and b"(model" in req.body:
            return ChunkInterceptResult.drop()
        return None

class Upper(Plugin, StreamChunkInterceptor):
    name = "upper"; version = "1"; author = "t"; github_repository = "https://example.com/u"
    async def intercept_chunk(self, req):
        if req.chunk_index < 0:
            return None
        with open(LOG, "a") as f:
            f.write(json.dumps(req.body.decode()) + "\\n")
        head, obj, tail = parts(req.source_format, req.body)  # one event, or an error
        delta = (obj.get("choices") or [{}])[0].get("delta") or obj.get("delta") or {}
        gemini = ((obj.get("candidates") or [{}])[0].get("content") or {}).get("parts") or []
        for item in [delta, *gemini]:
            for key in ("content", "text"):
                if isinstance(item.get(key), str):
                    item[key] = item[key].upper()
        return ChunkInterceptResult(body=head + json.dumps(obj).encode() + tail)
"""
)


async def _events_proxy(start_proxy, fakes, tmp_path):
    log = tmp_path / "units.jsonl"
    src = with_log(PLUGINS, log)
    plugins = {"drop": src + "plugin = Drop()\n", "upper": src + "plugin = Upper()\n"}
    proxy = await _proxy(start_proxy, fakes, tmp_path, plugins, {"drop": {"priority": 10}, "upper": {}})
    return proxy, log


async def test_chat_stream_events_one_by_one_when_one_read_holds_them_all(start_proxy, fakes, tmp_path):
    """The upstream writes its whole stream at once. The dropping plugin drops only the
    event with ``(model``, the rewriting one upper-cases each event's text, and each call
    held one ``data`` JSON object (no ``data:`` prefix, never ``[DONE]``). Before, the chain
    saw the whole read: the drop emptied the answer (a 200 with nothing in it)."""
    proxy, log = await _events_proxy(start_proxy, fakes, tmp_path)
    fakes.openai.stream_together = True
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "HELLO FROM FAKE-OPENAI "
    assert chunks[-1].choices[0].finish_reason == "stop"
    units = log_entries(log)
    assert len(units) >= 3 and all(isinstance(json.loads(u), dict) for u in units)


async def test_claude_stream_events_one_by_one_as_event_text(start_proxy, fakes, tmp_path):
    """The same for a Claude client, whose chunks are whole event texts
    (``event: X\\ndata: {...}\\n\\n``, as CPA's Claude executor forwards them)."""
    proxy, log = await _events_proxy(start_proxy, fakes, tmp_path)
    fakes.claude.stream_together = True
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="claude-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    assert text == "HELLO FROM FAKE-CLAUDE " and final.stop_reason == "end_turn"
    units = log_entries(log)
    assert units[0].startswith("event: message_start\ndata: ")
    assert all(u.startswith("event: ") and u.endswith("\n\n") and u.count("data: ") == 1 for u in units)


async def test_gemini_stream_events_one_by_one_sse_and_json_array(start_proxy, fakes, tmp_path):
    """The same for a Gemini client: its SSE stream (CRLF frames from the upstream) and,
    without ``?alt=sse``, its JSON array, whose objects are the chunks; the array stays
    valid JSON with an object dropped."""
    proxy, log = await _events_proxy(start_proxy, fakes, tmp_path)
    fakes.gemini.stream_together = True
    answer = await ask(Format.GEMINI, proxy.url, "gemini-model", "hi", stream=True)
    assert answer.text == "HELLO FROM FAKE-GEMINI "
    url = f"{proxy.url}/v1beta/models/gemini-model:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers={"x-goog-api-key": KEY}) as r:
        assert r.status == 200
        objects = json.loads(await r.read())
    parts = [p for o in objects for c in o.get("candidates", []) for p in c["content"].get("parts", [])]
    assert "".join(p.get("text", "") for p in parts) == "HELLO FROM FAKE-GEMINI "
    assert all(isinstance(json.loads(u), dict) for u in log_entries(log))
