"""CPA's host adapter tests (internal/pluginhost/adapters_test.go, host_test.go) not
covered elsewhere, on the wire: scripted plugins answer with the JSON a native plugin
would send (tests/plugins/wire_host.py) and the host's own functions are checked."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from cliproxy.config.model import Config
from cliproxy.plugins import abi, rules
from cliproxy.plugins.abi import PluginError, b64decode, b64encode
from cliproxy.plugins.callbacks import BRIDGE_END, Callbacks, ScopeContext
from cliproxy.plugins.registration import plugin_credentials
from cliproxy.plugins.surface import authenticate, frontend_providers, handle_management
from tests.plugins.wire_host import WirePlugin, executor, wire_host

CONFIG = SimpleNamespace(auth_dir="/tmp/plugin-auth", proxy_url="http://proxy.local", force_model_prefix=True)


def registrar(provider: str, *models: str, static: bool = False) -> dict[str, Any]:
    """A ``model.register`` (or ``model.static``) handler answering ``provider`` and ``models``."""
    method = abi.MODEL_STATIC if static else abi.MODEL_REGISTER
    return {method: lambda _p: {"Provider": provider, "Models": [{"ID": m} for m in models]}}


def model_executor(plugin_id: str, priority: int, provider: str, *models: str, **caps: Any) -> WirePlugin:
    return executor(
        plugin_id,
        priority,
        identifier=provider,
        caps={"model_registrar": True, **caps},
        handlers=registrar(provider, *models),
    )


async def test_interceptor_and_management_calls_carry_an_open_callback_scope():
    """CPA: TestRPCInterceptorsIncludeHostCallbackID, TestRPCManagementIncludesHostCallbackID.
    Each interceptor call (before and after auth, response, stream chunk) and a
    management call carries a ``host_callback_id`` whose scope is open while the plugin
    runs (so its host.* callbacks find the request) and closed once it answered."""
    seen: list[tuple[str, bool]] = []

    def recording(method: str):
        def handler(params: dict[str, Any]) -> dict[str, Any]:
            scope_id = params.get("host_callback_id", "")
            seen.append((method, bool(scope_id) and scope_id in host.callbacks._scopes))
            return {}

        return handler

    methods = [
        abi.REQUEST_INTERCEPT_BEFORE,
        abi.REQUEST_INTERCEPT_AFTER,
        abi.RESPONSE_INTERCEPT_AFTER,
        abi.RESPONSE_INTERCEPT_STREAM_CHUNK,
        abi.MANAGEMENT_HANDLE,
    ]
    caps = {
        "request_interceptor": True,
        "response_interceptor": True,
        "response_stream_interceptor": True,
        "management_api": True,
    }
    plugin = WirePlugin("alpha", 0, caps, {m: recording(m) for m in methods})
    host = wire_host(plugin)
    host.callbacks = Callbacks(host, None)  # type: ignore[arg-type]  # no service needed here
    scope = ScopeContext({}, {}, "request-1")
    for method in methods[:2]:
        await rules.intercept(
            host,
            method,
            request_id="request-1",
            source_format="openai",
            to_format="openai",
            model="m",
            requested_model="m",
            stream=False,
            headers={},
            body=b"request",
            skip=None,
            scope=scope,
        )
    await rules.response_intercept(
        host,
        request_id="request-1",
        source_format="openai",
        model="m",
        requested_model="m",
        stream=False,
        request_headers={},
        response_headers={},
        original=b"request",
        body=b"response",
        skip=None,
        scope=scope,
    )
    state = rules.ChunkState("request-1", "openai", "m", "m", {}, {}, b"request", None, scope)
    await rules.stream_chunk(host, state, b"chunk")
    reply = await handle_management(
        host, host.get("alpha"), method="GET", path="/v0/management/plugins/alpha/status",
        headers={}, query={}, body=b"request",
    )  # fmt: skip
    assert reply.status == 200
    assert seen == [(m, True) for m in methods]
    assert b64decode(plugin.called(abi.MANAGEMENT_HANDLE)[0]["Body"]) == b"request"
    assert host.callbacks._scopes == {}  # every scope closed


async def test_interceptors_do_not_change_the_callers_headers_or_body():
    """CPA: TestInterceptorsDoNotMutateInputs (request side): whatever the plugin does to
    what it got, the headers and body the chain was handed stay as they were."""

    def mutating(params: dict[str, Any]) -> dict[str, Any]:
        params["Headers"]["X-Request"] = ["mutated"]
        return {"Body": b64encode(b64decode(params["Body"]) + b"|ok")}

    host = wire_host(
        WirePlugin("request", 0, {"request_interceptor": True}, {abi.REQUEST_INTERCEPT_BEFORE: mutating})
    )
    headers = {"X-Request": "input"}
    body = b"request-body"
    state = await rules.intercept(
        host,
        abi.REQUEST_INTERCEPT_BEFORE,
        request_id="r",
        source_format="openai",
        to_format="",
        model="m",
        requested_model="m",
        stream=False,
        headers=headers,
        body=body,
        skip=None,
        scope=None,
    )
    assert state.body == b"request-body|ok"
    assert headers == {"X-Request": "input"} and body == b"request-body"


async def test_the_highest_priority_executor_claims_a_shared_model():
    """CPA: TestRegisterExecutorsSelectsHighestPriorityPluginExecutorPerModel: two plugin
    executors registering the same model: the higher-priority plugin serves it, the lower
    one (left with no model) gets no credential."""
    host = wire_host(
        model_executor("low", 10, "low-provider", "shared-model"),
        model_executor("high", 20, "high-provider", "shared-model"),
    )
    creds = await plugin_credentials(host, CONFIG)
    assert [(c.id, c.provider, [m.alias for m in c.models]) for c in creds] == [
        ("plugin:high:high-provider:executor", "high-provider", ["shared-model"])
    ]


async def test_registration_failures_empty_answers_and_blank_models_register_nothing():
    """CPA: TestRegisterModelsSkipsErrorEmptyAndInvalidModels and
    TestRegisterModelsPanicFusesPluginAndSkipsLaterCalls: a registrar that errors, answers
    no model or only blank model ids gets no credential; one that crashes is fused and not
    asked again at the next registration."""

    def failing(_p: dict[str, Any]) -> Any:
        raise PluginError("register failed")

    def crashing(_p: dict[str, Any]) -> Any:
        raise RuntimeError("register models panic")

    plugins = [
        executor("error", caps={"model_registrar": True}, handlers={abi.MODEL_REGISTER: failing}),
        executor("empty-models", caps={"model_registrar": True}, handlers=registrar("provider")),
        executor("invalid-models", caps={"model_registrar": True}, handlers=registrar("provider", " ")),
        executor("panic", caps={"model_registrar": True}, handlers={abi.MODEL_REGISTER: crashing}),
    ]
    host = wire_host(*plugins)
    assert await plugin_credentials(host, CONFIG) == []
    assert await plugin_credentials(host, CONFIG) == []
    assert host.records["panic"].fused and len(plugins[3].called(abi.MODEL_REGISTER)) == 1


async def test_static_models_come_first_with_the_host_summary_and_names_are_normalised():
    """CPA: TestRegisterModelsUsesModelProviderStaticModels,
    TestRegisterExecutorsUsesRegisteredModelProviderBeforeFallback and
    TestRegisterExecutorsFallbackUsesExecutorIdentifier: ``model.static`` is asked rather
    than ``model.register`` when a plugin has both, with the plugin's metadata and the
    host summary (auth dir, proxy, force-model-prefix); the provider it names is trimmed
    and lower-cased, model ids trimmed; a registration naming no provider falls back to the
    executor's identifier. The summary also carries ``oauth-model-alias`` and
    ``oauth-excluded-models`` by provider (sent empty before), and ``null`` for each when
    the config has none, as Go writes a nil map."""
    static = executor(
        "alpha",
        identifier="alpha-exec",
        caps={"model_provider": True, "model_registrar": True},
        handlers={
            abi.MODEL_STATIC: lambda _p: {
                "Provider": "  Plugin-Provider  ",
                "Models": [{"ID": " model-static "}],
            },
            **registrar("legacy-provider", "legacy-model"),
        },
    )
    fallback = executor(
        "beta", identifier="Beta-Exec", caps={"model_registrar": True}, handlers=registrar(" ", "beta-model")
    )
    host = wire_host(static, fallback)
    config = Config.model_validate(
        {
            "auth-dir": "/tmp/plugin-auth",
            "proxy-url": "http://proxy.local",
            "force-model-prefix": True,
            "oauth-model-alias": {"Plugin-Provider": [{"name": " upstream-model ", "alias": "alias-model"}]},
            "oauth-excluded-models": {"plugin-provider": ["hidden-model"]},
        }
    )
    creds = await plugin_credentials(host, config)
    assert [(c.provider, [m.alias for m in c.models]) for c in creds] == [
        ("plugin-provider", ["model-static"]),
        ("beta-exec", ["beta-model"]),
    ]
    assert static.called(abi.MODEL_REGISTER) == []
    (params,) = static.called(abi.MODEL_STATIC)
    assert params["Plugin"]["Name"] == "wire"
    assert (
        params["Host"]["AuthDir"] == "/tmp/plugin-auth" and params["Host"]["ProxyURL"] == "http://proxy.local"
    )
    assert params["Host"]["ForceModelPrefix"] is True
    assert params["Host"]["OAuthModelAlias"] == {
        "plugin-provider": [{"Name": "upstream-model", "Alias": "alias-model"}]
    }
    assert params["Host"]["ExcludedModels"] == {"plugin-provider": ["hidden-model"]}
    plain = executor("gamma", caps={"model_provider": True}, handlers=registrar("gamma", "g1", static=True))
    await plugin_credentials(wire_host(plain), CONFIG)
    (params,) = plain.called(abi.MODEL_STATIC)
    assert (params["Host"]["OAuthModelAlias"], params["Host"]["ExcludedModels"]) == (None, None)


@pytest.mark.parametrize(("scope", "registered"), [("static", True), ("both", True), ("oauth", False)])
async def test_the_model_scope_decides_static_registration(scope, registered):
    """CPA: TestRegisterExecutorsOAuthScopeSkipsStaticModelClientButRegistersExecutor,
    TestRegisterExecutorsBothScopeKeepsStaticAndOAuthModels (static half): an executor of
    scope ``oauth`` serves only credential files (no static models); ``static`` and
    ``both`` register their static models."""
    plugin = model_executor("alpha", 0, "alpha", "m1", executor_model_scope=scope)
    creds = await plugin_credentials(wire_host(plugin), CONFIG)
    assert bool(creds) is registered
    assert bool(plugin.called(abi.MODEL_REGISTER)) is registered


def _frontend(plugin_id: str, priority: int, *, provider: bool = True, exclusive: bool = False) -> WirePlugin:
    caps = {"frontend_auth_provider": provider, "frontend_auth_provider_exclusive": exclusive}
    return WirePlugin(
        plugin_id, priority, caps, {abi.FRONTEND_AUTH_IDENTIFIER: lambda _p: {"identifier": "custom-auth"}}
    )


async def test_an_exclusive_frontend_auth_provider_by_priority_then_id():
    """CPA: TestRegisterFrontendAuthProvidersSelectsHighestPriorityExclusiveProvider,
    ...SelectsExclusiveProviderByPluginIDWhenPriorityTies,
    ...IgnoresExclusiveWithoutFrontendAuthProvider and
    ...ClearsExclusiveProviderWhenExclusivePluginRemoved: the exclusive provider of the
    highest priority (on a tie, the lower plugin id) is the only one; an exclusive flag
    without a provider does not count; without an exclusive one every provider serves."""
    recs, exclusive = await frontend_providers(
        wire_host(
            _frontend("exclusive-low", 1, exclusive=True),
            _frontend("exclusive-high", 10, exclusive=True),
            _frontend("normal-auth", 20),
        )
    )
    assert ([r.id for r in recs], exclusive) == (["exclusive-high"], True)
    recs, exclusive = await frontend_providers(
        wire_host(_frontend("b-tie", 5, exclusive=True), _frontend("a-tie", 5, exclusive=True))
    )
    assert ([r.id for r in recs], exclusive) == (["a-tie"], True)
    recs, exclusive = await frontend_providers(
        wire_host(
            _frontend("exclusive-without-provider", 0, provider=False, exclusive=True),
            _frontend("normal-auth", 0),
        )
    )
    assert ([r.id for r in recs], exclusive) == (["normal-auth"], False)


async def _settled() -> None:
    for _ in range(5):  # the background usage calls: a few loop turns
        await asyncio.sleep(0)


async def test_usage_records_reach_each_current_usage_plugin_once_and_a_crash_fuses():
    """CPA: TestUsageAdapterPanicFusesPlugin, TestUsageAdapterUsesCurrentSnapshotCapability,
    TestRegisterUsagePluginsStaleAdapterSkipsRemovedCapability,
    TestUsageManagerRegisterNamedReplacesWithoutDuplicateDispatch and
    TestUsageAdapterNormalizesOmittedGenerateToTrue (the record as the proxy sends it). A
    record goes once to each usage plugin of the current snapshot, not to one that lost
    the capability at a reload; a plugin that crashes on it is fused and gets no later
    record."""

    def crashing(_p: dict[str, Any]) -> Any:
        raise RuntimeError("usage panic")

    ok = WirePlugin("usage-ok", 0, {"usage_plugin": True}, {abi.USAGE_HANDLE: lambda _p: {}})
    panic = WirePlugin("usage-panic", 0, {"usage_plugin": True}, {abi.USAGE_HANDLE: crashing})
    gone = WirePlugin("usage-gone", 0, {}, {abi.USAGE_HANDLE: lambda _p: {}})  # the capability dropped
    host = wire_host(ok, panic, gone)
    rules.usage(host, {"Provider": "plugin-provider", "Model": "gpt-5.4", "Generate": True})
    await _settled()
    rules.usage(host, {"Provider": "plugin-provider", "Model": "gpt-5.4", "Generate": True})
    await _settled()
    assert [p["Generate"] for p in ok.called(abi.USAGE_HANDLE)] == [True, True]
    assert host.records["usage-panic"].fused and len(panic.called(abi.USAGE_HANDLE)) == 1
    assert gone.called(abi.USAGE_HANDLE) == []


async def test_frontend_auth_failures_leave_the_request_unauthenticated():
    """CPA: TestAccessAdapterAuthenticateFailures: a plugin that does not authenticate the
    request, one that answers an error and one that crashes (then fused) leave it
    unauthenticated (CPA's "not handled"), and the next provider is asked. (The body-read
    failure case is Go's: cliproxy hands the plugin the body it already read.)"""

    def crashing(_p: dict[str, Any]) -> Any:
        raise RuntimeError("auth panic")

    def failing(_p: dict[str, Any]) -> Any:
        raise PluginError("not mine")

    def plugin(plugin_id: str, priority: int, handler: Any) -> WirePlugin:
        handlers = {abi.FRONTEND_AUTH_IDENTIFIER: lambda _p: {"identifier": "custom-auth"}}
        handlers[abi.FRONTEND_AUTH_AUTHENTICATE] = handler
        return WirePlugin(plugin_id, priority, {"frontend_auth_provider": True}, handlers)

    async def auth(host: Any) -> str | None:
        recs, _ = await frontend_providers(host)
        return await authenticate(
            host, recs, method="POST", path="/v1/models", headers={}, query={}, body=b"request-body"
        )

    no = plugin("auth-plugin", 3, lambda _p: {"Authenticated": False})
    host = wire_host(no, plugin("auth-error", 2, failing), plugin("auth-panic", 1, crashing))
    assert await auth(host) is None
    assert host.records["auth-panic"].fused and not host.records["auth-error"].fused
    assert b64decode(no.called(abi.FRONTEND_AUTH_AUTHENTICATE)[0]["Body"]) == b"request-body"
    yes = plugin("auth-yes", 0, lambda _p: {"Authenticated": True, "Principal": "user-1"})
    assert await auth(wire_host(plugin("auth-error", 2, failing), yes)) == "user-1"


async def test_a_crashing_executor_identifier_fuses_the_plugin():
    """CPA: TestRegisterExecutorsIdentifierPanicFusesPlugin: an executor whose identifier
    call crashes (asked because its registration names no provider) is fused and serves
    nothing."""

    def crashing(_p: dict[str, Any]) -> Any:
        raise RuntimeError("identifier panic")

    plugin = executor("alpha", caps={"model_registrar": True}, handlers=registrar("", "m1"))
    plugin.handlers[abi.EXECUTOR_IDENTIFIER] = crashing
    host = wire_host(plugin)
    assert await plugin_credentials(host, CONFIG) == []
    assert host.records["alpha"].fused


async def test_one_plugin_executor_serves_a_provider():
    """CPA: TestRegisterExecutorsSameProviderKeepsFirstSnapshotCandidate: two plugin
    executors of one provider: the first in snapshot order (higher priority) serves it,
    the other gets no credential, even for models of its own. Before, both did."""
    host = wire_host(
        model_executor("low", 10, "provider", "low-model"),
        model_executor("high", 20, "provider", "high-model"),
    )
    creds = await plugin_credentials(host, CONFIG)
    assert [(c.id, [m.alias for m in c.models]) for c in creds] == [
        ("plugin:high:provider:executor", ["high-model"])
    ]


async def test_auth_providers_in_priority_order_with_trimmed_identifiers():
    """CPA: TestAuthProviderDiscovery: the auth providers are the active plugins with the
    capability, highest priority first, each named by its trimmed identifier (the lookups
    compare it lower-cased); a plugin without the capability is not one."""

    def auth(plugin_id: str, priority: int, identifier: str) -> WirePlugin:
        return WirePlugin(
            plugin_id,
            priority,
            {"auth_provider": True},
            {abi.AUTH_IDENTIFIER: lambda _p: {"identifier": identifier}},
        )

    other = executor(
        "missing-auth-provider", caps={"model_registrar": True}, handlers=registrar("provider", "m")
    )
    host = wire_host(auth("low", 10, "low-provider"), other, auth("high", 20, " High-Provider "))
    found = [await host.identifier(rec, abi.AUTH_IDENTIFIER) for rec in host.active("auth_provider")]
    assert found == ["High-Provider", "low-provider"]


async def test_stream_emit_then_close_reach_the_reader():
    """CPA: TestHostStreamCallbacksEmitAndClose: an emitted payload reaches the stream's
    reader, then the close ends the stream, and the closed stream takes no more emits."""
    callbacks = Callbacks(wire_host(), None)  # type: ignore[arg-type]  # no service needed here
    stream_id, chunks = callbacks.open_bridge("alpha")
    await callbacks.dispatch(
        "alpha", abi.HOST_STREAM_EMIT, {"stream_id": stream_id, "payload": b64encode(b"chunk")}
    )
    await callbacks.dispatch("alpha", abi.HOST_STREAM_CLOSE, {"stream_id": stream_id})
    assert chunks.get_nowait() == b"chunk"
    assert chunks.get_nowait() is BRIDGE_END
    with pytest.raises(PluginError, match="closed stream"):
        await callbacks.dispatch("alpha", abi.HOST_STREAM_EMIT, {"stream_id": stream_id, "payload": ""})


async def test_a_log_callback_names_the_request_of_its_scope(caplog):
    """CPA: TestHostLogCallbackRestoresRegisteredRequestContext: a ``host.log`` made within
    a request's callback scope carries that request's id."""
    callbacks = Callbacks(wire_host(), None)  # type: ignore[arg-type]  # no service needed here
    async with callbacks.scope("alpha", ScopeContext({}, {}, "request-123")) as scope_id:
        with caplog.at_level(logging.INFO, logger="cliproxy.plugins.callbacks"):
            params = {"host_callback_id": scope_id, "level": "info", "message": "plugin callback message"}
            await callbacks.dispatch("alpha", abi.HOST_LOG, params)
    (line,) = [r.getMessage() for r in caplog.records if "plugin callback message" in r.getMessage()]
    assert "request_id=request-123" in line
