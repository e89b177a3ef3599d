"""CPA's text-only tool results for OpenAI-compatible models (runtime/executor/helps/
openai_compat_tool_results_test.go, openai_compat_executor_tool_results_test.go): a model
whose ``input-modalities`` are text only gets every ``tool`` message's content as one
string, images replaced by a marker. Through a running proxy with the ``openai`` SDK
against a raw Chat upstream; the pure pieces on their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from cliproxy.config.model import Config
from cliproxy.config.providers import OpenAICompatibility
from cliproxy.credentials.sources import from_config
from cliproxy.providers.compat_tool_results import (
    IMAGE_OMITTED,
    flatten_tool_results,
    text_only_names,
    wants_text,
)
from tests.e2e.clients import KEY
from tests.e2e.test_compat_stream_cpa import PARTIAL, RawChat


@pytest.fixture
async def upstream() -> AsyncIterator[RawChat]:
    async with RawChat() as server:
        yield server


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "look"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "see", "arguments": "{}"}}],
    },
    {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": "image inspected"}, IMAGE],
    },
]


def test_tool_messages_become_text() -> None:
    """CPA: TestNormalizeOpenAIToolResultsTextOnly: a tool message's parts become one string
    (text, a blank line, the image marker); string content and other roles stay."""
    body: dict[str, Any] = {
        "messages": [
            {"role": "assistant", "content": [{"type": "text", "text": "before"}]},
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": [{"type": "text", "text": "image inspected"}, IMAGE],
            },
            {"role": "tool", "tool_call_id": "call_2", "content": "already text"},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://example.com/u.png"}}],
            },
        ]
    }
    original = body["messages"]
    flatten_tool_results(body)
    got = body["messages"]
    assert got[1]["content"] == "image inspected\n\n" + IMAGE_OMITTED
    assert got[2]["content"] == "already text"
    assert isinstance(got[0]["content"], list) and isinstance(got[3]["content"], list)
    assert isinstance(original[1]["content"], list)  # the client's list and messages untouched


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ([{"type": "image_url", "image_url": {"url": "https://example.com/image.png"}}], IMAGE_OMITTED),
        ({"type": "image", "source": {"type": "base64", "data": "AA=="}}, IMAGE_OMITTED),
        ([{"type": "custom", "value": 1}], '{"type":"custom","value":1}'),
    ],
)
def test_images_and_unknown_parts(content: Any, want: str) -> None:
    """CPA: TestNormalizeOpenAIToolResultsTextOnlyImageAndUnknownContent."""
    body: dict[str, Any] = {"messages": [{"role": "tool", "content": content}]}
    flatten_tool_results(body)
    assert body["messages"][0]["content"] == want


def test_which_models_are_text_only() -> None:
    """CPA: TestShouldNormalizeOpenAIToolResultsForModel: by the upstream name (its thinking
    suffix ignored, modalities in any case), else by an alias all of whose models are text
    only; a model with image input or no modalities listed, a mixed alias pool and an
    unknown name are left alone. Difference: the proxy asks with the upstream model only,
    since a configured alias always resolves to its model's name before the call."""
    compat = OpenAICompatibility.model_validate(
        {
            "name": "c",
            "base-url": "http://x/v1",
            "models": [
                {"name": "upstream-text", "alias": "alias-text", "input-modalities": ["text"]},
                {
                    "name": "upstream-multimodal",
                    "alias": "alias-multimodal",
                    "input-modalities": ["text", "image"],
                },
                {"name": "upstream-unspecified", "alias": "alias-unspecified"},
                {"name": "upstream-uppercase", "alias": "alias-uppercase", "input-modalities": ["TEXT"]},
                {"name": "pool-text", "alias": "shared-alias", "input-modalities": ["text"]},
                {"name": "pool-image", "alias": "shared-alias", "input-modalities": ["text", "image"]},
            ],
        }
    )
    attrs = {
        "tool_results_text_only": text_only_names(
            [(m.name, m.alias, m.input_modalities) for m in compat.models]
        )
    }
    want = {
        "upstream-text": True,
        "upstream-text(high)": True,
        "alias-text": True,
        "upstream-multimodal": False,
        "upstream-unspecified": False,
        "upstream-uppercase": True,
        "shared-alias": False,
        "unknown": False,
    }
    assert {m: wants_text(attrs, m) for m in want} == want
    assert not wants_text({}, "upstream-text")


def test_the_config_entry_marks_its_credentials() -> None:
    """The credentials of an entry know its text-only models."""
    cfg = Config.model_validate(
        {
            "openai-compatibility": [
                {
                    "name": "c",
                    "base-url": "http://x/v1",
                    "api-key-entries": [{"api-key": "k"}],
                    "models": [{"name": "t", "input-modalities": ["text"]}, {"name": "v"}],
                }
            ]
        }
    )
    (cred,) = [c for c in from_config(cfg) if c.compat_name == "c"]
    assert wants_text(cred.attributes, "t") and not wants_text(cred.attributes, "v")


@pytest.mark.parametrize(
    ("stream", "modalities", "want_string"),
    [(False, "[text]", True), (True, "[text]", True), (False, "[text, image]", False), (False, "", False)],
)
async def test_the_upstream_gets_text_tool_results(
    start_proxy: Any, upstream: RawChat, stream: bool, modalities: str, want_string: bool
) -> None:
    """CPA: TestOpenAICompatExecutorToolResultContentByInputModalities: whole and streamed,
    a text-only model's upstream sees the tool result as a string; a multimodal model or one
    with no modalities listed gets the parts as the client sent them."""
    listed = f", input-modalities: {modalities}" if modalities else ""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n'
        f'    base-url: "{upstream.url}/v1"\n    api-key-entries: [{{api-key: "sk-up"}}]\n'
        f'    models: [{{name: "deepseek-v4-flash", alias: "m"{listed}}}]\n'
    )
    upstream.json = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-v4-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    }
    upstream.chunks = [PARTIAL, b"data: [DONE]\n\n"]
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=20
    ) as client:
        if stream:
            answer = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            async for _ in answer:
                pass
        else:
            await client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    content = upstream.body["messages"][2]["content"]
    if want_string:
        assert content == "image inspected\n\n" + IMAGE_OMITTED
    else:
        assert content == MESSAGES[2]["content"]
