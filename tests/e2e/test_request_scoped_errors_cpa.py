"""CPA's request-scoped error rules and the failover cases of its conductor
(sdk/cliproxy/auth/conductor_request_scoped_errors_test.go, conductor_overrides_test.go)
through a running proxy: two Claude keys, the first (priority 10) with the rules; which
keys the fake saw, and whether the first key cools, tell what the proxy decided.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.record import model_key
from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth

MODEL = "claude-sonnet-4-6"


def _config(fakes: Any, rules: str = "[]", extra: str = "", first: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    priority: 10
    request-scoped-errors: {rules}
{first}  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
{extra}"""


def _keys(fake: Any) -> list[str]:
    return [r.key for r in fake.requests if r.path.startswith("/v1/messages")]


async def _post(proxy: Any, stream: bool = False, path: str = "/v1/messages") -> tuple[int, bytes]:
    body = {
        "model": MODEL,
        "max_tokens": 50,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if path.endswith("count_tokens"):
        body.pop("stream")
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=body, headers={"x-api-key": KEY}) as r,
    ):
        return r.status, await r.read()


async def _cooling(proxy: Any, key: str) -> bool:
    """Whether the credential of ``key`` cools for the model now."""
    pool = proxy.service.pool
    cred = next(c for c in pool.credentials() if c.api_key == key)
    record = await pool.state.get_cooldown(cred.id, model_key(MODEL))
    return record is not None and record.blocks(pool.clock())


def _rule(status: int, action: str, match: str = "", regex: str = "") -> str:
    found = f"match: [{match!r}]" if match else f"match-regexr: [{regex!r}]"
    return f"[{{status: {status}, {found}, action: {action}}}]"


def _error(message: str, kind: str = "api_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(
    ("action", "keys", "cools"),
    [
        ("stop", ["sk-a"], False),
        ("stop-and-cooldown", ["sk-a"], True),
        ("continue", ["sk-a", "sk-b"], False),
        ("continue-and-cooldown", ["sk-a", "sk-b"], True),
    ],
)
async def test_rule_actions_on_a_400(start_proxy, fakes, action, keys, cools):
    """TestRequestScopedErrors_ActionStop, _ActionStopAndCooldown, _ActionContinue and
    _ActionContinueAndCooldown: ``continue`` on a 400 goes to the next key (a 400 went to
    the client after one key, whatever the rule said). The rule matches the upstream's own
    error body. CPA: TestRequestScopedErrors_ActionStopAndCooldown,
    TestRequestScopedErrors_ActionContinue, TestRequestScopedErrors_ActionContinueAndCooldown,
    TestRequestScopedErrors_ResponseBodyProvider_MatchesUnderlyingPayload."""
    proxy = await start_proxy(_config(fakes, _rule(400, action, match="the_marker")))
    fakes.claude.fail_key("sk-a", 400, body=_error("the_marker happened", "invalid_request_error"))
    status, _ = await _post(proxy)
    assert status == (200 if len(keys) == 2 else 400)
    assert _keys(fakes.claude) == keys
    assert await _cooling(proxy, "sk-a") is cools


async def test_a_regex_rule_matches(start_proxy, fakes):
    """TestRequestScopedErrors_MatchRegexr."""
    proxy = await start_proxy(_config(fakes, _rule(400, "stop", regex=r"context_length_exceeded: \d+")))
    fakes.claude.fail_key("sk-a", 400, body=_error("context_length_exceeded: 128000"))
    assert (await _post(proxy))[0] == 400
    assert _keys(fakes.claude) == ["sk-a"] and not await _cooling(proxy, "sk-a")


