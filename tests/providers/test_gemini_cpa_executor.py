"""CPA's Gemini and Vertex executor tests (internal/runtime/executor/gemini_executor_test.go,
gemini_executor_signature_test.go, helps/gemini_content_turns_test.go,
helps/vertex_payload_helpers_test.go), ported as requests through a running proxy to the
fake Gemini server, whose recorded body is what the executor would have sent.

The native-Interactions cases of gemini_executor_test.go are in
test_gemini_interactions_cpa_executor.py."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.credentials.record import Credential
from cliproxy.providers.gemini import GeminiProvider, lead_with_user
from cliproxy.translate.signatures import GEMINI_SKIP_VALIDATOR
from tests.e2e.clients import KEY

# CPA's testClaudeCAISSample: a Claude thinking signature (a CAIS protobuf envelope)
CLAUDE_CAIS = (
    "CAISqwIKiAEIEBgCKkBHRlRBsNiptQUWfPoOhuQKwi5LnncZVO9bB5jqOs76D7uBtgktML0zqJtNmLHXHHcgD6lk4MQu4QBXzFd1"
    "lbC3Mg5jbGF1ZGUtZmFibGUtNTgBQgh0aGlua2luZ1okZDk3NDM5NzUtNGJiMC00OTM2LTllMjgtZDViMGQyMWJkYzQ4EgxCGh+XV"
    "FFFeySAjtAaDL/A1LltGu6MMJ+eXSIwsN0oBpDrqLv22UBfkMnTotnIbkvkOyb9xZHgigG6OZVHaI3gThm+maLKmgO5PrFLKlDFYp+Y"
    "Zksy/wKwszJlnLTPzAK+NUlfzagOE1ymtZTXhAYK260XyFYmg/te/C231+Fr/hoX+EJoUBnrn0gD7hqMISOT+TaFEuOXYsN517GfaxgB"
)


def native_gemini3_signature() -> str:
    """CPA's testNativeGemini3ThoughtSignature: field 2 holding field 1 = 01 0c 39 d6 c7 34."""
    inner = bytes([0x0A, 6, 0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34])
    return base64.b64encode(bytes([0x12, len(inner)]) + inner).decode()


CONFIG = """
api-keys: ["{key}"]
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{base}"
    models:
      - {{name: "gemini-3.1-pro-preview", alias: "gemini-3.1-pro-preview"}}
      - {{name: "custom-gemini-model", alias: "custom-gemini-model"}}
      - {{name: "gemini-3.7-flash", alias: "gemini-3.7-flash"}}
      - {{name: "gemini-2.5-flash", alias: "gemini-2.5-flash"}}
      - {{name: "gemini-2.5-flash", alias: "gemini-compat", is-compat: true}}
vertex-api-key:
  - api-key: "vertex-key-1"
    base-url: "{base}"
    models:
      - {{name: "gemini-2.5-flash", alias: "vertex-flash"}}
{extra}
"""


async def _proxy(start_proxy: Any, fakes: Any, extra: str = "") -> Any:
    proxy = await start_proxy(CONFIG.format(key=KEY, base=fakes.gemini.base_url, extra=extra))
    proxy.fakes = fakes
    return proxy


@pytest.fixture
async def proxy(start_proxy, fakes):
    return await _proxy(start_proxy, fakes)


async def post(base: str, path: str, body: dict[str, Any]) -> bytes:
    headers = {"x-goog-api-key": KEY, "x-api-key": KEY, "Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.post(base + path, json=body, headers=headers) as resp,
    ):
        data = await resp.read()
        assert resp.status == 200, data
        return data


def gemini_path(model: str, action: str = "generateContent") -> str:
    suffix = "?alt=sse" if action == "streamGenerateContent" else ""
    return f"/v1beta/models/{model}:{action}{suffix}"


def sdk(base: str) -> genai.Client:
    options = gtypes.HttpOptions(base_url=base, api_version="v1beta", timeout=15_000)
    return genai.Client(api_key=KEY, http_options=options)


# ---------------------------------------------------------------- maxOutputTokens


