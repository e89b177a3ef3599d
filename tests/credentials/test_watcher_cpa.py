"""CPA's watcher facts (``internal/watcher/watcher_test.go``) on a running proxy with real files.

The Go watcher's plumbing (fsnotify events, timers, dispatch goroutines) has no twin here;
what carries over is what a user sees: who is told when auth files or the config change,
and what a reload does to the credentials and their models.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import openai
import orjson

from cliproxy.config.model import Config
from cliproxy.credentials.files import load_auth_dir
from cliproxy.credentials.ids import StableIDGenerator
from cliproxy.credentials.sources import from_config
from tests.usage.helpers import close_recorder
from tests.usage.test_resp import MKEY, Raw

REFRESH = [b"message", b"usage", b'{"refresh":true}']


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_auth_and_config_changes_tell_usage_subscribers_to_refresh(start_proxy, monkeypatch):
    """CPA: TestAuthFileClientChangesNotifyUsageSubscribersToRefresh and
    TestReloadClientsNotifiesUsageSubscribersToRefresh. A ``SUBSCRIBE usage`` client is
    told ``{"refresh":true}`` (after the ``support_refresh`` greeting) when an auth file
    is added, when one is removed, and when the config is reloaded, so a usage dashboard
    reads the credential list again. CPA: TestNotifyUsageRefreshBroadcastsOnlyToUsageSubscribers
    (the refresh goes to the usage queue's subscribers only, never into the queue)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy("api-keys: [k]\nusage-ledger: {enabled: false}\n", watch=True)
    conn = await Raw.open(proxy.port)
    try:
        await conn.send("AUTH", MKEY)
        assert await conn.line() == b"+OK"
        await conn.send("SUBSCRIBE", "usage")
        assert await conn.array() == [b"subscribe", b"usage", 1]
        assert await conn.array() == [b"message", b"usage", b'{"support_refresh":true}']

        auth = proxy.service.auth_dir / "sample.json"
        auth.write_bytes(orjson.dumps({"type": "claude", "email": "u@example.com", "access_token": "t"}))
        assert await conn.array() == REFRESH
        assert proxy.service.pool.get("sample.json") is not None

        auth.unlink()
        assert await conn.array() == REFRESH
        assert proxy.service.pool.get("sample.json") is None

        before = proxy.service.reloads
        _replace(proxy.service.config_path, proxy.service.config_path.read_text() + "request-retry: 2\n")
        assert await conn.array() == REFRESH
        assert proxy.service.reloads == before + 1
    finally:
        await conn.close()
        close_recorder(proxy)


async def _reload(proxy, body: str) -> None:  # type: ignore[no-untyped-def]
    svc = proxy.service
    before = svc.reloads
    _replace(svc.config_path, f"auth-dir: {svc.auth_dir}\n{body}")
    await _until(lambda: svc.reloads > before)


def _models(proxy, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    svc = proxy.service
    cred = svc.pool.get(name)
    assert cred is not None
    return {m.id for m in svc.models.models_for(cred)}


async def test_excluded_models_on_keys_and_oauth_files_follow_a_reload(start_proxy):
    """CPA: TestReloadConfigFiltersAffectedOAuthProviders, TestSnapshotCoreAuths_ConfigAndAuthFiles,
    TestApplyAuthExcludedModelsMeta_APIKey, TestApplyAuthExcludedModelsMeta_OAuthProvider,
    TestApplyAuthExcludedModelsMeta, TestApplyAuthExcludedModelsMeta_OAuthMergeWritesCombinedModels,
    TestMatchProvider.
    A key's ``excluded-models`` (trimmed, any case) hide those models for that key only; a
    reload that changes ``oauth-excluded-models`` for one provider (named in any case)
    changes what that provider's auth files serve, adds to each file's own
    ``excluded_models``, and leaves other providers' files as they were; a client's model
    list follows."""
    proxy = await start_proxy(
        "api-keys: [k]\ngemini-api-key: [{api-key: g, excluded-models: [' Gemini-2.5-Pro ']}]\n", watch=True
    )
    svc = proxy.service
    claude = {
        "type": "claude",
        "email": "c@example.com",
        "access_token": "t",
        "excluded_models": ["Claude-Sonnet-5"],
    }
    (svc.auth_dir / "claude.json").write_bytes(orjson.dumps(claude))
    (svc.auth_dir / "codex.json").write_bytes(
        orjson.dumps({"type": "codex", "email": "x@example.com", "access_token": "t"})
    )
    await _until(lambda: svc.pool.get("codex.json") is not None and svc.pool.get("claude.json") is not None)
    (gemini,) = [c.id for c in svc.pool.credentials() if c.provider == "gemini"]
    codex = _models(proxy, "codex.json")
    assert "gemini-2.5-pro" not in _models(proxy, gemini) and "gemini-2.5-flash" in _models(proxy, gemini)
    first = _models(proxy, "claude.json")
    assert "claude-sonnet-5" not in first and {"claude-opus-4-6", "claude-opus-4-7"} <= first

    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0) as client:
        listed = {m.id async for m in client.models.list()}
        assert "claude-opus-4-6" in listed and "gemini-2.5-pro" not in listed

        keep = "gemini-api-key: [{api-key: g, excluded-models: [' Gemini-2.5-Pro ']}]\n"
        await _reload(proxy, keep + "oauth-excluded-models: {Claude: [' CLAUDE-OPUS-4-6 ']}\n")
        assert _models(proxy, "claude.json") == first - {"claude-opus-4-6"}
        assert _models(proxy, "codex.json") == codex
        listed = {m.id async for m in client.models.list()}
        assert "claude-opus-4-6" not in listed and "claude-sonnet-5" not in listed and "gpt-5.5" in listed

        await _reload(proxy, keep + "oauth-excluded-models: {claude: [claude-opus-4-7]}\n")
        assert _models(proxy, "claude.json") == first - {"claude-opus-4-7"}
        await _reload(proxy, "gemini-api-key: [{api-key: g}]\n")
        assert _models(proxy, "claude.json") == first and _models(proxy, "codex.json") == codex
        assert "gemini-2.5-pro" in _models(proxy, gemini)
        listed = {m.id async for m in client.models.list()}
        assert {"claude-opus-4-6", "claude-opus-4-7", "gemini-2.5-pro"} <= listed


def test_every_key_entry_is_one_credential() -> None:
    """CPA: TestBuildAPIKeyClientsCounts. Each key entry becomes one credential: two Gemini
    keys and one Interactions key (CPA counts these three as Gemini), one Vertex, one
    Claude, two Codex, one xAI and two keys of one OpenAI-compatible provider."""
    data = {
        "gemini-api-key": [{"api-key": "g1"}, {"api-key": "g2"}],
        "interactions-api-key": [{"api-key": "i1"}],
        "vertex-api-key": [{"api-key": "v1", "base-url": "https://vertex"}],
        "claude-api-key": [{"api-key": "c1"}],
        "codex-api-key": [
            {"api-key": "c1", "base-url": "https://codex"},
            {"api-key": "c2", "base-url": "https://codex"},
        ],
        "xai-api-key": [{"api-key": "x1", "base-url": "https://xai"}],
        "openai-compatibility": [
            {"name": "o", "base-url": "https://o", "api-key-entries": [{"api-key": "o1"}, {"api-key": "o2"}]}
        ],
    }
    got = Counter(c.provider for c in from_config(Config.model_validate(data)))
    assert got == {
        "gemini": 2,
        "gemini-interactions": 1,
        "vertex": 1,
        "claude": 1,
        "codex": 2,
        "xai": 1,
        "openai-compatible-o": 2,
    }


def test_config_headers_skip_blank_names_and_values() -> None:
    """CPA: TestAddConfigHeadersToAttrs. A key's ``headers`` reach its credential as
    ``header:<name>`` attributes next to the others; a pair whose name or value is blank is
    dropped, and a key without headers gets none."""
    headers = {"": "value", "key": "", "  ": "value", "valid": "valid-value", "Authorization": "Bearer t"}
    data = {"claude-api-key": [{"api-key": "k1", "headers": headers}, {"api-key": "k2"}]}
    with_headers, without = from_config(Config.model_validate(data))
    got = {k: v for k, v in with_headers.attributes.items() if k.startswith("header:")}
    assert got == {"header:valid": "valid-value", "header:Authorization": "Bearer t"}
    assert with_headers.attributes["api_key"] == "k1"
    assert not [k for k in without.attributes if k.startswith("header:")]


def test_stable_ids_for_any_parts() -> None:
    """CPA: TestNewStableIDGenerator, TestStableIDGenerator_Next, TestStableIDGenerator_Stability,
    TestStableIDGenerator_CollisionHandling. An id is ``<kind>:<12 hex>`` whatever the parts
    (none at all too), two generators give the same id for the same parts, and a repeat
    within one generator gets ``-1``. (TestStableIDGenerator_NilReceiver: a Go nil receiver,
    n.a.)"""
    for kind, parts in (
        ("gemini:apikey", ("test-key", "")),
        ("claude:apikey", ("sk-ant-xxx", "https://api.anthropic.com")),
        ("codex:apikey", ()),
    ):
        cid, short = StableIDGenerator().next(kind, *parts)
        assert cid == f"{kind}:{short}" and len(short) == 12
    one = StableIDGenerator().next("gemini:apikey", "test-key", "https://api.example.com")
    assert one == StableIDGenerator().next("gemini:apikey", "test-key", "https://api.example.com")
    gen = StableIDGenerator()
    first, second = gen.next("gemini:apikey", "same-key"), gen.next("gemini:apikey", "same-key")
    assert second == (first[0] + "-1", first[1] + "-1")


def test_subdirectories_of_the_auth_dir_are_not_read(tmp_path: Path) -> None:
    """CPA: TestLoadFileClientsWalkError. A directory in auth-dir that cannot be opened (or
    is named like a JSON file) is passed over, top-level files still load; an auth-dir
    that cannot be listed loads nothing, without an error."""
    (tmp_path / "0noaccess").mkdir()
    (tmp_path / "0noaccess" / "inner.json").write_bytes(orjson.dumps({"type": "claude", "access_token": "t"}))
    (tmp_path / "0noaccess").chmod(0)
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "top.json").write_bytes(orjson.dumps({"type": "claude", "access_token": "t"}))
    try:
        assert [c.id for c in load_auth_dir(tmp_path)] == ["top.json"]
    finally:
        (tmp_path / "0noaccess").chmod(0o755)
    assert load_auth_dir(tmp_path / "missing") == []
