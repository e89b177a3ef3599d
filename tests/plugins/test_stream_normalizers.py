"""Response normalizer plugins on the streams of built-in providers, through a running
proxy: in-process Python plugins tag the text of every upstream event
(``normalize_before``) and of every client frame (``normalize_after``) and write down what
they were handed; official SDK clients read the answers, streamed and whole, from an
OpenAI-compatible upstream, Claude and Gemini."""

from __future__ import annotations

import json

import aiohttp
from google import genai
from google.genai import types as gtypes

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.fakes.claude import Compression
from tests.plugins.test_flow_python import HEADER, _proxy

TAGGER = (
    HEADER
    + """
OUT = {out!r}
NAME = {name!r}

def note(stage, req):
    with open(OUT, "a") as f:
        f.write(json.dumps({{"plugin": NAME, "stage": stage, "from": req.from_format, "to": req.to_format,
                            "model": req.model, "stream": req.stream, "body": req.body.decode(),
                            "original": req.original_request.decode(),
                            "translated": req.translated_request.decode()}}) + "\\n")

class Tagger(Plugin, ResponseNormalizer):
    name = NAME; version = "1.0.0"; author = "t"; github_repository = "https://example.com/t"
    async def normalize_before(self, req):
        note("before", req)
        return req.body.replace(b"from ", ("|before-" + NAME + " from ").encode())
    async def normalize_after(self, req):
        note("after", req)
        return req.body.replace(b"fake-", ("|after-" + NAME + " fake-").encode())
plugin = Tagger()
"""
)

BROKEN = (
    HEADER
    + """
class Broken(Plugin, ResponseNormalizer):
    name = "broken"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/b"
    async def normalize_before(self, req):
        raise RuntimeError("before failed")
    async def normalize_after(self, req):
        raise RuntimeError("after failed")
plugin = Broken()
"""
)

# both chains, high priority first, around the proxy's own translation
TAGGED = "Hello |before-high |before-low from |after-high |after-low fake-"


async def _tagging_proxy(start_proxy, fakes, tmp_path, *, broken: bool = False):
    out = tmp_path / "seen.jsonl"
    plugins = {name: TAGGER.format(out=str(out), name=name) for name in ("high", "low")}
    cfg = {"high": {"priority": 20}, "low": {"priority": 10}}
    if broken:  # fails first in both chains: the chunk goes on to the next plugin as it was
        plugins["broken"], cfg["broken"] = BROKEN, {"priority": 30}
    proxy = await _proxy(start_proxy, fakes, tmp_path, plugins, cfg)
    return proxy, out


def _seen(out, plugin: str = "high") -> list[dict]:
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    out.write_text("")
    return [r for r in records if r["plugin"] == plugin]


def _bodies(records: list[dict], stage: str) -> list[str]:
    return [r["body"] for r in records if r["stage"] == stage]


async def test_openai_client_on_claude_streams_through_both_chains(start_proxy, fakes, tmp_path):
    """registry_test.go TestPluginNormalizersChainAfterNative for TranslateStream, with
    adapters_test.go TestResponseNormalizersChainByPriority (Stream true) and
    TestAdaptersKeepPayloadOrTryNextOnErrorAndEmptyBody (a failing normalizer keeps the
    chunk): every Claude event reaches the before chain as CPA's Claude executor hands it
    over (``data: <payload>``), every Chat Completions frame the after chain as a bare
    payload, each chain high priority first; the whole answer gets the same."""
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path, broken=True)
    streamed = await ask(Format.OPENAI, proxy.url, "claude-model", "hello there", stream=True)
    assert streamed.text.startswith(TAGGED + "claude")
    records = _seen(out)
    before, after = _bodies(records, "before"), _bodies(records, "after")
    assert all(b.startswith('data: {"type":') for b in before)
    assert any('"type":"message_start"' in b for b in before)
    assert any('"type":"message_stop"' in b for b in before)
    assert after and all(a.startswith('{"id":') or a == "[DONE]" for a in after)
    assert any('"chat.completion.chunk"' in a for a in after)
    first = records[0]
    assert (first["from"], first["to"], first["stream"]) == ("claude", "openai", True)
    assert json.loads(first["original"])["messages"][0]["content"] == "hello there"
    sent = json.loads(first["translated"])  # the Messages body sent upstream
    assert sent["model"] == "claude-sonnet-4-6" and sent["stream"] is True
    assert len({(r["model"], r["original"], r["translated"]) for r in records}) == 1  # once a request

    whole = await ask(Format.OPENAI, proxy.url, "claude-model", "hello there", stream=False)
    assert whole.text == streamed.text
    records = _seen(out)
    assert [r["stage"] for r in records] == ["before", "after"]
    assert records[0]["stream"] is False and records[0]["model"] == first["model"]


