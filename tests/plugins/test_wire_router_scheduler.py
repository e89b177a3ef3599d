"""CPA's model-router and scheduler host tests (internal/pluginhost/model_router_test.go,
scheduler_test.go), ported on the wire: each plugin answers ``model.route`` or
``scheduler.pick`` with the JSON a native plugin would send."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from cliproxy.config.model import Config
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.sources import from_config
from cliproxy.plugins import abi, rules
from cliproxy.plugins.abi import PluginError
from cliproxy.state.memory import MemoryState
from tests.plugins.wire_host import WirePlugin, executor, wire_host

ROUTE = abi.MODEL_ROUTE
PICK = abi.SCHEDULER_PICK


def answers(result: dict[str, Any]) -> dict[str, Any]:
    return {ROUTE: lambda _p: result}


SELF = answers({"Handled": True, "TargetKind": "self"})


async def route(host, *, skip: str | None = None, providers=(), source: str = "openai"):
    return await rules.route_model(
        host,
        source_format=source,
        model="original-model",
        stream=False,
        headers={},
        query={},
        body=b'{"model":"original-model"}',
        available_providers=list(providers),
        skip=skip,
        scope=None,
    )


def router(plugin_id: str, priority: int, result: dict[str, Any] | None = None, **kw: Any) -> WirePlugin:
    handlers = answers(result) if result is not None else kw.pop("handlers")
    return WirePlugin(plugin_id, priority, {"model_router": True}, handlers, **kw)


def exec_router(plugin_id: str, priority: int, handlers: dict | None = None, **kw: Any) -> WirePlugin:
    p = executor(plugin_id, priority, **kw)
    p.caps["model_router"] = True
    p.handlers.update(handlers if handlers is not None else SELF)
    return p


async def test_highest_priority_first_match_wins():
    """TestHostRouteModelUsesHighestPriorityFirstMatch: the high router answers, sees its
    own metadata and id, and the low one is never asked."""
    low = exec_router("low", 1)
    high = exec_router("high", 10, metadata={"Name": "High Router"})
    decision = await route(wire_host(low, high))
    assert decision is not None and (decision.kind, decision.target) == ("self", "high")
    sent = high.called(ROUTE)[0]
    assert sent["Plugin"]["Name"] == "High Router" and sent["PluginID"] == "high"
    assert low.called(ROUTE) == []


async def test_unhandled_continues_to_the_next_router():
    """TestHostRouteModelContinuesAfterUnhandled."""
    low = exec_router("low", 1)
    high = exec_router("high", 10, answers({"Handled": False}))
    decision = await route(wire_host(low, high))
    assert decision is not None and decision.target == "low"


async def test_explicit_executor_plugin_target():
    """TestHostRouteModelAllowsExplicitExecutorPluginTarget."""
    target = executor("executor")
    r = router("router", 10, {"Handled": True, "TargetKind": "executor", "Target": "executor"})
    decision = await route(wire_host(target, r))
    assert decision is not None and (decision.kind, decision.target, decision.router) == (
        "executor",
        "executor",
        "router",
    )
    assert r.called(ROUTE)[0]["PluginID"] == "router"


async def test_self_targets_the_routers_own_executor():
    """TestHostRouteModelDefaultsHandledRouterToOwnExecutor."""
    decision = await route(wire_host(exec_router("router", 0)))
    assert decision is not None and decision.target == "router"


async def test_unavailable_executor_targets_are_skipped():
    """TestHostRouteModelSkipsUnavailableExecutorTargets: a missing executor plugin and a
    ``self`` from a router without an executor both fall through; all three are asked."""
    fallback = exec_router("fallback", 1)
    missing = exec_router(
        "missing-target", 20, answers({"Handled": True, "TargetKind": "executor", "Target": "missing"})
    )
    no_exec = router("no-executor", 10, {"Handled": True, "TargetKind": "self"})
    decision = await route(wire_host(fallback, missing, no_exec))
    assert [len(p.called(ROUTE)) for p in (fallback, missing, no_exec)] == [1, 1, 1]
    assert decision is not None and decision.target == "fallback"


async def test_error_and_crash_fall_through_and_the_crash_fuses():
    """TestHostRouteModelErrorAndPanicDoNotBreakFallback."""

    def boom(_p: dict) -> Any:
        raise RuntimeError("router panic")

    def fail(_p: dict) -> Any:
        raise PluginError("temporary route failure")

    host = wire_host(
        exec_router("fallback", 1),
        exec_router("panic", 20, {ROUTE: boom}),
        exec_router("error", 10, {ROUTE: fail}),
    )
    decision = await route(host)
    assert decision is not None and decision.target == "fallback"
    assert host.records["panic"].fused and not host.records["error"].fused
    assert [r.id for r in host.active("model_router")] == ["error", "fallback"]


async def test_has_model_routers_except():
    """TestHostHasModelRoutersReportsAvailableRouters. The flow asks ``any`` before it
    builds a route request, so a host without routers is never called (CPA's
    TestApplyModelRouterSkipsHostsWithoutRouters, TestApplyModelRouterSkipsHostWithoutDetector)."""
    host = wire_host(router("router", 0, {}), WirePlugin("other", caps={"usage_plugin": True}))
    assert host.any("model_router")
    assert not host.any("model_router", "router")


async def test_a_router_cannot_change_the_hosts_copy_of_its_metadata():
    """TestHostRouteModelClonesPluginMetadata: what the plugin gets is a copy."""

    def mutate(params: dict) -> dict:
        params["Plugin"]["ConfigFields"][0]["Name"] = "mutated"
        return {"Handled": True, "TargetKind": "self"}

    fields = [{"Name": "mode", "EnumValues": ["safe", "fast"]}]
    host = wire_host(exec_router("router", 0, {ROUTE: mutate}, metadata={"ConfigFields": fields}))
    decision = await route(host)
    assert decision is not None and decision.target == "router"
    assert host.records["router"].metadata["ConfigFields"][0]["Name"] == "mode"


async def test_the_originating_plugin_is_skipped():
    """TestHostRouteModelSkipsOriginatingPlugin (a nested host.model call)."""
    origin = exec_router("origin", 10)
    decision = await route(wire_host(origin, exec_router("other", 1)), skip="origin")
    assert origin.called(ROUTE) == []
    assert decision is not None and decision.target == "other"


async def test_routes_to_a_builtin_provider_with_its_model():
    """TestHostRouteModelRoutesToBuiltinProvider: the provider name is lower-cased and
    trimmed, the target model trimmed."""
    r = router(
        "router",
        0,
        {"Handled": True, "TargetKind": "provider", "Target": " Claude ", "TargetModel": " claude-sonnet-4 "},
    )
    decision = await route(wire_host(r), providers=["claude"])
    assert decision is not None
    assert (decision.kind, decision.target, decision.target_model) == (
        "provider",
        "claude",
        "claude-sonnet-4",
    )


async def test_unavailable_builtin_provider_falls_through():
    """TestHostRouteModelSkipsUnavailableBuiltinProvider."""
    missing = router(
        "missing-provider", 10, {"Handled": True, "TargetKind": "provider", "Target": "unknown-provider"}
    )
    decision = await route(wire_host(exec_router("fallback", 1), missing), providers=["claude"])
    assert decision is not None and decision.target == "fallback"


async def test_an_unknown_target_kind_falls_through():
    """TestHostRouteModelRejectsProviderAndExecutorBothSet (kind "both")."""
    both = exec_router("both", 10, answers({"Handled": True, "TargetKind": "both", "Target": "claude"}))
    decision = await route(wire_host(exec_router("fallback", 1), both), providers=["claude"])
    assert decision is not None and decision.target == "fallback"


async def test_available_providers_reach_the_router():
    """TestHostRouteModelPropagatesAvailableProviders; the list is the pool's, see below."""
    r = exec_router("router", 0)
    await route(wire_host(r), providers=["claude", "gemini"])
    assert r.called(ROUTE)[0]["AvailableProviders"] == ["claude", "gemini"]


