"""CPA ``internal/cache/signature_cache_test.go``: thinking signatures by model group and
thinking-text hash, for clients that echo the thinking text but not its signature.

CPA's ``Home`` KV cases (a remote store shared by CPA instances) have no counterpart:
our caches live in the process (``cliproxy.translate.replay``)."""

from __future__ import annotations

import logging

import pytest

from cliproxy.config import Config
from cliproxy.config.changes import log_changes
from cliproxy.translate.replay import SignatureCache, has_valid_signature, model_group

MODEL = "claude-sonnet-4-5"
GEMINI = "gemini-3-pro-preview"
SIG = "abc123validSignature1234567890123456789012345678901234567890"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cache() -> SignatureCache:
    return SignatureCache()


def test_basic_storage_and_retrieval(cache: SignatureCache) -> None:
    """TestCacheSignature_BasicStorageAndRetrieval"""
    cache.put(MODEL, "This is some thinking text content", SIG)
    assert cache.get(MODEL, "This is some thinking text content") == SIG


def test_gemini_empty_thinking_sentinel(cache: SignatureCache) -> None:
    """TestGetCachedSignatureRequiredGeminiEmptyThinkingSentinel"""
    assert cache.get(GEMINI, "") == "skip_thought_signature_validator"
    assert cache.get(GEMINI, "never cached") == "skip_thought_signature_validator"


def test_different_model_groups(cache: SignatureCache) -> None:
    """TestCacheSignature_DifferentModelGroups"""
    sig1 = "signature1_1234567890123456789012345678901234567890123456"
    sig2 = "signature2_1234567890123456789012345678901234567890123456"
    cache.put(MODEL, "Same text across models", sig1)
    cache.put(GEMINI, "Same text across models", sig2)
    assert cache.get(MODEL, "Same text across models") == sig1
    assert cache.get(GEMINI, "Same text across models") == sig2


def test_not_found(cache: SignatureCache) -> None:
    """TestCacheSignature_NotFound"""
    assert cache.get(MODEL, "some text") == ""
    cache.put(MODEL, "text-a", "sigA12345678901234567890123456789012345678901234567890")
    assert cache.get(MODEL, "text-b") == ""


@pytest.mark.parametrize(
    ("text", "signature"),
    [("", "sig12345678901234567890123456789012345678901234567890"), ("text", ""), ("text", "short")],
    ids=["empty text", "empty signature", "too short"],
)
def test_empty_inputs(cache: SignatureCache, text: str, signature: str) -> None:
    """TestCacheSignature_EmptyInputs"""
    assert cache.put(MODEL, text, signature) is False
    assert cache.get(MODEL, "text") == ""


def test_short_signature_rejected(cache: SignatureCache) -> None:
    """TestCacheSignature_ShortSignatureRejected"""
    cache.put(MODEL, "Some text", "abc123")
    assert cache.get(MODEL, "Some text") == ""


def test_clear_model_group_of_unknown_name(cache: SignatureCache) -> None:
    """TestClearSignatureCache_ModelGroup"""
    sig = "validSig1234567890123456789012345678901234567890123456"
    cache.put(MODEL, "text", sig)
    cache.put(MODEL, "text-2", sig)
    cache.clear("session-1")
    assert cache.get(MODEL, "text") == sig


def test_clear_model_group(cache: SignatureCache) -> None:
    """signature_cache.go ClearSignatureCache(model): only that model's group goes"""
    cache.put(MODEL, "text", SIG)
    cache.put(GEMINI, "text", SIG)
    cache.clear("claude-opus-4-8")  # same group as MODEL
    assert cache.get(MODEL, "text") == "" and cache.get(GEMINI, "text") == SIG


def test_clear_all_sessions(cache: SignatureCache) -> None:
    """TestClearSignatureCache_AllSessions"""
    cache.put(MODEL, "text", SIG)
    cache.put(MODEL, "text-2", SIG)
    cache.clear()
    assert cache.get(MODEL, "text") == "" and cache.get(MODEL, "text-2") == ""


@pytest.mark.parametrize(
    ("model", "signature", "expected"),
    [
        (MODEL, SIG, True),
        (MODEL, "1" * 50, True),
        (MODEL, "1" * 49, False),
        (MODEL, "", False),
        (MODEL, "abc", False),
        (GEMINI, "skip_thought_signature_validator", True),
    ],
    ids=["valid long", "exactly 50", "49 chars", "empty", "short", "gemini sentinel"],
)
def test_has_valid_signature(model: str, signature: str, expected: bool) -> None:
    """TestHasValidSignature"""
    assert has_valid_signature(model, signature) is expected


