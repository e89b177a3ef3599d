"""CPA's Antigravity executor signature and history cases
(internal/runtime/executor/antigravity_executor_signature_test.go), ported as requests through
a running proxy: each client sends its own body, and the test reads the envelope the fake
Cloud Code server (tests/fakes/gemini.py) received.

The unit-level halves live beside: the leading user turn in test_google_body_policies.py,
the tool-result turns in test_antigravity_turns.py, the signature modes in
tests/translate/cpa/test_antigravity_signatures.py.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from cliproxy.translate.carriers import claude_carrier
from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import antigravity_auth

BYPASS = "skip_thought_signature_validator"
GEMINI = "gemini-3.6-flash-high"
CLAUDE = "claude-sonnet-4-6"


def native_signature() -> str:
    """CPA's protowire-built Gemini signature: field 2 holding field 1 of six bytes."""
    inner = bytes([0x0A, 6, 0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34])
    return base64.b64encode(bytes([0x12, len(inner)]) + inner).decode()


def fake_claude_signature() -> str:
    """CPA's testFakeClaudeSignature: an ``E`` signature whose protobuf is broken."""
    return base64.b64encode(bytes([0x12, 0xFF, 0xFE, 0xFD])).decode()


@pytest.fixture
async def proxy(start_proxy: Any, fake_gemini: Any, tmp_path: Any) -> Any:
    return await started(start_proxy, fake_gemini, tmp_path)


async def started(start_proxy: Any, fake_gemini: Any, tmp_path: Any, extra: str = "") -> Any:
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{extra}')
    proxy.fake = fake_gemini
    return proxy


async def send(proxy: Any, path: str, body: dict[str, Any], *, status: int = 200) -> dict[str, Any]:
    """``body`` to the proxy (read to its end); the envelope Cloud Code received."""
    headers = {"Authorization": f"Bearer {KEY}", "x-goog-api-key": KEY, "anthropic-version": "2023-06-01"}
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(proxy.url + path, json=body, headers=headers) as resp,
    ):
        text = await resp.text()
        assert resp.status == status, text
    return proxy.fake.last.json


def roles(envelope: dict[str, Any]) -> list[str]:
    return [c["role"] for c in envelope["request"]["contents"]]


def named(content: dict[str, Any], kind: str, name: str) -> bool:
    return any(part.get(kind, {}).get("name") == name for part in content["parts"])


# ---------------------------------------------------------------- parallel call signatures