def test_available_providers_are_lower_cased_sorted_and_skip_disabled():
    """TestHostBuiltinProviderLookup: each enabled credential's provider once, sorted.
    CPA lower-cases here; cliproxy lower-cases a provider when it loads the credential
    (credentials/files.py, plugins/models.py), so the pool never holds "Claude"."""
    pool = Pool(state=MemoryState())
    pool.replace(
        [
            Credential("a", "claude"),
            Credential("b", "codex"),
            Credential("c", "codex"),
            Credential("d", "gemini", disabled=True),
        ]
    )
    assert pool.providers() == ["claude", "codex"]


async def test_executor_without_identifier_is_skipped():
    """TestHostRouteModelSkipsExecutorWithoutProviderIdentifier."""
    no_provider = exec_router("no-provider", 10, identifier="")
    decision = await route(wire_host(exec_router("fallback", 1, identifier="fallback-provider"), no_provider))
    assert decision is not None and decision.target == "fallback"


async def test_executor_without_formats_is_skipped():
    """TestHostRouteModelSkipsExecutorWithUnsupportedFormats: no input/output formats."""
    bare = exec_router("unsupported-formats", 10)
    bare.caps.pop("executor_input_formats")
    bare.caps.pop("executor_output_formats")
    decision = await route(wire_host(exec_router("fallback", 1), bare))
    assert decision is not None and decision.target == "fallback"