def test_text_hash_collision_resistance(cache: SignatureCache) -> None:
    """TestCacheSignature_TextHashCollisionResistance"""
    sig1 = "signature1_1234567890123456789012345678901234567890123456"
    sig2 = "signature2_1234567890123456789012345678901234567890123456"
    cache.put(MODEL, "First thinking text", sig1)
    cache.put(MODEL, "Second thinking text", sig2)
    assert cache.get(MODEL, "First thinking text") == sig1
    assert cache.get(MODEL, "Second thinking text") == sig2


def test_unicode_text(cache: SignatureCache) -> None:
    """TestCacheSignature_UnicodeText"""
    text = "한글 텍스트와 이모지 🎉 그리고 特殊文字"
    sig = "unicodeSig123456789012345678901234567890123456789012345"
    cache.put(MODEL, text, sig)
    assert cache.get(MODEL, text) == sig


def test_overwrite(cache: SignatureCache) -> None:
    """TestCacheSignature_Overwrite"""
    first = "firstSignature12345678901234567890123456789012345678901"
    second = "secondSignature1234567890123456789012345678901234567890"
    cache.put(MODEL, "Same text", first)
    cache.put(MODEL, "Same text", second)
    assert cache.get(MODEL, "Same text") == second


def test_expiration_is_sliding() -> None:
    """TestCacheSignature_ExpirationLogic (CPA cannot move time; we can: 3 h sliding TTL)"""
    clock = Clock()
    cache = SignatureCache(clock=clock)
    cache.put(MODEL, "text", SIG)
    clock.now += 2 * 3600
    assert cache.get(MODEL, "text") == SIG  # read refreshes the entry
    clock.now += 2 * 3600
    assert cache.get(MODEL, "text") == SIG
    clock.now += 3 * 3600 + 1
    assert cache.get(MODEL, "text") == ""


def test_size_bound_evicts_oldest() -> None:
    """signature_cache.go bounds memory by TTL; ours also by entries (oldest use goes first)"""
    cache = SignatureCache(max_entries=2)
    for n in range(3):
        cache.put(MODEL, f"text-{n}", SIG)
    assert len(cache) == 2 and cache.get(MODEL, "text-0") == ""


@pytest.mark.parametrize(
    ("model", "group"),
    [("gpt-5.4", "gpt"), ("claude-opus-4-8", "claude"), ("gemini-3-pro", "gemini"), ("kimi-k2", "kimi-k2")],
)
def test_model_group(model: str, group: str) -> None:
    """signature_cache.go GetModelGroup"""
    assert model_group(model) == group


def test_signature_mode_changes_are_logged_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    """TestSignatureModeSetters_LogAtInfoLevel, TestSignatureModeSetters_DoNotRepeatSameStateLogs
    and TestSignatureBypassStrictMode_LogsAtDebugLevel. Both modes are read from the config on
    each request, so a reload's change list is where a switch shows: turning the cache off is
    an INFO line, and a reload that leaves a mode as it was says nothing at INFO. Deliberate
    difference: a switch of the bypass check (strict / basic) is an INFO change line here,
    like every other key a reload changes, where CPA's setter writes a DEBUG line of its own
    (its change list leaves these two keys out); turning the cache back on is one too."""

    def cfg(**keys: bool) -> Config:
        return Config.model_validate({k.replace("_", "-"): v for k, v in keys.items()})

    base = cfg(antigravity_signature_cache_enabled=True, antigravity_signature_bypass_strict=False)
    off = cfg(antigravity_signature_cache_enabled=False, antigravity_signature_bypass_strict=False)
    strict = cfg(antigravity_signature_cache_enabled=False, antigravity_signature_bypass_strict=True)
    with caplog.at_level(logging.INFO, logger="cliproxy.config.changes"):
        assert log_changes(base, off) == ["antigravity-signature-cache-enabled: true -> false"]
        assert log_changes(off, strict) == ["antigravity-signature-bypass-strict: false -> true"]
        before = len(caplog.records)
        assert (
            log_changes(
                strict,
                cfg(antigravity_signature_cache_enabled=False, antigravity_signature_bypass_strict=True),
            )
            == []
        )
    assert len(caplog.records) == before
    assert [r.levelno for r in caplog.records] == [logging.INFO] * 4