async def test_caps_max_output_tokens_to_the_models_output_limit(proxy) -> None:
    """TestCapGeminiMaxOutputTokensUsesOutputTokenLimit, TestGeminiExecutorExecuteCaps-
    MaxOutputTokensBeforeUpstream: gemini-3.1-pro-preview answers at most 65,536 tokens, so a
    client's 500,000 goes up as 65,536 and the rest of the config stays."""
    client = sdk(proxy.url)
    try:
        config = gtypes.GenerateContentConfig(max_output_tokens=500_000, temperature=0.2)
        answer = await client.aio.models.generate_content(
            model="gemini-3.1-pro-preview", contents="hi", config=config
        )
    finally:
        await client.aio.aclose()
    assert answer.text
    sent = proxy.fakes.gemini.last.json["generationConfig"]
    assert sent["maxOutputTokens"] == 65536 and sent["temperature"] == 0.2


@pytest.mark.parametrize(
    ("model", "asked"), [("gemini-3.1-pro-preview", 64000), ("custom-gemini-model", 500_000)]
)
async def test_leaves_an_allowed_or_unknown_max_output_tokens(proxy, model: str, asked: int) -> None:
    """TestCapGeminiMaxOutputTokensLeavesAllowedOrUnknown: a value within the limit, or a
    model the catalog does not know, goes up as asked."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": asked},
    }
    await post(proxy.url, gemini_path(model), body)
    assert proxy.fakes.gemini.last.json["generationConfig"]["maxOutputTokens"] == asked


async def test_stream_caps_max_output_tokens(proxy) -> None:
    """CPA caps in ExecuteStream as in Execute."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 500_000},
    }
    await post(proxy.url, gemini_path("gemini-3.1-pro-preview", "streamGenerateContent"), body)
    assert proxy.fakes.gemini.last.json["generationConfig"]["maxOutputTokens"] == 65536


def test_provider_caps_only_with_a_known_limit() -> None:
    """capGeminiMaxOutputTokens: no limit known (0), no number, or within: left alone; the
    config is replaced, not edited, so the client's body is untouched."""
    provider = GeminiProvider()
    provider.output_limit = lambda model: 65536 if model == "gemini-3.1-pro-preview" else 0
    cred = Credential(id="g", provider="gemini", api_key="k")

    def sent(model: str, config: dict[str, Any]) -> Any:
        body = {"contents": [], "generationConfig": config}
        up = provider.build(cred, body, model=model, stream=False, client_headers={})
        return orjson.loads(up.body)["generationConfig"]

    given = {"maxOutputTokens": 500_000}
    assert sent("gemini-3.1-pro-preview", given) == {"maxOutputTokens": 65536}
    assert given == {"maxOutputTokens": 500_000}
    assert sent("gemini-3.1-pro-preview", {"maxOutputTokens": "many"}) == {"maxOutputTokens": "many"}
    assert sent("other", {"maxOutputTokens": 500_000}) == {"maxOutputTokens": 500_000}


# ---------------------------------------------------------------- leading user turn

CALL_FIRST = [
    {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"key": "value"}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "ok"}}}]},
]


async def test_prepends_an_empty_user_turn_to_a_model_first_history(proxy) -> None:
    """TestGeminiExecutorExecutePrependsLeadingUser."""
    await post(proxy.url, gemini_path("gemini-3.7-flash"), {"contents": CALL_FIRST})
    contents = proxy.fakes.gemini.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][0]["text"] == ""


def issue4959_input() -> list[dict[str, Any]]:
    """CPA's issue4959ResponsesModelFirstPayload: a function-call reasoning carrier, the call
    and its output, then two assistant messages."""
    sig = base64.b64encode(b"EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA")
    carrier = "cpa-gemini-responses-carrier-v1:next:function:" + sig.decode().rstrip("=")
    return [
        {
            "type": "reasoning",
            "id": "rs_resp_test_detached_before_0",
            "summary": [],
            "encrypted_content": carrier,
        },
        {
            "type": "function_call",
            "call_id": "call_bash_1",
            "name": "Bash",
            "arguments": '{"command":"true"}',
        },
        {"type": "function_call_output", "call_id": "call_bash_1", "output": "ok"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "second"}]},
    ]