@pytest.mark.parametrize(
    ("first", "second", "want"),
    [(None, None, BYPASS), (native_signature(), BYPASS, native_signature())],
    ids=["synthetic", "native"],
)
async def test_parallel_calls_only_the_first_is_signed(
    proxy: Any, first: str | None, second: str | None, want: str
) -> None:
    """TestSanitizeAntigravityGeminiRequestSignaturesFinalizesParallelCalls: of two parallel
    calls only the first carries a signature (the client's native one, else the validator
    skip), the second none, and the results' turn goes as ``model``.
    CPA: TestConvertGeminiRequestToAntigravity_AddSkipSentinelToFunctionCall,
    TestConvertGeminiRequestToAntigravity_ParallelFunctionCallsOnlyFirstGetsSentinel."""
    calls: list[dict[str, Any]] = [
        {"functionCall": {"name": "first", "args": {}}},
        {"functionCall": {"name": "second", "args": {}}},
    ]
    for part, sig in zip(calls, (first, second), strict=True):
        if sig is not None:
            part["thoughtSignature"] = sig
    results = [{"functionResponse": {"name": n, "response": {"result": "ok"}}} for n in ("first", "second")]
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": calls},
            {"role": "user", "parts": results},
        ]
    }
    sent = await send(proxy, "/v1beta/models/gemini-3.5-flash-low:generateContent", body)
    contents = sent["request"]["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == want
    assert "thoughtSignature" not in contents[1]["parts"][1]
    assert contents[2]["role"] == "model"


# ---------------------------------------------------------------- sensitive words


async def test_sensitive_words_only_in_the_system_instruction(
    start_proxy: Any, fake_gemini: Any, tmp_path: Any
) -> None:
    """TestAntigravitySensitiveWordsObfuscatesSystemInstructionOnly, from a Gemini client."""
    words = 'antigravity:\n  sensitive-words: ["proxy"]\n'
    proxy = await started(start_proxy, fake_gemini, tmp_path, words)
    body = {
        "systemInstruction": {"parts": [{"text": "Use proxy safely"}]},
        "contents": [{"role": "user", "parts": [{"text": "proxy remains unchanged"}]}],
    }
    sent = await send(proxy, f"/v1beta/models/{GEMINI}:generateContent", body)
    assert sent["request"]["systemInstruction"]["parts"][0]["text"] == "Use p\u200broxy safely"
    assert sent["request"]["contents"][0]["parts"][0]["text"] == "proxy remains unchanged"


async def test_a_responses_stream_obfuscates_its_instructions(
    start_proxy: Any, fake_gemini: Any, tmp_path: Any
) -> None:
    """TestAntigravityStreamObfuscatesSensitiveSystemInstruction: a Responses client's
    ``instructions``, streamed, with two words (one of two words)."""
    words = 'antigravity:\n  sensitive-words: ["Hermes", "Nous Research"]\n'
    proxy = await started(start_proxy, fake_gemini, tmp_path, words)
    body = {
        "model": GEMINI,
        "stream": True,
        "instructions": "You are Hermes Agent, an intelligent AI assistant created by Nous Research.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
    }
    sent = await send(proxy, "/v1/responses", body)
    want = "You are H\u200bermes Agent, an intelligent AI assistant created by N\u200bous Research."
    assert sent["request"]["systemInstruction"]["parts"][0]["text"] == want


# ---------------------------------------------------------------- a leading user turn

LEADING_CALL = {
    "gemini": (
        f"/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse",
        {
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"name": "run", "args": {}}}]},
                {
                    "role": "user",
                    "parts": [{"functionResponse": {"name": "run", "response": {"result": "ok"}}}],
                },
            ]
        },
    ),
    "chat": (
        "/v1/chat/completions",
        {
            "model": GEMINI,
            "stream": True,
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call-1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call-1", "content": "ok"},
            ],
        },
    ),
    "responses": (
        "/v1/responses",
        {
            "model": GEMINI,
            "stream": True,
            "input": [
                {"type": "function_call", "call_id": "call-1", "name": "run", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call-1", "output": "ok"},
            ],
        },
    ),
    "claude": (
        "/v1/messages",
        {
            "model": GEMINI,
            "max_tokens": 256,
            "stream": True,
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "run-call-1", "name": "run", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "run-call-1", "content": "ok"}],
                },
            ],
        },
    ),
}


@pytest.mark.parametrize("client", sorted(LEADING_CALL))
async def test_a_call_first_history_gets_an_empty_user_turn(proxy: Any, client: str) -> None:
    """TestAntigravityStreamPrependsLeadingUserForGemini, one case per client format: the
    history the client sent (a call, then its result) follows an empty user turn."""
    path, body = LEADING_CALL[client]
    contents = (await send(proxy, path, body))["request"]["contents"]
    assert len(contents) == 3 and contents[0] == {"role": "user", "parts": [{"text": ""}]}
    assert "functionCall" in contents[1]["parts"][0]
    assert "functionResponse" in contents[2]["parts"][0]


async def test_issue_4959_responses_history_gets_an_empty_user_turn(proxy: Any) -> None:
    """TestAntigravityStreamPrependsLeadingUserForIssue4959ResponsesHistory: a reasoning
    carrier naming the next call, the call, its output and two assistant messages."""
    signature = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
    carrier = "cpa-gemini-responses-carrier-v1:next:function:" + base64.b64encode(
        signature.encode()
    ).decode().rstrip("=")
    body = {
        "model": "gemini-3.7-flash-high",
        "stream": True,
        "input": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": carrier},
            {
                "type": "function_call",
                "call_id": "call_bash_1",
                "name": "Bash",
                "arguments": '{"command":"true"}',
            },
            {"type": "function_call_output", "call_id": "call_bash_1", "output": "ok"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "first"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "second"}]},
        ],
    }
    contents = (await send(proxy, "/v1/responses", body))["request"]["contents"]
    assert contents[0] == {"role": "user", "parts": [{"text": ""}]}
    assert contents[1]["role"] == "model" and named(contents[1], "functionCall", "Bash")
    assert named(contents[2], "functionResponse", "Bash")


