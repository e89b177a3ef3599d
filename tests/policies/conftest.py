"""A proxy with an OpenAI-compatible and a Claude upstream, and client keys with policies."""

from __future__ import annotations

from typing import Any

import pytest

PLAIN = "sk-plain-key"


def policy_config(fakes: Any, keys: str, extra: str = "") -> str:
    """``keys``: YAML list items under ``api-keys`` (indented by 2)."""
    return f"""
api-keys:
  - "{PLAIN}"
{keys}
openai-compatibility:
  - name: fakeopenai
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-compat-1"
    models:
      - name: "gpt-4o-mini"
        alias: "compat-model"
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-model"
{extra}
"""


@pytest.fixture
def policy_proxy(start_proxy, fakes):
    async def start(keys: str, extra: str = "", **kw: Any):
        proxy = await start_proxy(policy_config(fakes, keys, extra), **kw)
        proxy.fakes = fakes
        return proxy

    return start


def chat_body(prompt_tokens: int, completion_tokens: int, model: str = "gpt-4o-mini") -> dict[str, Any]:
    """A whole Chat Completions answer with the given usage (scripted on the fake)."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