async def test_native_translation_with_no_output_reaches_no_after_normalizer(start_proxy, fakes, tmp_path):
    """TestTranslateStream_NativeEmptyOutputSuppressesRawFallback: an upstream event the
    translation turns into nothing (Claude's content_block_stop for an OpenAI client) is
    not handed to the after chain raw; every after call is one Chat Completions frame."""
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path)
    async with aiohttp.ClientSession() as http:
        body = {"model": "claude-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {KEY}"}
        async with http.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers) as resp:
            raw = await resp.read()
    frames = [f for f in raw.split(b"\n\n") if f.strip()]
    records = _seen(out)
    assert any('"content_block_stop"' in b for b in _bodies(records, "before"))
    after = _bodies(records, "after")
    assert len(after) == len(frames)
    untagged = [f.replace(b"|after-high |after-low ", b"") for f in frames]
    assert untagged == [b"data: " + a.encode() for a in after]  # (the high plugin comes first)
    assert not any('"type":"content_block' in a for a in after)


async def test_claude_client_streams_on_claude_and_on_an_openai_compatible_upstream(
    start_proxy, fakes, tmp_path
):
    """The before chain on each upstream event, the after chain on each client frame, for
    a Claude client whose events are framed as CPA's Claude handler writes them (the whole
    event text). Deliberate difference: CPA's Claude executor forwards a Claude client's
    Claude stream without its translator, so its normalizers never see that stream (they
    do see the whole answer, and every other executor's stream); cliproxy runs them on
    every stream alike."""
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path)
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    assert answer.text.startswith(TAGGED + "claude")
    records = _seen(out)
    assert all(b.startswith('data: {"type":') for b in _bodies(records, "before"))
    after = _bodies(records, "after")
    assert after[0].startswith("event: message_start\ndata: {") and after[0].endswith("\n\n")
    assert {(r["from"], r["to"]) for r in records} == {("claude", "claude")}

    answer = await ask(Format.CLAUDE, proxy.url, "compat-model", "hi", stream=True)
    assert answer.text.startswith(TAGGED + "openai")
    records = _seen(out)
    before = _bodies(records, "before")
    assert before[-1] == "data: [DONE]" and all(b.startswith("data: ") for b in before)
    assert any(a.startswith("event: content_block_delta\ndata: {") for a in _bodies(records, "after"))
    assert {(r["from"], r["to"]) for r in records} == {("openai", "claude")}


async def test_openai_client_on_an_openai_compatible_upstream(start_proxy, fakes, tmp_path):
    """Same format in and out: the chains still run (as CPA's OpenAI-compatible executor
    runs them), streamed and whole; the before chain gets ``data: <payload>`` as CPA's
    executor builds it."""
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path)
    streamed = await ask(Format.OPENAI, proxy.url, "compat-model", "hi", stream=True)
    assert streamed.text.startswith(TAGGED + "openai")
    assert streamed.output_tokens > 0  # the usage chunk made it through
    records = _seen(out)
    assert all(b.startswith("data: ") for b in _bodies(records, "before"))
    assert _bodies(records, "after")[-1] == "[DONE]"
    assert {(r["from"], r["to"], r["stream"]) for r in records} == {("openai", "openai", True)}
    whole = await ask(Format.OPENAI, proxy.url, "compat-model", "hi", stream=False)
    assert whole.text == streamed.text


async def test_gemini_streams_sse_and_json_array(start_proxy, fakes, tmp_path):
    """A Gemini upstream's events reach the before chain as its bare payloads (CPA's Gemini
    executor hands over the JSON alone); a Gemini client's frames are bare objects, in an
    SSE stream and in the JSON-array stream a client without ``alt=sse`` reads."""
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path)
    client = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=proxy.url))
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(model="gemini-model", contents="hi"):
        text += chunk.text or ""
    assert text.startswith(TAGGED + "gemini")
    records = _seen(out)
    assert all(r["body"].startswith('{"') for r in records)
    assert {(r["from"], r["to"]) for r in records} == {("gemini", "gemini")}

    url = f"{proxy.url}/v1beta/models/gemini-model:streamGenerateContent"
    async with aiohttp.ClientSession() as http:
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        async with http.post(url, json=body, headers={"x-goog-api-key": KEY}) as resp:
            objects = json.loads(await resp.read())
    text = "".join(p.get("text", "") for o in objects for p in o["candidates"][0]["content"]["parts"])
    assert text.startswith(TAGGED + "gemini")
    after = _bodies(_seen(out), "after")
    assert len(after) == len(objects) and all(a.startswith('{"') for a in after)


async def test_an_unnamed_gzip_stream_is_decoded_before_the_chain(start_proxy, fakes, tmp_path):
    """A Claude gateway gzipping its stream without saying so (CPA's
    TestClaudeExecutor_ExecuteStream_GzipNoContentEncodingHeader): the before chain gets
    the decoded events, as CPA decodes the body before its translator runs."""
    fakes.claude.compression[None] = Compression("gzip")
    proxy, out = await _tagging_proxy(start_proxy, fakes, tmp_path)
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    assert answer.text.startswith(TAGGED + "claude")
    assert all(b.startswith('data: {"type":') for b in _bodies(_seen(out), "before"))