async def test_oauth_only_executor_is_skipped():
    """TestHostRouteModelSkipsOAuthOnlyExecutorTargets: the direct route has no credential."""
    oauth = exec_router("oauth-only", 10, caps={"executor_model_scope": "oauth"})
    fallback = exec_router("fallback", 1, caps={"executor_model_scope": "static"})
    decision = await route(wire_host(fallback, oauth))
    assert decision is not None and decision.target == "fallback"


# ------------------------------------------------------------------ scheduler


def creds(*ids: str) -> list[Credential]:
    return [Credential(i, "test") for i in ids]


async def pick(host, candidates: list[Credential]) -> Any:
    return await rules.pick_auth(
        host, candidates, provider="test", providers=["test"], model="test-model", stream=False, headers={}
    )


def scheduler(plugin_id: str, priority: int, result: Any) -> WirePlugin:
    handler = result if callable(result) else (lambda _p: result)
    return WirePlugin(plugin_id, priority, {"scheduler": True}, {PICK: handler})


async def test_only_the_highest_priority_scheduler_is_asked():
    """TestHostPickAuthUsesHighestPrioritySchedulerOnly."""
    low = scheduler("low", 1, {"Handled": True, "AuthID": "auth-low"})
    high = scheduler("high", 10, {"Handled": True, "AuthID": "auth-high"})
    high.metadata = {"Name": "high"}
    cands = creds("auth-high", "auth-low")
    chosen = await pick(wire_host(low, high), cands)
    assert chosen is cands[0]
    assert high.called(PICK)[0]["Plugin"]["Name"] == "high" and low.called(PICK) == []


async def test_a_scheduler_error_denies_the_pick():
    """TestHostPickAuthReturnsSchedulerError: the message reaches the caller."""

    def fail(_p: dict) -> Any:
        raise PluginError("tenant quota exhausted", http_status=429)

    with pytest.raises(rules.SchedulerDenied) as info:
        await pick(wire_host(scheduler("scheduler", 0, fail)), creds("auth-1"))
    assert "tenant quota exhausted" in str(info.value) and info.value.status == 429


async def test_a_scheduler_crash_fuses_and_falls_back():
    """TestHostPickAuthPanicFusesAndFallsBack."""

    def boom(_p: dict) -> Any:
        raise RuntimeError("boom")

    host = wire_host(scheduler("scheduler", 0, boom))
    assert await pick(host, creds("auth-1")) is None
    assert host.records["scheduler"].fused


async def test_unhandled_does_not_ask_a_lower_scheduler():
    """TestHostPickAuthUnhandledDoesNotCallLowerPriorityScheduler."""
    low = scheduler("low", 1, {"Handled": True, "AuthID": "auth-low"})
    high = scheduler("high", 10, {"Handled": False})
    assert await pick(wire_host(low, high), creds("auth-low")) is None
    assert low.called(PICK) == []


@pytest.mark.parametrize(
    "result",
    [
        {"Handled": True, "AuthID": "missing"},
        {"Handled": True, "DelegateBuiltin": "unknown"},
        {"Handled": True},
        {"Handled": True, "AuthID": "missing", "DelegateBuiltin": "round-robin"},
    ],
    ids=["unknown auth id", "unknown delegate", "no decision", "unknown auth id with a delegate"],
)
async def test_an_invalid_pick_falls_back(result):
    """TestHostPickAuthInvalidResponseFallsBack: the configured strategy picks. An unknown
    AuthID is invalid even when a delegate is named too (CPA checks the id first).
    CPA: TestManagerPluginSchedulerFallsBackWhenUnhandledOrUnknown."""
    assert await pick(wire_host(scheduler("scheduler", 0, result)), creds("auth-1")) is None


async def test_a_valid_auth_id_wins_over_an_invalid_delegate():
    """TestHostPickAuthPrefersValidAuthIDOverInvalidDelegate; the id is trimmed."""
    cands = creds("auth-a")
    result = {"Handled": True, "AuthID": " auth-a ", "DelegateBuiltin": "unknown"}
    assert await pick(wire_host(scheduler("scheduler", 0, result)), cands) is cands[0]


@pytest.mark.parametrize("delegate", ["round-robin", "fill-first"])
async def test_known_builtin_delegates(delegate):
    """TestHostPickAuthAllowsKnownBuiltinDelegates.
    CPA: TestManagerPluginSchedulerDelegatesBuiltin."""
    result = {"Handled": True, "DelegateBuiltin": delegate}
    assert await pick(wire_host(scheduler("scheduler", 0, result)), creds("auth-1")) == delegate


# ------------------------------------------------------------------ wire shapes (rpc_schema_test.go)


