"""The provider registry: every built-in once, and credentials routed to them."""

from __future__ import annotations

import pytest

from cliproxy.credentials.ids import compat_provider_key
from cliproxy.credentials.record import Credential
from cliproxy.providers import registry
from cliproxy.providers.openai_compat import OpenAICompatProvider


def test_every_builtin_once() -> None:
    keys = [p.key for p in registry.BUILTIN_PROVIDERS]
    assert sorted(keys) == sorted(
        {
            "openai-compatibility",
            "claude",
            "codex",
            "gemini",
            "gemini-interactions",
            "vertex",
            "xai",
            "antigravity",
            "kimi",
            "aistudio",
        }
    )


@pytest.mark.parametrize(
    "key", ["claude", "codex", "gemini", "vertex", "xai", "antigravity", "kimi", "aistudio"]
)
def test_provider_for_by_key(key: str) -> None:
    assert registry.provider_for(Credential(id="c", provider=key)).key == key


def test_compat_and_interactions() -> None:
    compat = Credential(id="c", provider=compat_provider_key("OpenRouter"), compat_name="OpenRouter")
    assert isinstance(registry.provider_for(compat), OpenAICompatProvider)
    assert (
        registry.provider_for(Credential(id="c", provider="openai-compatibility")).key
        == "openai-compatibility"
    )
    assert (
        registry.provider_for(Credential(id="c", provider="gemini-interactions")).key == "gemini-interactions"
    )


def test_unknown_provider() -> None:
    assert registry.get("nope") is None
    with pytest.raises(KeyError):
        registry.provider_for(Credential(id="c", provider="nope"))
