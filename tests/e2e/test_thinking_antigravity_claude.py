"""A Claude client's tool loop with thinking on, through a Claude model behind Antigravity,
in CPA's two signature modes (``antigravity-signature-cache-enabled``,
``antigravity-signature-bypass-strict``; CPA internal/cache/signature_cache.go and
translator/antigravity/claude).

The fake Antigravity (tests/fakes/gemini.py) signs a Claude model's thought part with a
double-layer ``R...`` Claude signature, as Antigravity does; the client asks to be shown its
thinking (``display: summarized``: without it, as in CPA, no includeThoughts goes up and
no thought part comes back). Turn 2 must send the thinking
back as a thought part carrying that signature, in front of the function call:

* cache mode (default): the client is handed ``claude#<signature>`` and the proxy keeps
  the signature under the thinking text; a raw signature from elsewhere is not trusted;
* bypass mode: the client is handed the single-layer ``E...`` signature (Anthropic's own
  shape) and what it sends back is used when it is a Claude signature.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth
from tests.fakes.claude import issue_signature, signature_ok

MODEL = "claude-sonnet-4-6"
TOOLS = [{"name": "bash", "description": "run", "input_schema": TOOL_SCHEMA}]


async def start(start_proxy: Any, fakes: Any, tmp_path: Any, extra: str = "") -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{extra}')
    proxy.fakes = fakes
    return proxy


async def messages(proxy: Any, history: list[dict[str, Any]]) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024, "display": "summarized"},
        "tools": TOOLS,
        "messages": history,
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": KEY}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


FIRST = [{"role": "user", "content": "FAKE_TOOL=bash run it"}]


def second(answer: dict[str, Any], signature: str | None = None) -> list[dict[str, Any]]:
    content = [dict(b) for b in answer["content"]]
    if signature is not None:
        content[0]["signature"] = signature
    call = next(b for b in content if b["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call["id"], "content": "ok"}
    return [*FIRST, {"role": "assistant", "content": content}, {"role": "user", "content": [result]}]


def sent_model_turn(fakes: Any) -> list[dict[str, Any]]:
    contents = fakes.gemini.last.json["request"]["contents"]
    return next(c for c in reversed(contents) if c["role"] == "model")["parts"]


def r_form(single: str) -> str:
    return base64.b64encode(single.encode()).decode()


async def test_cache_mode_hands_out_prefixed_signature_and_restores_it(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    proxy = await start(start_proxy, fakes, tmp_path)
    answer = await messages(proxy, FIRST)
    thinking = answer["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"]
    assert thinking["signature"].startswith("claude#R")
    upstream_sig = thinking["signature"].removeprefix("claude#")
    later = await messages(proxy, second(answer))
    parts = sent_model_turn(fakes)
    assert parts[0]["thought"] is True and parts[0]["thoughtSignature"] == upstream_sig
    assert "functionCall" in parts[-1]
    # the client's value is not needed: the cache signs the thinking by its text (the
    # latest signature Antigravity gave for that text: the fake thinks the same words)
    latest = later["content"][0]["signature"].removeprefix("claude#")
    await messages(proxy, second(answer, signature=""))
    assert sent_model_turn(fakes)[0]["thoughtSignature"] == latest


async def test_cache_mode_drops_a_raw_signature_it_did_not_hand_out(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA TestConvertClaudeRequestToAntigravity_CacheModeDropsRawSignature, end to end."""
    proxy = await start(start_proxy, fakes, tmp_path)
    history = [
        *FIRST,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "never cached", "signature": issue_signature(MODEL)},
                {"type": "text", "text": "Answer"},
            ],
        },
        {"role": "user", "content": "again"},
    ]
    await messages(proxy, history)
    parts = sent_model_turn(fakes)
    assert parts == [{"text": "Answer"}]


