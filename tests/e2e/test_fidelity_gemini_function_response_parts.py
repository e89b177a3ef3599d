"""A Gemini client's tool result that carries images (``functionResponse.parts``), on
other formats' models.

Gemini 3 takes a function's media inside its response: ``functionResponse.parts`` holds
``inlineData`` (or ``fileData``) next to the ``response`` object (google-genai's
``FunctionResponse.parts``; Gemini CLI writes a tool's images there for models that take
them). Each other format has a place for a tool's image: a Claude ``tool_result`` holds
image blocks, a Responses ``function_call_output`` an ``input_image``, and a Chat
Completions tool's image goes in a user message after the tool messages (as a Claude or
Responses client's does). Before, the parts were kept only for a Gemini upstream and the
model never saw the image anywhere else.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.fid_upstream import MODELS, Scene, ScriptedUpstream, config

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
B64 = base64.b64encode(PNG).decode()


def _contents() -> list[gtypes.Content]:
    image = gtypes.FunctionResponsePart(
        inline_data=gtypes.FunctionResponseBlob(mime_type="image/png", data=PNG)
    )
    return [
        gtypes.Content(role="user", parts=[gtypes.Part(text="look at a.png")]),
        gtypes.Content(
            role="model",
            parts=[
                gtypes.Part(function_call=gtypes.FunctionCall(id="c1", name="read", args={"path": "a.png"}))
            ],
        ),
        gtypes.Content(
            role="user",
            parts=[
                gtypes.Part(
                    function_response=gtypes.FunctionResponse(
                        id="c1", name="read", response={"output": "the image"}, parts=[image]
                    )
                )
            ],
        ),
    ]


async def _ask(url: str, model: str) -> None:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        await client.aio.models.generate_content(model=model, contents=_contents())
    finally:
        await client.aio.aclose()


def _claude(body: dict[str, Any]) -> Any:
    [result] = [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]
    return [b for b in result["content"] if isinstance(b, dict) and b.get("type") == "image"]


def _codex(body: dict[str, Any]) -> Any:
    [out] = [i for i in body["input"] if i.get("type") == "function_call_output"]
    return [p for p in out["output"] if isinstance(out["output"], list) and p.get("type") == "input_image"]


def _chat(body: dict[str, Any]) -> Any:
    after = body["messages"][[m["role"] for m in body["messages"]].index("tool") + 1 :]
    return [
        p
        for m in after
        if m["role"] == "user" and isinstance(m["content"], list)
        for p in m["content"]
        if p.get("type") == "image_url"
    ]


def _gemini(body: dict[str, Any]) -> Any:
    """As the client sent them (google-genai writes these parts in proto field names)."""
    parts = body["contents"][-1]["parts"][0]["functionResponse"]["parts"]
    return [
        {"inlineData": {"mimeType": p["inline_data"]["mime_type"], "data": p["inline_data"]["data"]}}
        for p in parts
    ]


IMAGE = {
    "claude": (
        _claude,
        [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64}}],
    ),
    "codex": (_codex, [{"type": "input_image", "image_url": f"data:image/png;base64,{B64}"}]),
    "chat": (_chat, [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64}"}}]),
    "gemini": (_gemini, [{"inlineData": {"mimeType": "image/png", "data": B64}}]),
}


@pytest.mark.parametrize("upstream", list(IMAGE))
async def test_function_response_images_reach_the_model(start_proxy: Any, upstream: str) -> None:
    async with ScriptedUpstream() as up:
        up.scene = Scene(text="a red dot")
        proxy = await start_proxy(config(up.url, KEY))
        await _ask(proxy.url, MODELS[upstream])
    read, want = IMAGE[upstream]
    got = read(up.requests[-1])
    assert [{k: v for k, v in p.items() if k != "detail"} for p in got] == want
