"""Each client format through each provider, stream and non-stream, with the official
SDKs; the fakes' records show what each provider received."""

from __future__ import annotations

import pytest

from cliproxy.formats import Format
from tests.e2e.clients import ask
from tests.e2e.conftest import MODELS

CLIENTS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]


def _fake_for(fakes, provider):
    return {
        "openai-compatibility": fakes.openai,
        "claude": fakes.claude,
        "codex": fakes.responses,
        "gemini": fakes.gemini,
    }[provider]


def _check_upstream(fake, provider, upstream_model, stream):
    rec = fake.last
    assert rec is not None, "the provider received nothing"
    if provider == "openai-compatibility":
        assert rec.path == "/v1/chat/completions"
        assert rec.headers["Authorization"] == "Bearer sk-compat-1"
        assert rec.json["model"] == upstream_model
    elif provider == "claude":
        assert rec.path == "/v1/messages"
        assert (
            rec.headers.get("x-api-key") == "sk-ant-1"
            or rec.headers.get("Authorization") == "Bearer sk-ant-1"
        )
        assert rec.json["model"] == upstream_model
        assert "anthropic-version" in rec.headers
    elif provider == "codex":
        assert rec.path == "/backend-api/codex/responses"
        assert rec.headers["Authorization"] == "Bearer sk-codex-1"
        assert rec.json["stream"] is True and rec.json["store"] is False
    else:
        action = "streamGenerateContent" if stream else "generateContent"
        assert rec.path.endswith(f"/models/{upstream_model}:{action}")
        assert rec.headers["x-goog-api-key"] == "gem-key-1"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("client", CLIENTS, ids=[c.value for c in CLIENTS])
async def test_text_through_every_provider(matrix, client, model, stream):
    provider, upstream_model = MODELS[model]
    answer = await ask(client, matrix.url, model, "Say hello", stream=stream)
    assert "Hello from fake" in answer.text, answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    _check_upstream(_fake_for(matrix.fakes, provider), provider, upstream_model, stream)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("client", CLIENTS, ids=[c.value for c in CLIENTS])
async def test_tool_call_through_every_provider(matrix, client, model, stream):
    answer = await ask(client, matrix.url, model, "FAKE_TOOL please run it", stream=stream, tools=True)
    assert len(answer.calls) == 1, answer.raw
    name, args = answer.calls[0]
    assert name == "bash"
    assert "FAKE_TOOL_OK" in args["command"]