def assert_issue4959_contents(contents: list[dict[str, Any]]) -> None:
    """CPA's assertIssue4959LeadingUserContents."""
    assert contents[0] == {"role": "user", "parts": [{"text": ""}]}
    assert contents[1]["role"] == "model"
    assert any(p.get("functionCall", {}).get("name") == "Bash" for p in contents[1]["parts"])
    assert any(p.get("functionResponse", {}).get("name") == "Bash" for p in contents[2]["parts"])


async def test_responses_history_that_opens_with_a_call_gets_a_leading_user(proxy) -> None:
    """TestGeminiExecutorExecutePrependsLeadingUserForIssue4959ResponsesHistory."""
    await post(proxy.url, "/v1/responses", {"model": "gemini-3.7-flash", "input": issue4959_input()})
    assert_issue4959_contents(proxy.fakes.gemini.last.json["contents"])


async def test_count_tokens_prepends_a_leading_user(proxy) -> None:
    """TestGeminiExecutorCountTokensPrependsLeadingUser: countTokens gets the same turn in
    front, the model's text kept."""
    body = {"contents": [{"role": "model", "parts": [{"text": "prior output"}]}]}
    await post(proxy.url, gemini_path("gemini-3.7-flash", "countTokens"), body)
    rec = proxy.fakes.gemini.last
    assert rec.path.endswith(":countTokens")
    assert rec.json["contents"] == [
        {"role": "user", "parts": [{"text": ""}]},
        {"role": "model", "parts": [{"text": "prior output"}]},
    ]


async def test_payload_rules_apply_before_the_leading_user_turn(start_proxy, fakes) -> None:
    """TestGeminiExecutorAppliesPayloadRulesBeforeLeadingUserNormalization: a rule's
    ``contents.0`` is the client's first turn (the model's), not the empty user turn put in
    front afterwards."""
    extra = """
payload:
  override:
    - models: [{name: "gemini-3.7-flash", protocol: "gemini"}]
      params: {"contents.0.parts.0.text": "payload override"}
"""
    proxy = await _proxy(start_proxy, fakes, extra)
    body = {
        "contents": [
            {"role": "model", "parts": [{"text": "prior output"}]},
            {"role": "user", "parts": [{"text": "continue"}]},
        ]
    }
    await post(proxy.url, gemini_path("gemini-3.7-flash"), body)
    contents = fakes.gemini.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][0]["text"] == ""
    assert contents[1]["parts"][0]["text"] == "payload override"


@pytest.mark.parametrize(
    ("history", "want"),
    [
        ([{"role": "user", "parts": [{"text": "hello"}]}], ["user"]),
        (CALL_FIRST, ["user", "model", "user"]),
        (
            [
                {"role": "model", "parts": [{"text": "answer"}]},
                {"role": "user", "parts": [{"text": "continue"}]},
            ],
            ["user", "model", "user"],
        ),
        ([], []),
        (None, None),
    ],
    ids=["user-first", "model-call-first", "model-text-first", "empty", "missing"],
)
def test_ensure_leading_user_content(history: Any, want: Any) -> None:
    """TestEnsureGeminiLeadingUserContent (its nested ``request.contents`` case is
    Antigravity's envelope, tests/providers/test_google_body_policies.py)."""
    body: dict[str, Any] = {"model": "test"} if history is None else {"contents": history}
    lead_with_user(body)
    roles = [c["role"] for c in body["contents"]] if "contents" in body else None
    assert roles == want
    if want and history and history[0]["role"] == "model":
        assert body["contents"][0]["parts"] == [{"text": ""}]
        assert body["contents"][1:] == history


def test_ensure_leading_user_content_reuses_a_valid_body() -> None:
    """TestEnsureGeminiLeadingUserContentReusesLargeValidPayload: a history that already
    starts with the user is left as it is, not copied (here: the same list object)."""
    contents = [
        {"role": "user", "parts": [{"inlineData": {"mimeType": "video/mp4", "data": "A" * (4 << 20)}}]}
    ]
    body = {"contents": contents}
    lead_with_user(body)
    assert body["contents"] is contents


