"""All 16 client x upstream pairs (plus the Codex dialect as a target): requests, whole
responses and streams keep what the target can carry."""

from __future__ import annotations

import random

import pytest

from cliproxy.formats import Format, family_of
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry
from tests.translate.pairs_common import (
    CLIENT_FORMATS,
    TARGET_FORMATS,
    Collected,
    images,
    joined,
    request_with_tools,
    rich_events,
    rich_request,
    rich_response,
    same_family,
    sig,
    thinking_signatures,
    tool_calls,
    tool_results,
)

REG = default_registry()
PAIRS = [(s, t) for s in CLIENT_FORMATS for t in TARGET_FORMATS]
IDS = [f"{s.value}->{t.value}" for s, t in PAIRS]


def _client_body(src: Format) -> dict:
    """The rich conversation as a client of ``src`` would send it."""
    return REG.adapter(src).build_request(rich_request(family_of(src)))


@pytest.mark.parametrize("src,dst", PAIRS, ids=IDS)
def test_request_keeps_content(src, dst):
    body = _client_body(src)
    upstream, _ = REG.translate_request(src, dst, body, model="model-x")
    back = REG.adapter(dst).parse_request(upstream)
    text = joined(back)
    for marker in (
        "SYSTEM-MARKER",
        "USER-MARKER",
        "ASSISTANT-MARKER",
        "RESULT-A",
        "RESULT-B",
        "USER2-MARKER",
    ):
        assert marker in text, f"{marker} lost: {text!r}"
    assert tool_calls(back) == [("run_shell", {"command": "echo A"}), ("run_shell", {"command": "echo B"})]
    results = tool_results(back)
    assert [r[0] for r in results] == ["RESULT-A", "RESULT-B"]
    if Format.OPENAI not in (src, dst):
        # Chat tool messages have no error flag; every other format carries one
        assert results[1][1] is True
    assert images(back) == 1
    assert back.tools and back.tools[0].name == "run_shell"
    assert back.tools[0].parameters and "command" in str(back.tools[0].parameters)
    sigs = thinking_signatures(back)
    if same_family(src, dst) and Format.OPENAI not in (src, dst):
        # Chat Completions has no slot for reasoning artifacts
        assert (sig(family_of(src)), family_of(src)) in sigs
    else:  # an artifact never goes to another family
        assert all(fam == family_of(dst) for _, fam in sigs), sigs


@pytest.mark.parametrize(
    "upstream,client",
    [(u, c) for u in CLIENT_FORMATS for c in CLIENT_FORMATS],
    ids=[f"{u.value}->{c.value}" for u in CLIENT_FORMATS for c in CLIENT_FORMATS],
)
def test_whole_response_keeps_content(upstream, client):
    up_body = REG.adapter(upstream).build_response(rich_response(family_of(upstream)))
    client_body = REG.translate_response(upstream, client, up_body, request_with_tools(), model="alias-x")
    back = REG.adapter(client).parse_response(client_body, request_with_tools())
    assert "ANSWER-MARKER" in joined(back)
    assert tool_calls(back) == [("run_shell", {"command": "ls"})]
    assert back.stop_reason == "tool_use"
    assert back.model == "alias-x"
    u = back.usage
    assert (u.input_tokens, u.output_tokens) == (120, 40)
    assert u.cache_read_tokens == 100
    if upstream is not Format.OPENAI or client is not Format.OPENAI:
        assert u.reasoning_tokens in (10, 0) if client is Format.CLAUDE else u.reasoning_tokens == 10


def _upstream_bytes(upstream: Format) -> bytes:
    enc = REG.adapter(upstream).stream_encoder(request_with_tools(), "model-x")
    return b"".join(enc.encode(e) for e in rich_events(family_of(upstream))) + enc.flush()


def _split(data: bytes, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(1, 40)
        out.append(data[i : i + n])
        i += n
    return out


@pytest.mark.parametrize(
    "upstream,client",
    [(u, c) for u in CLIENT_FORMATS for c in CLIENT_FORMATS],
    ids=[f"{u.value}->{c.value}" for u in CLIENT_FORMATS for c in CLIENT_FORMATS],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_stream_keeps_content(upstream, client, seed):
    raw = _upstream_bytes(upstream)
    tr = REG.stream_translator(upstream, client, request_with_tools(), model="alias-x")
    out = b"".join(tr.feed(piece) for piece in _split(raw, seed)) + tr.finish()
    got = Collected()
    dec = REG.adapter(client).stream_decoder(request_with_tools())
    got.feed(dec.decode(out))
    got.feed(dec.flush())
    assert not got.errors, got.errors
    assert got.text == "Hello STREAM-MARKER"
    assert got.call_list() == [("run_shell", {"command": "echo A"}), ("run_shell", {"command": "echo B"})]
    assert got.stop == "tool_use"
    assert got.usage is not None and got.usage.input_tokens == 50 and got.usage.output_tokens == 20
    if client is not Format.OPENAI or upstream is Format.OPENAI:
        assert "think" in got.thinking or client is Format.OPENAI
    if same_family(upstream, client) and Format.OPENAI not in (upstream, client):
        assert (sig(family_of(client)), family_of(client)) in got.signatures
    else:
        assert all(fam == family_of(client) for _, fam in got.signatures)
    assert tr.usage is not None and tr.usage.output_tokens == 20


@pytest.mark.parametrize("upstream", CLIENT_FORMATS, ids=[u.value for u in CLIENT_FORMATS])
@pytest.mark.parametrize("client", CLIENT_FORMATS, ids=[c.value for c in CLIENT_FORMATS])
def test_stream_error_after_first_byte_ends_cleanly(upstream, client):
    enc = REG.adapter(upstream).stream_encoder(request_with_tools(), "model-x")
    events = [*rich_events(family_of(upstream))[:9], ir.Error("upstream went away", status=529)]
    raw = b"".join(enc.encode(e) for e in events) + enc.flush()
    tr = REG.stream_translator(upstream, client, request_with_tools())
    out = tr.feed(raw) + tr.finish()
    got = Collected()
    dec = REG.adapter(client).stream_decoder(request_with_tools())
    got.feed(dec.decode(out))
    got.feed(dec.flush())
    assert got.text.startswith("Hello")
    assert got.errors, out[-300:]
