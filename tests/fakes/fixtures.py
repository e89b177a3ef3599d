"""Pytest fixtures: one fresh fake upstream per test, served from a background thread.

The fakes run on their own loop, so they serve async tests (the proxy under test on the
test's loop) and blocking SDK clients alike. Import with
``from tests.fakes.fixtures import *`` in a conftest, or name the fixtures you use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.claude import ClaudeFake
from tests.fakes.gemini import GeminiFake
from tests.fakes.openai import OpenAIFake

__all__ = ["Fakes", "anthropic_api", "fake_claude", "fake_gemini", "fake_openai", "fake_responses", "fakes"]


@dataclass(slots=True)
class Fakes:
    openai: OpenAIFake
    responses: OpenAIFake
    claude: ClaudeFake
    gemini: GeminiFake


@pytest.fixture
def fake_openai() -> Iterator[OpenAIFake]:
    """Fake api.openai.com: chat completions, responses, models."""
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def fake_responses() -> Iterator[OpenAIFake]:
    """A second OpenAI fake meant for Responses / Codex tests (``/backend-api/codex/responses`` too)."""
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def fake_claude() -> Iterator[ClaudeFake]:
    """Fake api.anthropic.com."""
    with ClaudeFake() as fake:
        yield fake


@pytest.fixture
def anthropic_api(monkeypatch: pytest.MonkeyPatch, fake_claude: ClaudeFake) -> ClaudeFake:
    """``fake_claude`` as the endpoint table's Anthropic API (``CLIPROXY_OAUTH_CLAUDE_API``)
    for the proxies the test starts after: a Claude credential with no base URL, or with
    the fake's, is then on Anthropic's own API, where token counts go upstream (on any
    other base URL they are counted locally, as CPA counts them)."""
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_API", fake_claude.base_url)
    return fake_claude


@pytest.fixture
def fake_gemini() -> Iterator[GeminiFake]:
    """Fake Gemini API, under /v1beta and /v1."""
    with GeminiFake() as fake:
        yield fake


@pytest.fixture
def fakes(
    fake_openai: OpenAIFake, fake_responses: OpenAIFake, fake_claude: ClaudeFake, fake_gemini: GeminiFake
) -> Fakes:
    """All four fakes at once."""
    return Fakes(fake_openai, fake_responses, fake_claude, fake_gemini)
