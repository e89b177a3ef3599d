"""CPA's Gemini-to-Antigravity request cases
(internal/translator/antigravity/gemini/antigravity_gemini_request_test.go) that the
translator tests here did not yet carry: a Gemini REST body sent through a running proxy to
an Antigravity credential, read back from the envelope the fake Cloud Code server
(tests/fakes/gemini.py) received.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.providers.test_antigravity_cpa_signature import BYPASS, send, started

PATH = "/v1beta/models/gemini-3.5-flash-low:generateContent"
# a client's own signature: base64-looking, but no Gemini protobuf behind it
FOREIGN = "abc123validSignature1234567890123456789012345678901234567890"


@pytest.fixture
async def proxy(start_proxy: Any, fake_gemini: Any, tmp_path: Any) -> Any:
    return await started(start_proxy, fake_gemini, tmp_path)


def history(*model_parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": list(model_parts)},
            {"role": "user", "parts": [{"text": "continue"}]},
        ]
    }


async def test_a_foreign_signature_on_a_call_becomes_the_validator_skip(proxy: Any) -> None:
    """CPA: TestConvertGeminiRequestToAntigravity_ReplacesClientSignatureOnFunctionCall. A
    client's signature on a functionCall that is no Gemini signature is not portable:
    the call goes with the validator skip instead."""
    call = {"functionCall": {"name": "test_tool", "args": {}}, "thoughtSignature": FOREIGN}
    body = history(call)
    body["contents"].insert(
        2, {"role": "user", "parts": [{"functionResponse": {"name": "test_tool", "response": {}}}]}
    )
    sent = await send(proxy, PATH, body)
    parts = sent["request"]["contents"][1]["parts"]
    assert len(parts) == 1
    assert parts[0]["thoughtSignature"] == BYPASS


async def test_a_foreign_signature_on_text_is_dropped(proxy: Any) -> None:
    """CPA: TestConvertGeminiRequestToAntigravity_DropsIncompatibleClientSignatureOnTextPart."""
    sent = await send(proxy, PATH, history({"text": "previous answer", "thoughtSignature": FOREIGN}))
    part = sent["request"]["contents"][1]["parts"][0]
    assert part["text"] == "previous answer"
    assert "thoughtSignature" not in part


async def test_an_unsigned_thought_stays_unsigned(proxy: Any) -> None:
    """CPA: TestConvertGeminiRequestToAntigravity_LeavesUnsignedThoughtPartUnsigned."""
    sent = await send(
        proxy, PATH, history({"text": "internal reasoning", "thought": True}, {"text": "answer"})
    )
    for part in sent["request"]["contents"][1]["parts"]:
        assert "thoughtSignature" not in part


def _call(name: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": {}}}


def _result(name: str, result: str) -> dict[str, Any]:
    return {"functionResponse": {"name": name, "response": {"result": result}}}


# (model turns' call names, response turns' response names, the names that must arrive)
_NAMES = [
    pytest.param(
        [["Bash"]], [[""]], [["Bash"]], id="TestFixCLIToolResponse_BackfillsEmptyFunctionResponseName"
    ),
    pytest.param(
        [["Read", "Grep"]],
        [["", ""]],
        [["Read", "Grep"]],
        id="TestFixCLIToolResponse_BackfillsMultipleEmptyNames",
    ),
    pytest.param([["Bash"]], [["Bash"]], [["Bash"]], id="TestFixCLIToolResponse_PreservesExistingName"),
    pytest.param(
        [["Read"], ["Grep"]],
        [[""], [""]],
        [["Read"], ["Grep"]],
        id="TestFixCLIToolResponse_MultipleGroupsFIFO",
    ),
]


@pytest.mark.parametrize(("calls", "responses", "want"), _NAMES)
async def test_nameless_responses_take_their_calls_names(
    proxy: Any, calls: list[list[str]], responses: list[list[str]], want: list[list[str]]
) -> None:
    """CPA: TestFixCLIToolResponse_BackfillsEmptyFunctionResponseName,
    TestFixCLIToolResponse_BackfillsMultipleEmptyNames, TestFixCLIToolResponse_PreservesExistingName,
    TestFixCLIToolResponse_MultipleGroupsFIFO. A functionResponse with an empty name takes
    the name of the call it answers (the n-th response the n-th call of the turn before);
    a name the client gave stays."""
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "go"}]}]
    for names, answered in zip(calls, responses, strict=True):
        contents.append({"role": "model", "parts": [_call(n) for n in names]})
        contents.append({"role": "user", "parts": [_result(n, "ok") for n in answered]})
    sent = await send(proxy, PATH, {"contents": contents})
    got = [
        [p["functionResponse"]["name"] for p in c["parts"]]
        for c in sent["request"]["contents"]
        if any("functionResponse" in p for p in c["parts"])
    ]
    assert got == want


async def test_more_responses_than_calls(proxy: Any) -> None:
    """CPA: TestFixCLIToolResponse_MoreResponsesThanCalls. Deliberate difference: CPA's
    translator names the first response after the call and silently drops the one no call
    asked for, so its pairing check then passes; here nothing of the client's history is
    dropped unseen, and the pairing check answers a clear 400 in Gemini's error format
    naming the turn (the upstream is not asked)."""
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [_call("Bash")]},
            {"role": "user", "parts": [_result("", "ok"), _result("", "extra")]},
        ]
    }
    before = len(proxy.fake.requests)
    headers = {"x-goog-api-key": KEY}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(proxy.url + PATH, json=body, headers=headers) as resp,
    ):
        error = (await resp.json())["error"]
        assert resp.status == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert "2 functionResponse(s) for 1 functionCall(s)" in error["message"]
    assert len(proxy.fake.requests) == before


async def test_a_responses_own_media_parts_stay(proxy: Any) -> None:
    """CPA: TestFixCLIToolResponse_PreservesFunctionResponseParts. A functionResponse that
    carries its own ``parts`` (an image the tool returned) reaches Antigravity with them and
    with its ``response``."""
    response = {
        "id": "tool-001",
        "name": "screenshot",
        "response": {"result": "Screenshot taken"},
        "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}],
    }
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"id": "tool-001", "name": "screenshot", "args": {}}}],
            },
            {"role": "user", "parts": [{"functionResponse": response}]},
        ]
    }
    sent = await send(proxy, PATH, body)
    got = sent["request"]["contents"][2]["parts"][0]["functionResponse"]
    assert got["parts"] == [{"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]
    assert got["response"] == {"result": "Screenshot taken"}