async def test_route_request_on_the_wire():
    """TestRPCModelRouteUsesAdapter: the request's format, model, stream flag, repeated
    headers and query values and raw body reach the plugin as sent; the answer's target is
    used."""
    seen: list[dict] = []

    def answer(params: dict) -> dict:
        seen.append(params)
        return {"Handled": True, "TargetKind": "executor", "Target": "websearch", "Reason": "typed websearch"}

    body = b'{"tools":[{"type":"web_search_20250305","name":"web_search"}]}'
    host = wire_host(router("router", 10, handlers={ROUTE: answer}), executor("websearch", caps={}))
    host.records["websearch"].caps["executor_input_formats"] = ["claude"]
    host.records["websearch"].caps["executor_output_formats"] = ["claude"]
    decision = await rules.route_model(
        host,
        source_format="claude",
        model="claude-sonnet",
        stream=True,
        headers=CIMultiDict([("X-Test", "one"), ("X-Test", "two")]),
        query=CIMultiDict([("beta", "true")]),
        body=body,
        available_providers=[],
        skip=None,
        scope=None,
    )
    assert decision is not None and (decision.kind, decision.target) == ("executor", "websearch")
    sent = seen[0]
    assert (sent["SourceFormat"], sent["RequestedModel"], sent["Stream"]) == ("claude", "claude-sonnet", True)
    assert sent["Headers"] == {"X-Test": ["one", "two"]} and sent["Query"] == {"beta": ["true"]}
    assert abi.b64decode(sent["Body"]) == body


async def test_scheduler_request_on_the_wire():
    """TestRPCSchedulerPickUsesAdapter and TestSanitizePluginRequestScheduler: provider,
    providers (in the route's order, as CPA's schedulerProviders hands them: the picked
    provider first; they were sorted by name), model, stream, repeated headers and each
    candidate's id, provider, priority, status and attributes reach the plugin. cliproxy
    also leaves out attributes that look secret (keys, tokens, cookies...), which CPA's
    candidates never carry.
    CPA: TestManagerPluginSchedulerCandidatesAreSafeCopies."""
    p = scheduler("scheduler", 0, {"Handled": True, "AuthID": "auth-2"})
    cands = [
        Credential("auth-1", "openai", priority=10, attributes={"region": "us"}),
        Credential("auth-2", "codex", priority=20, attributes={"region": "eu", "api_key": "sk-secret"}),
    ]
    chosen = await rules.pick_auth(
        wire_host(p),
        cands,
        provider="openai",
        providers=["Codex", "openai", "mixed"],
        model="gpt-5.4",
        stream=True,
        headers=CIMultiDict([("X-Test", "one"), ("X-Test", "two")]),
    )
    assert chosen is cands[1]
    sent = p.called(PICK)[0]
    assert (sent["Provider"], sent["Providers"], sent["Model"], sent["Stream"]) == (
        "openai",
        ["openai", "codex"],
        "gpt-5.4",
        True,
    )
    assert sent["Options"]["Headers"] == {"X-Test": ["one", "two"]}
    got = [(c["ID"], c["Provider"], c["Priority"], c["Status"], c["Attributes"]) for c in sent["Candidates"]]
    assert got == [
        ("auth-1", "openai", 10, "active", {"region": "us"}),
        ("auth-2", "codex", 20, "active", {"region": "eu"}),
    ]


async def test_candidates_carry_cpas_attributes_not_the_proxys_own():
    """A scheduler plugin sees an ``openai-compatibility`` credential's attributes as CPA
    gives them: ``compat_name``, ``provider_key``, ``base_url``... but not the two the proxy
    keeps for its own OpenAI-compatible provider (``tool_results_text_only`` for a
    text-only model's tool results, ``support_prompt_cache_key``), which leaked before.
    The same filter serves a plugin executor's ``AuthAttributes`` and ``model.for_auth``."""
    config = Config.model_validate(
        {
            "openai-compatibility": [
                {
                    "name": "Up",
                    "base-url": "http://up.local/v1",
                    "support-prompt-cache-key": True,
                    "api-key-entries": [{"api-key": "k1"}],
                    "models": [{"name": "txt", "alias": "txt", "input-modalities": ["text"]}],
                }
            ]
        }
    )
    (cred,) = from_config(config)
    assert {
        "tool_results_text_only",
        "support_prompt_cache_key",
    } <= cred.attributes.keys()  # the proxy reads them
    p = scheduler("scheduler", 0, {"Handled": True, "AuthID": cred.id})
    host = wire_host(p)
    picked = await rules.pick_auth(
        host, [cred], provider=cred.provider, providers=[], model="txt", stream=False, headers={}
    )
    assert picked is cred
    (sent,) = p.called(PICK)[0]["Candidates"]
    assert (
        sent["Attributes"]["compat_name"] == "Up" and sent["Attributes"]["base_url"] == "http://up.local/v1"
    )
    assert not {"tool_results_text_only", "support_prompt_cache_key", "api_key"} & sent["Attributes"].keys()
