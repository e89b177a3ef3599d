"""CPA's user_id_cache_test.go on cliproxy's fake ``metadata.user_id`` of a cloaked API
key (``claude_identity.fake_user_id``; with ``cache-user-id`` kept per key for an hour,
the hour renewed on every use). CPA's Home-mode KV cases have their counterpart where the
workers share a Redis state backend: tests/providers/test_claude_shared_ids.py and
tests/e2e/test_claude_workers_key_ids.py."""

from __future__ import annotations

import hashlib
import time

import orjson

from cliproxy.providers import claude_identity as ident


def entry_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def test_a_fake_user_id_has_claude_codes_shape() -> None:
    """CPA: TestGenerateFakeUserIDUsesClaudeCode220JSONShape."""
    uid = ident.fake_user_id("sk-shape", cache=False)
    assert ident.is_valid_user_id(uid)
    value = orjson.loads(uid)
    assert list(value) == ["device_id", "account_uuid", "session_id"] and value["account_uuid"] == ""


def test_the_cached_id_carries_the_keys_session() -> None:
    """CPA: TestCachedUserIDUsesCachedClaudeSessionID."""
    session = ident.key_session("sk-shared-session")
    assert orjson.loads(ident.fake_user_id("sk-shared-session", cache=True))["session_id"] == session


def test_the_cached_id_is_reused_and_kept_per_key() -> None:
    """CPA: TestCachedUserID_ReusesWithinTTL, TestCachedUserID_IsScopedByAPIKey."""
    first = ident.fake_user_id("sk-reuse-1", cache=True)
    assert first and ident.fake_user_id("sk-reuse-1", cache=True) == first
    assert ident.fake_user_id("sk-reuse-2", cache=True) != first


def test_an_expired_id_is_replaced() -> None:
    """CPA: TestCachedUserID_ExpiresAfterTTL."""
    old = ident.fake_user_id("sk-expired", cache=True)
    ident._FAKE[entry_key("sk-expired")] = (old, time.monotonic() - 60)
    new = ident.fake_user_id("sk-expired", cache=True)
    assert new and new != old


def test_a_hit_renews_the_hour() -> None:
    """CPA: TestCachedUserID_RenewsTTLOnHit."""
    uid = ident.fake_user_id("sk-renew", cache=True)
    soon = time.monotonic()
    ident._FAKE[entry_key("sk-renew")] = (uid, soon + 2)
    assert ident.fake_user_id("sk-renew", cache=True) == uid
    assert ident._FAKE[entry_key("sk-renew")][1] - soon >= 30 * 60