@pytest.mark.parametrize("client", ["gemini", "responses"])
async def test_a_claude_model_keeps_a_model_first_history(proxy: Any, client: str) -> None:
    """TestAntigravityStreamDoesNotPrependLeadingUserForClaudeTarget."""
    if client == "gemini":
        path = f"/v1beta/models/{CLAUDE}:streamGenerateContent?alt=sse"
        body: dict[str, Any] = {
            "contents": [
                {"role": "model", "parts": [{"text": "prior answer"}]},
                {"role": "user", "parts": [{"text": "continue"}]},
            ]
        }
    else:
        path = "/v1/responses"
        body = {
            "model": CLAUDE,
            "stream": True,
            "input": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "prior answer"}],
                },
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "continue"}]},
            ],
        }
    sent = await send(proxy, path, body)
    assert roles(sent) == ["model", "user"]
    assert sent["request"]["contents"][0]["parts"][0]["text"] == "prior answer"


# ---------------------------------------------------------------- count tokens


@pytest.mark.parametrize(
    ("model", "want"), [(GEMINI, ["user", "model", "user"]), (CLAUDE, ["model", "user"])]
)
async def test_count_tokens_follows_the_targets_leading_user_policy(
    proxy: Any, model: str, want: list[str]
) -> None:
    """TestAntigravityCountTokensMatchesTargetLeadingUserPolicy, from a Gemini client."""
    body = {
        "contents": [
            {"role": "model", "parts": [{"text": "prior output"}]},
            {"role": "user", "parts": [{"text": "continue"}]},
        ]
    }
    sent = await send(proxy, f"/v1beta/models/{model}:countTokens", body)
    assert proxy.fake.last.path.endswith(":countTokens")
    assert roles(sent) == want
    if want[0] == "user":
        assert sent["request"]["contents"][0]["parts"] == [{"text": ""}]


async def test_count_tokens_sends_a_valid_tool_history(proxy: Any) -> None:
    """TestAntigravityExecutorCountTokensSanitizesGeminiToolHistory: a Claude client's
    parallel calls (the first natively signed, the second with the validator skip) and
    their results in the other order are counted as they would be sent: the first call
    keeps its signature, the sibling's skip goes, the results turn is ``model`` in the
    calls' order."""
    sig = native_signature()
    body = {
        "model": GEMINI,
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call-1",
                        "name": "read",
                        "input": {"file": "one"},
                        "signature": sig,
                    },
                    {
                        "type": "tool_use",
                        "id": "call-2",
                        "name": "read",
                        "input": {"file": "two"},
                        "signature": BYPASS,
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call-2", "content": "two"},
                    {"type": "tool_result", "tool_use_id": "call-1", "content": "one"},
                ],
            },
        ],
    }
    sent = await send(proxy, "/v1/messages/count_tokens", body)
    contents = sent["request"]["contents"]
    assert roles(sent) == ["user", "model", "model"]
    assert contents[1]["parts"][0]["thoughtSignature"] == sig
    assert "thoughtSignature" not in contents[1]["parts"][1]
    assert [p["functionResponse"]["id"] for p in contents[2]["parts"]] == ["call-1", "call-2"]


# ---------------------------------------------------------------- Claude client signatures


async def test_a_gemini_model_keeps_the_valid_gemini_carrier(proxy: Any) -> None:
    """TestAntigravityExecutor_GeminiTargetPreservesGeminiThinkingCarrier: of two empty
    thinking blocks after a Claude client's text, the one with a Gemini signature reaches
    Cloud Code (on the text it signs) and the invalid one does not. The carrier is marked
    as the proxy hands it out: a raw Gemini signature in a thinking block is not read, a
    deliberate difference (tests/translate/cpa/test_gemini_claude_carriers.py)."""
    sig = native_signature()
    body = {
        "model": GEMINI,
        "max_tokens": 256,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "answer"},
                    {"type": "thinking", "thinking": "", "signature": claude_carrier(sig, "previous:text")},
                    {"type": "thinking", "thinking": "", "signature": "invalid"},
                ],
            },
            {"role": "user", "content": "again"},
        ],
    }
    sent = await send(proxy, "/v1/messages", body)
    assert sent["request"]["contents"][1]["parts"] == [{"text": "answer", "thoughtSignature": sig}]
    assert "invalid" not in str(sent)