@pytest.mark.parametrize(("action", "cools"), [("stop", False), ("stop-and-cooldown", True)])
async def test_stream_rules_before_the_first_byte(start_proxy, fakes, action, cools):
    """TestRequestScopedErrors_Stream_ActionStop and _StreamBootstrap_StopAndCooldown.
    CPA: TestRequestScopedErrors_StreamBootstrap_StopAndCooldown."""
    proxy = await start_proxy(_config(fakes, _rule(400, action, match="stream_context_overflow")))
    fakes.claude.fail_key("sk-a", 400, body=_error("stream_context_overflow"))
    assert (await _post(proxy, stream=True))[0] == 400
    assert _keys(fakes.claude) == ["sk-a"] and await _cooling(proxy, "sk-a") is cools


async def test_stop_ends_the_retry_rounds_of_a_429(start_proxy, fakes):
    """TestRequestScopedErrors_Stop_StopsOuterRetryOn429: no other key, no other round."""
    extra = "request-retry: 3\nmax-retry-interval: 30\n"
    proxy = await start_proxy(_config(fakes, _rule(429, "stop", match="rate_limit_stop"), extra))
    fakes.claude.fail_key("sk-a", 429, body=_error("rate_limit_stop", "rate_limit_error"))
    assert (await _post(proxy))[0] == 429
    assert _keys(fakes.claude) == ["sk-a"]


