"""A Gemini client's tool loop on a Grok model keeps Grok's encrypted reasoning.

As for Codex (tests/e2e/test_fidelity_gemini_codex_reasoning.py): a Gemini client (Gemini
CLI, google-genai) has no place for the reasoning xAI returns with a tool call, so the
proxy keeps it per caller API key and puts it back in front of the call on the next turn,
as it does for a Chat Completions client (tests/e2e/test_xai_reasoning_replay.py). Before,
a Gemini client's second turn reached xAI with the call alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_fidelity_gemini_codex_reasoning import loop
from tests.e2e.tool_loop import kinds

MODEL = "grok-4.3"


@pytest.fixture
async def proxy(start_proxy: Any, fake_openai: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    )
    p.fake = fake_openai
    return p


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gemini_client_tool_loop_gets_grok_reasoning_back(proxy: Any, stream: bool) -> None:
    await loop(proxy.url, KEY, stream, MODEL)
    sent: list[dict[str, Any]] = proxy.fake.last.json["input"]
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1]["encrypted_content"]
    assert sent[2]["call_id"] == sent[3]["call_id"]