@pytest.mark.parametrize("strict", [False, True], ids=["basic", "strict"])
async def test_bypass_mode_hands_out_single_layer_and_takes_it_back(
    start_proxy: Any, fakes: Any, tmp_path: Any, strict: bool
) -> None:
    extra = "antigravity-signature-cache-enabled: false\n"
    if strict:
        extra += "antigravity-signature-bypass-strict: true\n"
    proxy = await start(start_proxy, fakes, tmp_path, extra)
    answer = await messages(proxy, FIRST)
    single = answer["content"][0]["signature"]
    assert single.startswith("E") and signature_ok(single)
    await messages(proxy, second(answer))
    assert sent_model_turn(fakes)[0]["thoughtSignature"] == r_form(single)
    # nothing was cached: without the client's value the thinking is not sent
    await messages(proxy, second(answer, signature=""))
    assert not any(p.get("thought") for p in sent_model_turn(fakes))


async def test_bypass_strict_drops_a_signature_without_the_claude_tree(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA TestAntigravityExecutor_StrictBypassStripsInvalidSignature /
    TestValidateBypassMode_NonStrictAccepts12WithoutClaudeTree: a 0x12 payload without
    Claude's protobuf tree passes the basic check only."""
    bare = base64.b64encode(b"\x12" + b"\x01" * 60).decode()
    history = [
        *FIRST,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": bare},
                {"type": "text", "text": "Answer"},
            ],
        },
        {"role": "user", "content": "again"},
    ]
    basic = await start(start_proxy, fakes, tmp_path, "antigravity-signature-cache-enabled: false\n")
    await messages(basic, history)
    assert sent_model_turn(fakes)[0].get("thoughtSignature") == r_form(bare)
    strict = await start(
        start_proxy,
        fakes,
        tmp_path,
        "antigravity-signature-cache-enabled: false\nantigravity-signature-bypass-strict: true\n",
    )
    await messages(strict, history)
    assert sent_model_turn(fakes) == [{"text": "Answer"}]


async def test_gemini_client_tool_loop_keeps_the_claude_signature(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """A Gemini client (Gemini CLI) on a Claude model behind Antigravity: its thought part
    comes back with Antigravity's Claude signature, which reaches Antigravity again in front
    of the call, and the call carries no signature (CPA's Claude-model policy; the Gemini
    one stripped the Claude signature and put the bypass sentinel on the call)."""
    proxy = await start(start_proxy, fakes, tmp_path)
    url = f"{proxy.url}/v1beta/models/{MODEL}:generateContent"
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": "FAKE_TOOL=bash run it"}]}],
        "tools": [{"functionDeclarations": [{"name": "bash", "parameters": TOOL_SCHEMA}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}},
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(url, json=body, headers={"x-goog-api-key": KEY}) as resp:
            assert resp.status == 200, await resp.text()
            first = await resp.json()
        parts = first["candidates"][0]["content"]["parts"]
        thought = next(p for p in parts if p.get("thought"))
        signature = thought["thoughtSignature"]
        call = next(p["functionCall"] for p in parts if "functionCall" in p)
        body["contents"] += [
            {"role": "model", "parts": parts},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": call["name"], "response": {"output": "ok"}}}],
            },
        ]
        async with http.post(url, json=body, headers={"x-goog-api-key": KEY}) as resp:
            assert resp.status == 200, await resp.text()
    sent = sent_model_turn(fakes)
    assert sent[0]["thought"] is True and sent[0]["thoughtSignature"] == signature
    assert signature_ok(base64.b64decode(signature).decode())  # Antigravity's R form of a Claude one
    assert [p for p in sent if "functionCall" in p and "thoughtSignature" in p] == []


async def test_a_wrapped_empty_thinking_is_left_out_not_refused(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA TestConvertClaudeRequestToAntigravity_BypassMode_DropsWrappedRedactedThinking, end to
    end: a thinking block whose ``thinking`` is a caching-scope object, not text, is left out
    and the rest goes (before, the proxy answered 400 "thinking: must be a string")."""
    proxy = await start(start_proxy, fakes, tmp_path, "antigravity-signature-cache-enabled: false\n")
    wrapped = {"type": "thinking", "thinking": {"cache_control": {"type": "ephemeral"}}, "signature": "x"}
    history = [
        *FIRST,
        {"role": "assistant", "content": [wrapped, {"type": "text", "text": "Answer"}]},
        {"role": "user", "content": "again"},
    ]
    await messages(proxy, history)
    assert sent_model_turn(fakes) == [{"text": "Answer"}]