# ---------------------------------------------------------------- Interactions client, Gemini key


async def test_interactions_client_on_a_gemini_key_uses_generate_content(proxy) -> None:
    """TestGeminiExecutorInteractionsWithGeminiAPIKeyUsesGeminiEndpoint: translated to a
    Gemini body for ``:generateContent``, no ``Api-Revision`` and no ``input`` sent."""
    await post(proxy.url, "/v1beta/interactions", {"model": "gemini-2.5-flash", "input": "hi"})
    rec = proxy.fakes.gemini.last
    assert rec.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert "Api-Revision" not in rec.headers
    assert rec.json["contents"][0]["parts"][0]["text"] == "hi" and "input" not in rec.json


# ---------------------------------------------------------------- empty API key


def test_empty_api_key_sends_no_auth_header() -> None:
    """TestGeminiExecutor_PrepareRequest_EmptyAPIKey_OmitsAuthHeaders: a Gemini credential
    without a key (a custom base URL authenticated by its own header) sends neither
    ``x-goog-api-key`` nor ``Authorization``; its configured header goes."""
    cred = Credential(
        id="g",
        provider="gemini",
        api_key="",
        base_url="https://custom-gemini.example.com",
        headers={"Custom-Token": "gemini-secret"},
    )
    client = {"Authorization": "Bearer preexisting-bearer", "x-goog-api-key": "preexisting-key"}
    up = GeminiProvider().build(cred, {"contents": []}, model="m", stream=False, client_headers=client)
    names = {k.lower() for k in up.headers}
    assert "x-goog-api-key" not in names and "authorization" not in names
    assert up.headers["Custom-Token"] == "gemini-secret"
    bare = Credential(id="h", provider="gemini", api_key="")
    up = GeminiProvider().build(bare, {"contents": []}, model="m", stream=False, client_headers=client)
    assert "x-goog-api-key" not in {k.lower() for k in up.headers}


# ---------------------------------------------------------------- thought signatures


def claude_thinking_body(sig: str, model: str) -> dict[str, Any]:
    """CPA's claudeRequestWithThinkingSignature: an assistant turn whose thinking block
    carries ``sig``, then a user question."""
    return {
        "model": model,
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "First question."},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Let me think...", "signature": sig},
                    {"type": "text", "text": "Here is the response."},
                ],
            },
            {"role": "user", "content": [{"type": "text", "text": "Follow up question."}]},
        ],
    }


def model_signatures(body: dict[str, Any]) -> list[str]:
    return [
        p["thoughtSignature"]
        for c in body.get("contents", [])
        if c.get("role") == "model"
        for p in c.get("parts", [])
        if "thoughtSignature" in p
    ]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-compat"])
@pytest.mark.parametrize("kind", ["whole", "stream", "count"])
async def test_claude_signature_never_reaches_gemini(proxy, kind: str, model: str) -> None:
    """TestGeminiExecutorExecute_SanitizesClaudeCAISSignature, …ExecuteStream_…,
    …CountTokens_…: a Claude client's thinking signature (is-compat model or not) does not
    go to Gemini, whole, streamed or counted.
    CPA: TestGeminiExecutorExecuteStream_SanitizesClaudeCAISSignature, TestGeminiExecutorCountTokens_SanitizesClaudeCAISSignature"""
    body = claude_thinking_body(CLAUDE_CAIS, model)
    if kind == "count":
        await post(proxy.url, "/v1/messages/count_tokens", body)
    else:
        await post(proxy.url, "/v1/messages", {**body, "stream": kind == "stream"})
    rec = proxy.fakes.gemini.last
    assert CLAUDE_CAIS.encode() not in rec.body
    assert CLAUDE_CAIS not in model_signatures(rec.json)


def call_turns(sig: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "parts": [{"text": "search for go"}]},
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "search", "args": {"q": "go"}}, "thoughtSignature": sig}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "search", "response": {"result": "found"}}}],
        },
    ]