async def test_a_signature_on_the_tool_use_itself_reaches_its_call(proxy: Any) -> None:
    """TestConvertClaudeRequestToAntigravity_DirectToolSignatureWinsOverLeadingCarrier and
    _PreservesCarrierBetweenDirectlySignedParallelTools: a Gemini signature a Claude client
    keeps on the tool_use block (``signature``, ``thought_signature`` or
    ``extra_content.google.thought_signature``, CPA's paths) signs that call; a carrier before
    it keeps a part of its own. Before, it was not read and the call got the validator skip."""
    sig = native_signature()
    other = other_signature(sig)
    third = other_signature(sig, 2)
    lead = {"type": "thinking", "thinking": "", "signature": claude_carrier(sig, "next:any")}
    calls = [
        {"type": "tool_use", "id": "tool-1", "name": "run", "input": {"n": 1}, "signature": other},
        {"type": "tool_use", "id": "tool-2", "name": "run", "input": {"n": 2}, "thought_signature": "junk"},
        {
            "type": "tool_use",
            "id": "tool-3",
            "name": "run",
            "input": {"n": 3},
            "extra_content": {"google": {"thought_signature": third}},
        },
    ]
    results = [{"type": "tool_result", "tool_use_id": f"tool-{n}", "content": "ok"} for n in (1, 2, 3)]
    body = {
        "model": GEMINI,
        "max_tokens": 256,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [lead, *calls]},
            {"role": "user", "content": results},
        ],
    }
    parts = (await send(proxy, "/v1/messages", body))["request"]["contents"][1]["parts"]
    assert parts[0] == {"text": "", "thoughtSignature": sig}
    assert [p["functionCall"]["id"] for p in parts[1:]] == ["tool-1", "tool-2", "tool-3"]
    assert [p.get("thoughtSignature") for p in parts[1:]] == [other, None, third]


def other_signature(sig: str, flip: int = 1) -> str:
    """CPA's differentClaudeGeminiSignature: the last byte's low bit(s) flipped."""
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= flip
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    "mode",
    [
        "antigravity-signature-cache-enabled: false\nantigravity-signature-bypass-strict: false\n",
        "antigravity-signature-cache-enabled: true\n",
        "antigravity-signature-cache-enabled: false\nantigravity-signature-bypass-strict: true\n",
    ],
    ids=["bypass", "cache", "strict-bypass"],
)
async def test_an_invalid_claude_signature_is_never_refused(
    start_proxy: Any, fake_gemini: Any, tmp_path: Any, mode: str
) -> None:
    """TestAntigravityExecutor_NonStrictBypassSkipsPrecheck,
    TestAntigravityExecutor_CacheModeSkipsPrecheck and
    TestAntigravityExecutor_StrictBypassStripsInvalidSignature: a thinking block whose Claude signature has a
    broken protobuf is no reason to refuse the request in any mode. Strict bypass and cache
    mode (a raw value is not trusted) leave the block out; plain bypass checks only the
    ``E`` + 0x12 shape, so the block goes, as CPA's lightweight check lets it.
    CPA: TestAntigravityExecutor_StrictBypassLogsStrippedInvalidSignature: the strip is the
    strict-bypass case here; the debug line CPA writes with the count is not written
    (deliberate: the replies already show what went, and no signature can reach a log)."""
    proxy = await started(start_proxy, fake_gemini, tmp_path, mode)
    body = {
        "model": "claude-opus-4-6-thinking",
        "max_tokens": 256,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "bad", "signature": fake_claude_signature()},
                    {"type": "text", "text": "hello"},
                ],
            },
            {"role": "user", "content": "again"},
        ],
    }
    sent = await send(proxy, "/v1/messages", body)
    model_turn = sent["request"]["contents"][1]
    assert model_turn["role"] == "model"
    texts = [p.get("text") for p in model_turn["parts"]]
    assert texts == (["bad", "hello"] if mode.endswith("strict: false\n") else ["hello"])
