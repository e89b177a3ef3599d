"""Wire formats spoken by clients and upstreams.

Each format has a module here with its framing (SSE event names, terminators), typed
views of its JSON shapes and its count-tokens shape. The identifiers are CPA's, so
plugins and payload rules that name a protocol keep working.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Format", "family_of"]


class Format(StrEnum):
    """A wire format, named with CPA's identifiers."""

    OPENAI = "openai"  # Chat Completions
    RESPONSES = "openai-response"  # Responses API
    CLAUDE = "claude"  # Anthropic Messages
    GEMINI = "gemini"  # generateContent
    CODEX = "codex"  # ChatGPT-backend dialect of Responses
    INTERACTIONS = "interactions"  # Gemini Interactions API


def family_of(fmt: Format | str) -> str:
    """The provider family whose reasoning artifacts a format carries.

    Thinking signatures, Gemini thought signatures and OpenAI encrypted reasoning are
    only valid for the family that made them: "claude", "gemini" or "openai".
    """
    fmt = Format(fmt)
    if fmt is Format.CLAUDE:
        return "claude"
    if fmt is Format.GEMINI or fmt is Format.INTERACTIONS:
        return "gemini"
    return "openai"