async def test_claude_signature_on_a_function_call_becomes_the_bypass(proxy) -> None:
    """TestGeminiExecutorExecute_FunctionCall_ReplacesClaudeSignatureWithBypass: a Gemini
    client's call signed by Claude goes with Gemini's skip-validator signature. (CPA's body
    starts with the model turn, which its leading empty user turn moves to index 1; this one
    starts with the user's question so the call is at index 1 without it.)"""
    await post(proxy.url, gemini_path("gemini-2.5-flash"), {"contents": call_turns(CLAUDE_CAIS)})
    sent = proxy.fakes.gemini.last.json["contents"]
    assert sent[1]["parts"][0]["thoughtSignature"] == GEMINI_SKIP_VALIDATOR


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "vertex-flash"])
async def test_native_gemini_signature_is_kept(proxy, model: str) -> None:
    """TestGeminiExecutorExecute_PreservesNativeGeminiSignature,
    TestGeminiVertexExecutorExecute_PreservesNativeGeminiSignature."""
    sig = native_gemini3_signature()
    await post(proxy.url, gemini_path(model), {"contents": call_turns(sig)})
    assert proxy.fakes.gemini.last.json["contents"][1]["parts"][0]["thoughtSignature"] == sig


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "vertex-flash"])
async def test_unsigned_request_is_not_corrupted(proxy, model: str) -> None:
    """TestGeminiExecutorExecute_UnsignedRequestNotCorrupted,
    TestGeminiVertexExecutorExecute_UnsignedRequestNotCorrupted."""
    body = {"contents": [{"role": "user", "parts": [{"text": "Hello world"}]}]}
    await post(proxy.url, gemini_path(model), body)
    assert proxy.fakes.gemini.last.json["contents"] == body["contents"]


@pytest.mark.parametrize("kind", ["whole", "stream", "count"])
async def test_vertex_drops_a_claude_signature_from_a_gemini_body(proxy, kind: str) -> None:
    """TestGeminiVertexExecutorExecute_GeminiPayload_SanitizesClaudeCAISSignature,
    …ExecuteStream_…, …CountTokens_…: a Gemini client's thought part signed by Claude.
    CPA: TestGeminiVertexExecutorExecuteStream_GeminiPayload_SanitizesClaudeCAISSignature,
    TestGeminiVertexExecutorCountTokens_GeminiPayload_SanitizesClaudeCAISSignature"""
    contents = [
        {"role": "user", "parts": [{"text": "First question."}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me think...", "thought": True, "thoughtSignature": CLAUDE_CAIS},
                {"text": "Here is the response."},
            ],
        },
        {"role": "user", "parts": [{"text": "Follow up question."}]},
    ]
    action = {"whole": "generateContent", "stream": "streamGenerateContent", "count": "countTokens"}[kind]
    await post(proxy.url, gemini_path("vertex-flash", action), {"contents": contents})
    rec = proxy.fakes.gemini.last
    assert "/publishers/google/models/gemini-2.5-flash:" in rec.path
    assert CLAUDE_CAIS.encode() not in rec.body


# ---------------------------------------------------------------- Vertex: Responses call ids


async def test_vertex_gets_no_call_ids_from_a_responses_client(proxy) -> None:
    """TestStripVertexToolCallIDsRebuildsContentsOnce: Vertex refuses ``functionCall.id`` /
    ``functionResponse.id``; a Responses client's call ids are not written to the Gemini
    body (our translator writes ids only for Antigravity), while a nested ``id`` in the
    result and a large integer in the arguments go as they came."""
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look it up"}]},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"id":9007199254740993}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"id":"keep"}'},
    ]
    await post(proxy.url, "/v1/responses", {"model": "vertex-flash", "input": items})
    rec = proxy.fakes.gemini.last
    parts = [p for c in rec.json["contents"] for p in c["parts"]]
    call = next(p["functionCall"] for p in parts if "functionCall" in p)
    result = next(p["functionResponse"] for p in parts if "functionResponse" in p)
    assert "id" not in call and "id" not in result
    assert b"9007199254740993" in rec.body
    assert b"keep" in rec.body
