"""A signed Gemini image part through a Claude or a Responses client, over two turns.

Gemini's image models sign each ``inlineData`` part they answer with, and refuse a later
turn that sends the image back without its signature (the fake Gemini does too). Neither
client format has a block for a model's image, so the proxy carries the part whole in the
client's opaque reasoning slot (a Claude thinking block's ``signature``, a Responses
reasoning item's ``encrypted_content``) and writes it back, image and signature, on the
next turn: the conversation can go on editing the image. CPA carries only the signature of
such a part (``appendSignatureDelta`` in gemini_claude_response.go; the Responses
carriers of gemini_openai-responses_response.go), next to the text, and the image is lost."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.fakes.gemini import IMAGE_DATA, IMAGE_SIGNATURE

IMAGE_PART = {
    "inlineData": {"mimeType": "image/png", "data": IMAGE_DATA},
    "thoughtSignature": IMAGE_SIGNATURE,
}


def config(fakes: Any) -> str:
    return (
        f'api-keys: ["{KEY}"]\ngemini-api-key:\n  - api-key: "gem-key-1"\n'
        f'    base-url: "{fakes.gemini.base_url}"\n'
        '    models: [{name: "gemini-3-pro-image-preview", alias: "painter"}]\n'
    )


def model_turn(fakes: Any) -> list[dict[str, Any]]:
    """The parts of the model turn the last Gemini request sent back."""
    contents = fakes.gemini.last.json["contents"]
    return next(c["parts"] for c in contents if c.get("role") == "model")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_claude_client_carries_the_signed_image_to_the_next_turn(
    start_proxy, fakes, stream: bool
) -> None:
    proxy = await start_proxy(config(fakes))
    first = {"role": "user", "content": "draw a cat"}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="painter", max_tokens=64, messages=[first]) as s:
                answer = await s.get_final_message()
        else:
            answer = await client.messages.create(model="painter", max_tokens=64, messages=[first])
        blocks = [b.model_dump(exclude_none=True) for b in answer.content]
        assert [b["type"] for b in blocks] == ["text", "thinking"]
        assert blocks[1]["thinking"] == "" and IMAGE_DATA not in blocks[1]["signature"]  # (opaque)
        again = [first, {"role": "assistant", "content": blocks}, {"role": "user", "content": "make it blue"}]
        second = await client.messages.create(model="painter", max_tokens=64, messages=again)
    assert second.content[0].type == "text"
    parts = model_turn(fakes)
    assert parts[-1] == IMAGE_PART and parts[0].get("text")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_client_carries_the_signed_image_to_the_next_turn(
    start_proxy, fakes, stream: bool
) -> None:
    proxy = await start_proxy(config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model="painter", input="draw a cat") as s:
                answer = await s.get_final_response()
        else:
            answer = await client.responses.create(model="painter", input="draw a cat")
        items = [item.model_dump(exclude_none=True) for item in answer.output]
        assert [item["type"] for item in items] == ["message", "reasoning"]
        assert items[1]["summary"] == [] and items[1]["encrypted_content"]
        again = [
            {"role": "user", "content": "draw a cat"},
            *items,
            {"role": "user", "content": "make it blue"},
        ]
        second = await client.responses.create(model="painter", input=again)  # type: ignore[arg-type]
    assert second.output_text
    parts = model_turn(fakes)
    assert parts[-1] == IMAGE_PART and parts[0].get("text")


async def test_an_image_sent_back_unsigned_is_refused_as_gemini_refuses_it(start_proxy, fakes) -> None:
    """The fake's rule, as the real API's: a model turn's image without its signature is a
    400, which a Gemini client (its request relayed as it is) gets as Gemini's own."""
    proxy = await start_proxy(config(fakes))
    options = gtypes.HttpOptions(
        base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    client = genai.Client(api_key=KEY, http_options=options)
    image = gtypes.Part(inline_data=gtypes.Blob(mime_type="image/png", data=base64.b64decode(IMAGE_DATA)))
    contents = [
        gtypes.Content(role="user", parts=[gtypes.Part(text="draw a cat")]),
        gtypes.Content(role="model", parts=[gtypes.Part(text="here"), image]),
        gtypes.Content(role="user", parts=[gtypes.Part(text="make it blue")]),
    ]
    try:
        with pytest.raises(genai_errors.ClientError) as info:
            await client.aio.models.generate_content(model="painter", contents=contents)
    finally:
        await client.aio.aclose()
    assert info.value.code == 400 and "thought_signature" in str(info.value.message)
