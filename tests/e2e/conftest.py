"""A proxy wired to all four fake upstreams."""

from __future__ import annotations

import pytest

from tests.e2e.clients import KEY

# client-visible model -> (provider, upstream model)
MODELS = {
    "compat-model": ("openai-compatibility", "gpt-4o-mini"),
    "claude-model": ("claude", "claude-sonnet-4-6"),
    "codex-model": ("codex", "gpt-5.4"),
    "gemini-model": ("gemini", "gemini-2.5-flash"),
}


def matrix_config(fakes, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
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
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - name: "gemini-2.5-flash"
        alias: "gemini-model"
{extra}
"""


@pytest.fixture
async def matrix(start_proxy, fakes):
    proxy = await start_proxy(matrix_config(fakes))
    proxy.fakes = fakes
    return proxy
