"""CPA internal/translator/antigravity/gemini/noop_optimization_test.go: the behaviour its
allocation checks carry, through a running proxy to an Antigravity credential (the
envelope read from the fake Cloud Code server, tests/fakes/gemini.py).

Not applicable: TestRewriteGeminiFunctionNamesReusesNormalizedPayload,
TestRemoveEmptyGeminiFunctionToolsReusesNormalizedPayload and
TestFixCLIToolResponseReusesHistoryWithoutFunctionResponses check that Go hands back the
client's own byte buffer when nothing changes, which has no counterpart for parsed
Python objects.
"""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.providers.test_antigravity_cpa_signature import send, started

PATH = "/v1beta/models/gemini-3-flash:generateContent"


@pytest.fixture
async def proxy(start_proxy: Any, fake_gemini: Any, tmp_path: Any) -> Any:
    return await started(start_proxy, fake_gemini, tmp_path)


async def test_an_empty_tools_list_is_not_sent(proxy: Any) -> None:
    """CPA: TestRemoveEmptyGeminiFunctionToolsDeletesEmptyArray."""
    sent = await send(proxy, PATH, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": []})
    assert "tools" not in sent["request"]


async def test_a_large_inline_image_goes_whole(proxy: Any) -> None:
    """CPA: TestConvertGeminiRequestToAntigravityBoundsLargePayloadCopies, its facts about
    the result: 4 MiB of inline data reach Cloud Code whole, in the envelope that names the
    model. The default safety settings CPA's translator adds are deleted again by its
    executor before sending, so Cloud Code gets none, as here. (Its allocation bound is
    Go's.)"""
    data = "A" * (4 << 20)
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [{"inlineData": {"mimeType": "image/png", "data": data}}, {"text": "describe"}],
            }
        ]
    }
    headers = {"x-goog-api-key": KEY, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.post(proxy.url + PATH, data=io.BytesIO(orjson.dumps(body)), headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
    sent = proxy.fake.last.json
    assert sent["model"] == "gemini-3-flash"
    assert len(sent["request"]["contents"][0]["parts"][0]["inlineData"]["data"]) == len(data)
    assert "safetySettings" not in sent["request"]


async def _status(proxy: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(proxy.url + PATH, json=body, headers={"x-goog-api-key": KEY}) as resp,
    ):
        return resp.status, await resp.json()


async def test_non_string_function_names_are_refused(proxy: Any) -> None:
    """CPA: TestRewriteGeminiFunctionNamesNormalizesNonStringNames. Deliberate difference:
    CPA sends a call named ``true`` as the string ``"true"``; a name that is no string is
    the client's mistake, answered here with a clear 400 in Gemini's format, and nothing
    goes upstream."""
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": True, "args": {}}}]},
            {"role": "user", "parts": [{"text": "next"}]},
        ],
        "toolConfig": {"functionCallingConfig": {"allowedFunctionNames": [True]}},
    }
    status, answer = await _status(proxy, body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert "functionCall without a name" in answer["error"]["message"]
    assert not proxy.fake.requests


async def test_contents_as_an_object_is_refused(proxy: Any) -> None:
    """CPA: TestFixCLIToolResponsePreservesObjectNormalization. Deliberate difference: CPA
    turns a ``contents`` object into the list of its values; Gemini's API takes a list, so
    an object is answered here with a clear 400 naming ``contents``."""
    status, answer = await _status(
        proxy, {"contents": {"first": {"role": "user", "parts": [{"text": "hello"}]}}}
    )
    assert status == 400 and "contents" in answer["error"]["message"]
    assert not proxy.fake.requests
