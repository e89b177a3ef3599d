"""The replay caches RedisMirror shares (translate/replay_shared.py) on two workers of one
real Redis, each cache as its provider drives it: a loop that goes A, B, A restores on A
the step B recorded, and a session forgotten on A (a 400/422 refusal) is forgotten on B
too, for the Claude thinking replay, Codex's and xAI's reasoning replays and Antigravity's
signature chains.

Before, a worker that held a session never read Redis again (A restored its own stale
copy without B's step) and a forget deleted the Redis copy only (B kept restoring what
the upstream had refused)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cliproxy.providers.gemini_replay import GeminiSignatureCache, SignedCalls
from cliproxy.providers.gemini_replay import decode_turns as decode_gemini
from cliproxy.providers.gemini_replay import encode_turns as encode_gemini
from cliproxy.translate import ir
from cliproxy.translate.antigravity_replay import CallItem, SignatureItem
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache, decode_items, encode_items
from cliproxy.translate.codex_replay import CodexReplayCache, CodexTurn
from cliproxy.translate.codex_replay import decode_turns as decode_codex
from cliproxy.translate.codex_replay import encode_turns as encode_codex
from cliproxy.translate.replay import ThinkingReplayCache, Turn, TurnCache
from cliproxy.translate.replay_shared import RedisMirror, decode_turns, encode_turns
from cliproxy.translate.xai_replay import XAIReplayCache, XAITurn
from cliproxy.translate.xai_replay import decode_turns as decode_xai
from cliproxy.translate.xai_replay import encode_turns as encode_xai

FAMILY, SESSION = "family-1", "caller-hash:session-1"


def claude_step(n: int) -> Turn:
    signed = ir.Thinking(f"step {n}", f"sig-{n}-" + "x" * 60, "claude")
    return Turn((signed,), ((f"toolu_{n}", "bash"),))


def codex_step(n: int) -> CodexTurn:
    item = {"type": "reasoning", "id": f"rs_{n}", "encrypted_content": f"enc-{n}"}
    return CodexTurn(f"turn-{n}", (item,), (f"call_{n}",), "", "", 40)


def xai_step(n: int) -> XAITurn:
    return XAITurn(f"turn-{n}", ({"type": "reasoning", "encrypted_content": f"grok-{n}"},), 30)


def gemini_step(n: int) -> SignedCalls:
    return SignedCalls(f"turn-{n}", ((f"call-key-{n}", f"gemini-sig-{n}"),), 30)


def antigravity_items(n: int) -> list[Any]:
    """The chain after ``n`` steps: a signed thought and a call per step."""
    out: list[Any] = []
    for i in range(1, n + 1):
        out.append(SignatureItem(2 * i - 1, 0, f"thought-sig-{i}-" + "y" * 20, "thought", "", None, ""))
        out.append(CallItem(2 * i - 1, 1, None, "bash", f"call_{i}", "{}", f"call-sig-{i}-" + "z" * 20, ""))
    return out


@dataclass
class Kind:
    """One cache as its provider drives it: ``step(cache, n)`` records the loop's step n
    (after a fetch, as a request does), ``forget(cache)`` what a refusal does."""

    make: Callable[[], TurnCache[Any]]
    encode: Callable[[tuple[Any, ...]], bytes]
    decode: Callable[[bytes], tuple[Any, ...]]
    step: Callable[[Any, int], None]
    forget: Callable[[Any], None]


def _append(made: Callable[[int], Any]) -> Callable[[Any, int], None]:
    return lambda cache, n: cache.append(FAMILY, SESSION, made(n)) and None


def _delete(cache: Any) -> None:
    cache.delete(FAMILY, SESSION)


def _chain(cache: AntigravityReplayCache, n: int) -> None:
    assert cache.replace(cache.read(FAMILY, SESSION), antigravity_items(n))


def _refused(cache: AntigravityReplayCache) -> None:
    assert cache.clear_if_unchanged(cache.read(FAMILY, SESSION))


KINDS = {
    "claude": Kind(ThinkingReplayCache, encode_turns, decode_turns, _append(claude_step), _delete),
    "codex": Kind(CodexReplayCache, encode_codex, decode_codex, _append(codex_step), _delete),
    "xai": Kind(XAIReplayCache, encode_xai, decode_xai, _append(xai_step), _delete),
    "gemini": Kind(GeminiSignatureCache, encode_gemini, decode_gemini, _append(gemini_step), _delete),
    "antigravity": Kind(AntigravityReplayCache, encode_items, decode_items, _chain, _refused),
}


async def _worker(redis_states: Any, kind: Kind) -> tuple[TurnCache[Any], RedisMirror]:
    cache = kind.make()
    mirror = RedisMirror(await redis_states("rf:"), cache, encode=kind.encode, decode=kind.decode)
    return cache, mirror


async def _holds(mirror: RedisMirror, want: tuple[Any, ...], seconds: float = 2.0) -> tuple[Any, ...]:
    """What ``mirror``'s cache holds for the session once a request there fetched (as each
    attempt does), polled until it is ``want`` (a change reaches Redis and the other
    workers off the request path) or ``seconds`` went by."""
    held: tuple[Any, ...] = ()
    for _ in range(int(seconds / 0.01)):
        await mirror.fetch(FAMILY, SESSION)
        held = tuple(mirror.cache.get(FAMILY, SESSION))
        if held == want:
            break
        await asyncio.sleep(0.01)
    return held


@pytest.mark.parametrize("name", list(KINDS))
async def test_a_loop_going_a_b_a_restores_on_a_the_step_b_recorded(redis_states: Any, name: str) -> None:
    kind = KINDS[name]
    (cache_a, mirror_a), (cache_b, mirror_b) = (
        await _worker(redis_states, kind),
        await _worker(redis_states, kind),
    )
    kind.step(cache_a, 1)
    first = tuple(cache_a.get(FAMILY, SESSION))
    assert first and await _holds(mirror_b, first) == first  # B fetched A's step
    kind.step(cache_b, 2)
    both = tuple(cache_b.get(FAMILY, SESSION))
    assert both != first
    assert await _holds(mirror_a, both) == both, "A restored its own copy without B's step"


@pytest.mark.parametrize("name", list(KINDS))
async def test_a_session_forgotten_on_a_is_forgotten_on_b(redis_states: Any, name: str) -> None:
    kind = KINDS[name]
    (cache_a, mirror_a), (_, mirror_b) = await _worker(redis_states, kind), await _worker(redis_states, kind)
    kind.step(cache_a, 1)
    first = tuple(cache_a.get(FAMILY, SESSION))
    assert await _holds(mirror_b, first) == first  # B holds it now
    kind.forget(cache_a)  # the upstream refused what A restored
    assert await _holds(mirror_b, ()) == (), "B kept restoring the refused session"
    assert await _holds(mirror_a, ()) == ()


async def test_a_notice_names_a_session_of_its_own_cache_only(redis_states: Any) -> None:
    """Codex's change on one worker leaves the Claude thinking of the same family and
    session on the other; an invalid notice is ignored; a notice for another session of
    the cache drops that one alone. (With the memory backend no mirror runs.)"""
    claude, _ = await _worker(redis_states, KINDS["claude"])
    KINDS["claude"].step(claude, 1)
    claude.append(FAMILY, SESSION + "-other", claude_step(2))
    other = await redis_states("rf:")
    await other.publish("rp|claude-thinking-replay", key=CodexReplayCache._key(FAMILY, SESSION))
    await other.publish("rp|claude-thinking-replay", key=7)
    await other.publish("rp|codex-reasoning-replay", key=ThinkingReplayCache._key(FAMILY, SESSION))
    mine = ThinkingReplayCache._key(FAMILY, SESSION + "-other")
    await other.publish("rp|claude-thinking-replay", key=mine)  # (notices arrive in order)
    for _ in range(200):
        if not claude.get(FAMILY, SESSION + "-other"):
            break
        await asyncio.sleep(0.01)
    assert not claude.get(FAMILY, SESSION + "-other")
    assert claude.get(FAMILY, SESSION) == (claude_step(1),)
