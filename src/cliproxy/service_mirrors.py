"""What the workers of one deployment share over the state backend's bus (Redis).

With a shared state backend (``state.backend: redis``) a request may land on any worker,
so the caches a later turn depends on are mirrored between them: the thinking replay
cache, Codex's and xAI's reasoning replays, Antigravity's and a Gemini API key's
signatures, Kimi's thinking replay and the Claude-compatible one (an is-compat Claude
key's), and Claude Code's diagnostics and per-key ids. :class:`Mirrors` starts them
beside the service and closes them at its stop; with the embedded memory backend there is
nothing to share and nothing here runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.codex import CodexProvider
from cliproxy.providers.gemini import GeminiProvider
from cliproxy.providers.gemini_replay import decode_turns as decode_gemini
from cliproxy.providers.gemini_replay import encode_turns as encode_gemini
from cliproxy.providers.kimi import KimiProvider
from cliproxy.providers.xai import XAIProvider
from cliproxy.translate.antigravity_replay_record import decode_items, encode_items
from cliproxy.translate.codex_replay import decode_turns, encode_turns
from cliproxy.translate.kimi_replay_record import SharedReplay, compat_entry, kimi_entry
from cliproxy.translate.replay_shared import RedisMirror
from cliproxy.translate.xai_replay import decode_turns as decode_xai
from cliproxy.translate.xai_replay import encode_turns as encode_xai

if TYPE_CHECKING:
    from cliproxy.pipeline import Pipeline
    from cliproxy.providers.registry import Providers

__all__ = ["Mirrors"]


class Mirrors:
    """The started mirrors of one service, closed together."""

    def __init__(self) -> None:
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def start(self, bus: Any, pipeline: Pipeline, providers: Providers) -> None:
        """Mirror every shared cache over ``bus`` (the state backend's notification bus)."""
        replay = RedisMirror(bus, pipeline.thinking_replay)
        pipeline.replay_mirror = replay  # a tool-loop turn may land on any worker
        self._closers.append(replay.close)
        if isinstance(codex := providers.get("codex"), CodexProvider):  # Codex's reasoning
            self._closers.append(
                RedisMirror(bus, codex.replay, encode=encode_turns, decode=decode_turns).close
            )
        if isinstance(xai := providers.get("xai"), XAIProvider):  # and xAI's
            self._closers.append(RedisMirror(bus, xai.replay, encode=encode_xai, decode=decode_xai).close)
        if isinstance(gemini := providers.get("gemini"), GeminiProvider):  # Gemini API call signatures
            mirror = RedisMirror(bus, gemini.signatures, encode=encode_gemini, decode=decode_gemini)
            self._closers.append(mirror.close)
        if isinstance(antigravity := providers.get("antigravity"), AntigravityProvider):  # its signatures
            mirror = RedisMirror(bus, antigravity.replay, encode=encode_items, decode=decode_items)
            self._closers.append(mirror.close)
        if isinstance(kimi := providers.get("kimi"), KimiProvider):  # Kimi's thinking replay
            self._closers.append(SharedReplay(bus, kimi.replay, "replay-kimi", kimi_entry).close)
        if isinstance(claude := providers.get("claude"), ClaudeProvider):  # diagnostics, per-key ids
            self._closers.append(claude.share(bus).close)
            # and a Claude client's own signed thinking on an is-compat key
            compat = SharedReplay(bus, claude.compat_replay, "replay-compat", compat_entry)
            self._closers.append(compat.close)

    async def close(self) -> None:
        closers, self._closers = self._closers, []
        for close in closers:
            await close()
