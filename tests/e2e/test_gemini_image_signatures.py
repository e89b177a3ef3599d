"""A Gemini image part through a Claude, a Responses or a Chat client, over two turns.

Gemini's image models sign each ``inlineData`` part they answer with, and refuse a later
turn that sends the image back without its signature (the fake Gemini does too). Neither
client format has a block for a model's image: a Claude client sees it as Markdown in a
text block, its signature in the thinking block before it; a Responses client sees an
``image_generation_call`` item, the part riding whole in a reasoning item's
``encrypted_content``. The proxy writes the part back, image and signature, on the next
turn: the conversation can go on editing the image. CPA carries only the signature of
such a part (``appendSignatureDelta`` in gemini_claude_response.go; the Responses
carriers of gemini_openai-responses_response.go), next to the text, and the image is lost."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import openai
import orjson
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
        '    models: [{name: "gemini-3-pro-image-preview", alias: "painter"},'
        ' {name: "gemini-2.5-flash-image", alias: "sketcher"}]\n'
    )


def model_turn(fakes: Any) -> list[dict[str, Any]]:
    """The parts of the model turn the last Gemini request sent back."""
    contents = fakes.gemini.last.json["contents"]
    return next(c["parts"] for c in contents if c.get("role") == "model")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_claude_client_sees_the_signed_image_and_carries_it_to_the_next_turn(
    start_proxy, fakes, stream: bool
) -> None:
    """The image is shown as the Markdown text block an unsigned one gets, and its
    signature rides in the empty thinking block right before it; sent back, the pair is
    the image part again, signed, and the image goes once. CPA writes no block for an
    ``inlineData`` part: only its signature, as a ``signature_delta`` of the open thinking
    block or a whole answer's thinking signature (gemini_claude_response.go, the
    signature-only path of TestConvertGeminiResponseToClaude_SignatureOnlyPartDoesNotOpenEmptyTextBlock
    and TestConvertGeminiResponseToClaudeNonStream_TrailingSignatureOnlyPart), so the
    image is lost: a deliberate difference."""
    proxy = await start_proxy(config(fakes))
    first = {"role": "user", "content": "draw a cat"}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(model="painter", max_tokens=64, messages=[first]) as s:
                answer = await s.get_final_message()
        else:
            answer = await client.messages.create(model="painter", max_tokens=64, messages=[first])
        blocks = [b.model_dump(exclude_none=True) for b in answer.content]
        assert [b["type"] for b in blocks] == ["text", "thinking", "text"]
        assert blocks[2]["text"] == f"![image](data:image/png;base64,{IMAGE_DATA})"  # (to be seen)
        assert blocks[1]["thinking"] == "" and IMAGE_DATA not in blocks[1]["signature"]  # (opaque)
        told = {"role": "user", "content": "make it blue"}
        second = await client.messages.create(
            model="painter", max_tokens=64, messages=[first, {"role": "assistant", "content": blocks}, told]
        )
        assert second.content[0].type == "text"
        assert model_turn(fakes) == [{"text": blocks[0]["text"]}, IMAGE_PART]  # the image once, signed
        # the carrier of the proxy's earlier answers (the whole part, the image unseen) still works
        whole = base64.b64encode(orjson.dumps(IMAGE_PART)).decode()
        carried = {
            "type": "thinking",
            "thinking": "",
            "signature": f"cpa-gemini-carrier-v1:standalone:part:{whole}",
        }
        earlier = {"role": "assistant", "content": [blocks[0], carried]}
        await client.messages.create(model="painter", max_tokens=64, messages=[first, earlier, told])  # type: ignore[list-item]
        assert model_turn(fakes) == [{"text": blocks[0]["text"]}, IMAGE_PART]
        with pytest.raises(anthropic.BadRequestError, match="thought_signature"):  # the carrier left out
            unsigned = {"role": "assistant", "content": [blocks[0], blocks[2]]}
            await client.messages.create(model="painter", max_tokens=64, messages=[first, unsigned, told])  # type: ignore[list-item]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_client_carries_the_signed_image_to_the_next_turn(
    start_proxy, fakes, stream: bool
) -> None:
    """The image is also an ``image_generation_call`` item, as OpenAI's image tool gives one,
    so the client can show it (CPA drops the image); sent back with the reasoning item that
    carries the part whole, the image reaches Gemini once, signed; without it, the item's
    image reaches Gemini unsigned, which an image model refuses."""
    proxy = await start_proxy(config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model="painter", input="draw a cat") as s:
                answer = await s.get_final_response()
        else:
            answer = await client.responses.create(model="painter", input="draw a cat")
        items = [item.model_dump(exclude_none=True) for item in answer.output]
        assert [item["type"] for item in items] == ["message", "image_generation_call", "reasoning"]
        assert items[1]["result"] == IMAGE_DATA and items[1]["status"] == "completed"  # (to be seen)
        assert items[2]["summary"] == [] and items[2]["encrypted_content"]
        again = [
            {"role": "user", "content": "draw a cat"},
            *items,
            {"role": "user", "content": "make it blue"},
        ]
        second = await client.responses.create(model="painter", input=again)  # type: ignore[arg-type]
        assert second.output_text
        parts = model_turn(fakes)
        assert parts[1:] == [IMAGE_PART] and parts[0].get("text")  # the image once, signed
        with pytest.raises(openai.BadRequestError, match="thought_signature"):
            await client.responses.create(model="painter", input=again[:3] + again[4:])  # type: ignore[arg-type]
    assert model_turn(fakes)[1:] == [{"inlineData": IMAGE_PART["inlineData"]}]


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


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_chat_client_carries_the_signed_image_to_the_next_turn(
    start_proxy, fakes, stream: bool
) -> None:
    """A Chat client gets the image in the message's ``images`` (as CPA's
    gemini_openai_response.go writes it) with its signature beside it, in
    ``extra_content.google.thought_signature`` as Google's OpenAI endpoint carries a call's;
    the assistant message sent back as it came (or its image as a content part with that
    item's keys) gives Gemini the image signed. CPA leaves the signature out, reads no
    ``images``, and signs an assistant's image part with the validator-skip signature
    (gemini_openai_request.go), which its request sanitizer then strips from a part that is
    no call (TestSanitizeGeminiRequestThoughtSignaturesRemovesPollutedSiblingBypass), as
    ours does: an image sent back without its signature reaches Gemini unsigned, and an
    image model refuses it (400 to the client)."""
    proxy = await start_proxy(config(fakes))
    first = {"role": "user", "content": "draw a cat"}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            chunks = await client.chat.completions.create(model="painter", messages=[first], stream=True)  # type: ignore[list-item]
            text, images = "", []
            async for chunk in chunks:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    images += (chunk.choices[0].delta.model_extra or {}).get("images") or []
        else:
            answer = await client.chat.completions.create(model="painter", messages=[first])  # type: ignore[list-item]
            text, images = answer.choices[0].message.content or "", answer.choices[0].message.images  # type: ignore[attr-defined]
        assert text and len(images) == 1
        assert images[0]["image_url"]["url"] == f"data:image/png;base64,{IMAGE_DATA}"
        assert images[0]["extra_content"] == {"google": {"thought_signature": IMAGE_SIGNATURE}}
        told = {"role": "user", "content": "make it blue"}
        as_images = {"role": "assistant", "content": text, "images": images}
        as_parts = {"role": "assistant", "content": [{"type": "text", "text": text}, *images]}
        for assistant in (as_images, as_parts):
            second = await client.chat.completions.create(model="painter", messages=[first, assistant, told])  # type: ignore[list-item]
            assert second.choices[0].message.content
            assert model_turn(fakes) == [{"text": text}, IMAGE_PART]
        unsigned = {"role": "assistant", "content": text, "images": [{"image_url": images[0]["image_url"]}]}
        with pytest.raises(openai.BadRequestError, match="thought_signature"):
            await client.chat.completions.create(model="painter", messages=[first, unsigned, told])  # type: ignore[list-item]
    assert model_turn(fakes)[-1] == {"inlineData": IMAGE_PART["inlineData"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unsigned_image_is_shown_to_claude_and_responses_clients(
    start_proxy, fakes, stream: bool
) -> None:
    """Gemini 2.5's image model signs nothing: there is nothing to carry, but the image is
    shown, where CPA drops it (gemini_claude_response.go and
    gemini_openai-responses_response.go read no inlineData). A Claude client has no block
    for a model's image (an ``image`` block is a user's), so it gets the image as Markdown
    in a text block of its own, which comes back to Gemini as the image part (not as
    base64 text); a Responses client gets an ``image_generation_call`` item, which comes
    back to Gemini as the image part too (it was left out), as CPA's Responses request
    translator sends an assistant message's ``input_image`` (gemini_openai-responses_request.go:
    a model-role ``inline_data`` part; no CPA test covers it)."""
    proxy = await start_proxy(config(fakes))
    first = {"role": "user", "content": "draw a cat"}
    told = {"role": "user", "content": "make it blue"}
    url = f"data:image/png;base64,{IMAGE_DATA}"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        if stream:
            async with claude.messages.stream(model="sketcher", max_tokens=64, messages=[first]) as s:
                answer = await s.get_final_message()
        else:
            answer = await claude.messages.create(model="sketcher", max_tokens=64, messages=[first])
        blocks = [b.model_dump(exclude_none=True) for b in answer.content]
        assert [b["type"] for b in blocks] == ["text", "text"] and blocks[1]["text"] == f"![image]({url})"
        again = [first, {"role": "assistant", "content": blocks}, told]
        await claude.messages.create(model="sketcher", max_tokens=64, messages=again)  # type: ignore[arg-type]
    image = {"inlineData": IMAGE_PART["inlineData"]}
    assert model_turn(fakes) == [{"text": blocks[0]["text"]}, image]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model="sketcher", input="draw a cat") as rs:
                response = await rs.get_final_response()
        else:
            response = await client.responses.create(model="sketcher", input="draw a cat")
        items = [item.model_dump(exclude_none=True) for item in response.output]
        assert [item["type"] for item in items] == ["message", "image_generation_call"]
        assert items[1]["result"] == IMAGE_DATA and items[1]["output_format"] == "png"
        await client.responses.create(model="sketcher", input=[first, *items, told])  # type: ignore[list-item]
        assert model_turn(fakes) == [{"text": response.output_text}, image]
        # the image as an assistant message's input_image, the shape CPA reads (gemini_openai-responses_request.go)
        shown = {"type": "input_image", "image_url": url}
        again = {
            "role": "assistant",
            "content": [{"type": "output_text", "text": response.output_text}, shown],
        }
        await client.responses.create(model="sketcher", input=[first, again, told])  # type: ignore[list-item]
        assert model_turn(fakes) == [{"text": response.output_text}, image]