async def test_a_cooldown_action_cools_under_disable_cooling(start_proxy, fakes):
    """TestRequestScopedErrors_Cooldown_OverridesDisableCooling and
    _TransientCooldownDisabled_ForceCooldownStillApplies.
    CPA: TestRequestScopedErrors_TransientCooldownDisabled_ForceCooldownStillApplies."""
    extra = "disable-cooling: true\n"
    rules = "[{status: 400, match: [cooldown_anyway], action: stop-and-cooldown}, "
    rules += "{status: 500, match: [cooldown_on_500], action: stop-and-cooldown}]"
    proxy = await start_proxy(_config(fakes, rules, extra))
    fakes.claude.fail_next(400, key="sk-a", body=_error("cooldown_anyway"))
    assert (await _post(proxy))[0] == 400 and await _cooling(proxy, "sk-a")
    proxy2 = await start_proxy(_config(fakes, rules, "transient-error-cooldown-seconds: -1\n"))
    fakes.claude.fail_next(500, key="sk-a", body=_error("cooldown_on_500"))
    assert (await _post(proxy2))[0] == 500 and await _cooling(proxy2, "sk-a")


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
async def test_count_tokens_stop_and_cooldown(start_proxy, fakes):
    """TestRequestScopedErrors_CountTokens_StopAndCooldown, on a 429. Differs on purpose for
    CPA's 404: a Claude gateway's 404 on count_tokens is counted locally and cools nothing
    (``ClaudeProvider.counts_locally_after``), so a rule for it is never asked."""
    proxy = await start_proxy(
        _config(fakes, _rule(429, "stop-and-cooldown", match="count_endpoint_cooldown"))
    )
    fakes.claude.fail_next(429, key="sk-a", body=_error("count_endpoint_cooldown", "rate_limit_error"))
    status, _ = await _post(proxy, path="/v1/messages/count_tokens")
    assert status == 429 and await _cooling(proxy, "sk-a")
    assert [r.key for r in fakes.claude.requests] == ["sk-a"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unmatched_rule_keeps_the_default(start_proxy, fakes, stream):
    """TestRequestScopedErrors_NonMatching_FallsBackToDefault and
    _UnmatchedBootstrapError_PreservesDefault: a plain invalid request stops, nothing cools.
    CPA: TestRequestScopedErrors_UnmatchedBootstrapError_PreservesDefault."""
    proxy = await start_proxy(_config(fakes, _rule(500, "stop", match="some_500_error")))
    fakes.claude.fail_key("sk-a", 400, body=_error("Invalid request parameter", "invalid_request_error"))
    assert (await _post(proxy, stream))[0] == 400
    assert _keys(fakes.claude) == ["sk-a"] and not await _cooling(proxy, "sk-a")


async def test_a_compat_provider_takes_its_entrys_rules(start_proxy, fakes):
    """TestRequestScopedErrors_ResolvedFromManagerConfig and
    _OpenAICompat_BareProviderKeyFallback: an openai-compatibility entry's rules apply to
    its keys. CPA: TestRequestScopedErrors_OpenAICompat_BareProviderKeyFallback (CPA looks
    the rules up by the bare provider key; ours ride on each of the entry's credentials)."""
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k1"}}, {{api-key: "k2"}}]
    request-scoped-errors: [{{status: 400, match: [from_compat_config_rule], action: continue}}]
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
""")
    fakes.openai.fail_next(400, message="from_compat_config_rule occurred")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        assert r.status == 200, await r.text()
    assert len(fakes.openai.requests) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_model_the_key_does_not_serve_fails_over_and_suspends_it(start_proxy, fakes, stream):
    """TestManager_ModelSupportBadRequest_FallsBackAndSuspendsAuth and
    TestManagerExecuteStream_ModelSupportBadRequestFallsBackAndSuspendsAuth: the other key
    answers, and the first one is left out of the next request (it was answered to the
    client as a 400 after one key, and cooled all the same)."""
    proxy = await start_proxy(_config(fakes))
    refusal = {"type": "error", "error": {"type": "not_found_error", "code": "model_not_supported"}}
    fakes.claude.fail_key("sk-a", 400, body=refusal)
    for _ in range(2):
        status, raw = await _post(proxy, stream)
        assert status == 200, raw
    assert _keys(fakes.claude) == ["sk-a", "sk-b", "sk-b"]
    assert await _cooling(proxy, "sk-a")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_invalid_grant_fails_over_and_suspends_the_key(start_proxy, fakes, stream):
    """TestManagerExecute_AntigravityInvalidGrantFallsBackAndSuspendsAuth and
    TestManagerExecuteStream_AntigravityInvalidGrantFallsBackAndSuspendsAuth (the refusal
    shape of any provider)."""
    proxy = await start_proxy(_config(fakes))
    fakes.claude.fail_key("sk-a", 400, body={"error": "invalid_grant", "error_description": "Bad Request"})
    status, raw = await _post(proxy, stream)
    assert status == 200, raw
    assert _keys(fakes.claude) == ["sk-a", "sk-b"] and await _cooling(proxy, "sk-a")
    assert orjson.loads(raw)["type"] == "message" if not stream else raw.startswith(b"event:")


@pytest.mark.parametrize("oauth", [True, False], ids=["sign-ins", "api-keys"])
async def test_oauth_rules_apply_to_sign_ins_only(start_proxy, fake_claude, tmp_path, oauth):
    """CPA: TestOAuthRequestScopedErrors_AppliesToOAuthAuth (an ``oauth-request-scoped-errors``
    rule for the provider stops a sign-in's failover), TestOAuthRequestScopedErrors_DoesNotApplyToAPIKey
    (a config API key of the same provider ignores it and moves on to the next key)."""
    rules = "oauth-request-scoped-errors:\n  claude: [{status: 500, match: [internal_server_error], action: stop}]\n"
    if oauth:
        for name, token, priority in (("a.json", "sk-a", 10), ("b.json", "sk-b", 0)):
            write_auth(tmp_path, name, claude_file(fake_claude.base_url, token, priority=priority))
        proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{rules}')
    else:
        proxy = await start_proxy(_config(SimpleNamespace(claude=fake_claude), extra=rules))
    fake_claude.fail_key("sk-a", 500, body=_error("internal_server_error"))
    status, _ = await _post(proxy)
    assert _keys(fake_claude) == (["sk-a"] if oauth else ["sk-a", "sk-b"])
    assert status == (500 if oauth else 200)
    if not oauth:  # CPA: TestPersist_SkipsConfigAPIKeyAuth (no config key is written as a file)
        assert not list((tmp_path / "auths").glob("*.json"))
