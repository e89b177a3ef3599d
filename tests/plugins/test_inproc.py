"""The in-process transport: CPA method strings in, typed capability calls, wire out."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from cliproxy.plugins import api
from cliproxy.plugins.abi import CAPABILITY_FLAGS, SCHEMA_VERSION, PluginCrashed, PluginError
from cliproxy.plugins.inproc import PythonClient
from tests.plugins.test_api import Meta, RecordingDispatcher


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def register_params(yaml_text: str = "") -> dict[str, Any]:
    return {"config_yaml": b64(yaml_text.encode()), "schema_version": SCHEMA_VERSION}


class Everything(
    Meta,
    api.ModelRegistrar,
    api.ModelProvider,
    api.AuthProvider,
    api.FrontendAuthProvider,
    api.Scheduler,
    api.ModelRouter,
    api.Executor,
    api.RequestTranslator,
    api.RequestNormalizer,
    api.ResponseTranslator,
    api.ResponseNormalizer,
    api.RequestInterceptor,
    api.RequestLifecycle,
    api.ResponseInterceptor,
    api.StreamChunkInterceptor,
    api.ThinkingApplier,
    api.UsagePlugin,
    api.CommandLinePlugin,
    api.ManagementAPI,
):
    """Serves every capability; each answer echoes something of its request."""

    logo = "https://example.test/logo.png"
    config_fields = [api.ConfigField("mode", "enum", ["a", "b"], "the mode")]
    identifier = "acme"
    frontend_auth_identifier = "acme-keys"
    thinking_identifier = "acme-think"
    exclusive = True
    input_formats = ["openai"]
    output_formats = ["openai", "claude"]
    model_scope = "static"
    flags = [api.CommandLineFlag("acme-login", "log in to acme")]
    routes = [api.ManagementRoute("POST", "acme/ping", "", "ping")]
    resources = [api.ResourceRoute("/status", "Status")]

    def __init__(self) -> None:
        self.configured: list[dict[str, Any]] = []
        self.seen: list[Any] = []
        self.closed = False

    async def configure(self, config, host):
        self.configured.append(config)

    async def close(self):
        self.closed = True

    async def register_models(self, request):
        return api.ModelList("acme", [api.ModelInfo(id=request.plugin.name + "-m")])

    async def static_models(self, request):
        return api.ModelList("acme", [api.ModelInfo(id="static:" + request.host.auth_dir)])

    async def models_for_auth(self, request):
        return api.ModelList("acme", [], api.AuthData(provider="acme", label=request.auth_id))

    async def parse(self, request):
        if request.file_name != "acme.json":
            return None
        return api.AuthParseResponse(True, api.AuthData(provider="acme", storage_json=request.raw_json))

    async def login_start(self, request):
        return api.LoginStartResponse("acme", request.base_url + "/go", "st-1")

    async def login_poll(self, request):
        return api.LoginPollResponse("success", auth=api.AuthData(provider="acme", id=request.state))

    async def refresh(self, request):
        return api.AuthRefreshResponse(next_refresh_after=datetime(2026, 9, 1, tzinfo=UTC))

    async def authenticate(self, request):
        if request.headers.get("X-Key") == ["good"]:
            return api.FrontendAuthResponse(True, "alice", {"team": "a"})
        return None

    async def pick(self, request):
        if request.model == "deny":
            raise api.PluginError("denied by policy", http_status=403, code="scheduler_denied")
        return api.PickDecision.auth(request.candidates[-1].id)

    async def route(self, request):
        return api.RouteDecision.self_() if request.requested_model == "acme-1" else None

    async def execute(self, request):
        if request.model == "broken":
            raise KeyError("oops")
        return api.ExecutorResponse(request.payload.upper(), {"X-Model": [request.model]})

    async def execute_stream(self, request):
        for part in request.payload.split(b","):
            yield part

    async def count_tokens(self, request):
        return api.ExecutorResponse(b'{"input_tokens":3}')

    async def http_request(self, request):
        return api.HttpResponse(202, {}, request.url.encode())

    async def translate_request(self, request):
        return request.body + b"|" + request.to_format.encode()

    async def normalize_request(self, request):
        return None

    async def translate_response(self, request):
        return request.body[::-1]

    async def normalize_after(self, request):
        return b"after:" + request.body

    async def intercept_before(self, request):
        if b"forbidden" in request.body:
            return api.InterceptResult.terminate_with(403, b"no")
        return api.InterceptResult(headers={"X-Seen": ["1"]}, clear_headers=["Cookie"])

    async def complete(self, completion):
        self.seen.append(completion)

    async def intercept_response(self, request):
        return api.ResponseInterceptResult(body=request.body + b"!")

    async def intercept_chunk(self, request):
        return api.ChunkInterceptResult.drop() if request.body == b"ping" else None

    async def apply_thinking(self, request):
        return f"{request.config.mode}:{request.config.budget}".encode()

    async def handle_usage(self, record):
        self.seen.append(record)

    async def run_command(self, request):
        return api.CommandLineResult(stdout=b"hi " + " ".join(request.args).encode(), exit_code=3)

    async def handle_management(self, request):
        await self.host.log("info", "managing", path=request.path)
        return api.ManagementResponse.json({"path": request.path})


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
async def client(dispatcher):
    client = PythonClient(Everything(), "everything", dispatcher, path="/plugins/everything.py")
    await client.call("plugin.register", register_params("enabled: true\npriority: 5\nmode: a\n"))
    yield client
    await client.shutdown()


async def test_client_identity(client):
    assert (client.plugin_id, client.path, client.transport) == (
        "everything",
        "/plugins/everything.py",
        "python",
    )


async def test_register_answers_metadata_and_every_capability_flag(dispatcher):
    """CPA: TestRPCCapabilitiesIncludeFrontendAuthProviderExclusive,
    TestRPCCapabilitiesIncludeScheduler, TestRPCCapabilitiesIncludeModelRouter,
    TestRPCCapabilitiesAndAdapterIncludeRequestLifecycle (each flag in the capability JSON;
    ``request.complete`` reaching the plugin: test_lifecycle_and_usage_receive_typed_records)."""
    plugin = Everything()
    client = PythonClient(plugin, "everything", dispatcher)
    result = await client.call("plugin.register", register_params("enabled: true\npriority: 5\nmode: a\n"))
    assert plugin.configured == [{"enabled": True, "priority": 5, "mode": "a"}]
    assert plugin.host is client.host and client.host.schema_version == SCHEMA_VERSION
    assert result["schema_version"] == 3
    assert result["metadata"] == {
        "Name": "meta",
        "Version": "1.0.0",
        "Author": "tester",
        "GitHubRepository": "https://github.com/example/meta",
        "Logo": "https://example.test/logo.png",
        "ConfigFields": [
            {"Name": "mode", "Type": "enum", "EnumValues": ["a", "b"], "Description": "the mode"}
        ],
    }
    caps = result["capabilities"]
    assert {flag: caps[flag] for flag in CAPABILITY_FLAGS} == {
        **dict.fromkeys(CAPABILITY_FLAGS, True),
        "response_before_translator": False,
    }
    assert caps["executor_model_scope"] == "static"
    assert (caps["executor_input_formats"], caps["executor_output_formats"]) == (
        ["openai"],
        ["openai", "claude"],
    )
    await client.shutdown()


async def test_register_of_a_single_capability_plugin(dispatcher):
    class Router(Meta, api.ModelRouter):
        async def route(self, request):
            return None

    client = PythonClient(Router(), "r", dispatcher)
    result = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
    assert [flag for flag, on in result["capabilities"].items() if on is True] == ["model_router"]
    assert result["capabilities"]["executor_model_scope"] == "both"
    assert "executor_input_formats" not in result["capabilities"]
    await client.shutdown()


async def test_reconfigure_calls_configure_again(client):
    await client.call("plugin.reconfigure", register_params("enabled: true\nmode: b\n"))
    assert client.plugin.configured[-1] == {"enabled": True, "mode": "b"}


async def test_an_invalid_plugin_is_refused_at_register(dispatcher):
    class Half(Meta, api.Executor):
        identifier = "half"

        def execute(self, request):
            return api.ExecutorResponse()

    client = PythonClient(Half(), "half", dispatcher)
    with pytest.raises(PluginError) as caught:
        await client.call("plugin.register", register_params())
    assert caught.value.code == "invalid_plugin"
    assert caught.value.message == (
        "plugin half (Half) is invalid: Executor.execute must be async def; "
        "Executor needs input_formats and output_formats"
    )
    await client.shutdown()


async def test_a_bad_config_is_refused(dispatcher):
    client = PythonClient(Everything(), "e", dispatcher)
    for text in ("a: [1", "- just\n- a list\n"):
        with pytest.raises(PluginError) as caught:
            await client.call("plugin.register", register_params(text))
        assert caught.value.code == "invalid_config"
    await client.shutdown()


async def test_unknown_and_undeclared_methods_are_unsupported(dispatcher):
    class Router(Meta, api.ModelRouter):
        async def route(self, request):
            return None

    client = PythonClient(Router(), "r", dispatcher)
    for method in ("plugin.shutdown", "no.such.method", "executor.execute"):
        with pytest.raises(PluginError) as caught:
            await client.call(method, {})
        assert caught.value.code == "unsupported_method"
    await client.shutdown()


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "model.register",
        {"Plugin": {"Name": "meta"}},
        {"Provider": "acme", "Models": [api.ModelInfo(id="meta-m").to_wire()], "AuthUpdate": None},
    ),
    (
        "model.static",
        {"Plugin": {}, "Host": {"AuthDir": "/auths"}},
        {"Provider": "acme", "Models": [api.ModelInfo(id="static:/auths").to_wire()], "AuthUpdate": None},
    ),
    (
        "model.for_auth",
        {"AuthID": "a1", "StorageJSON": b64(b"{}"), "host_callback_id": "1"},
        api.ModelList("acme", [], api.AuthData(provider="acme", label="a1")).to_wire(),
    ),
    (
        "model.route",
        {"RequestedModel": "acme-1", "SourceFormat": "openai"},
        {"Handled": True, "TargetKind": "self", "Target": "", "TargetModel": "", "Reason": ""},
    ),
    (
        "model.route",
        {"RequestedModel": "gpt-5"},
        {"Handled": False, "TargetKind": "", "Target": "", "TargetModel": "", "Reason": ""},
    ),
    ("auth.identifier", {}, {"identifier": "acme"}),
    (
        "auth.parse",
        {"FileName": "acme.json", "RawJSON": b64(b'{"k":1}')},
        api.AuthParseResponse(True, api.AuthData(provider="acme", storage_json=b'{"k":1}')).to_wire(),
    ),
    ("auth.parse", {"FileName": "other.json"}, {"Handled": False, "Auth": None, "Auths": []}),
    (
        "auth.login.start",
        {"BaseURL": "http://h/v0/management/oauth-callback"},
        api.LoginStartResponse("acme", "http://h/v0/management/oauth-callback/go", "st-1").to_wire(),
    ),
    (
        "auth.login.poll",
        {"State": "st-1"},
        api.LoginPollResponse("success", auth=api.AuthData(provider="acme", id="st-1")).to_wire(),
    ),
    ("auth.refresh", {"AuthID": "a1"}, {"Auth": None, "NextRefreshAfter": "2026-09-01T00:00:00Z"}),
    ("frontend_auth.identifier", {}, {"identifier": "acme-keys"}),
    (
        "frontend_auth.authenticate",
        {"Headers": {"X-Key": ["good"]}},
        {"Authenticated": True, "Principal": "alice", "Metadata": {"team": "a"}},
    ),
    (
        "frontend_auth.authenticate",
        {"headers": {"X-Key": ["bad"]}},
        {"Authenticated": False, "Principal": "", "Metadata": {}},
    ),
    (
        "scheduler.pick",
        {"Model": "m", "Candidates": [{"ID": "a1"}, {"ID": "a2"}]},
        {"AuthID": "a2", "DelegateBuiltin": "", "Handled": True},
    ),
    ("executor.identifier", {}, {"identifier": "acme"}),
    (
        "executor.execute",
        {"Model": "m1", "Payload": b64(b"hello")},
        {"Payload": b64(b"HELLO"), "Headers": {"X-Model": ["m1"]}, "Metadata": {}},
    ),
    (
        "executor.count_tokens",
        {"Payload": b64(b"hello")},
        {"Payload": b64(b'{"input_tokens":3}'), "Headers": {}, "Metadata": {}},
    ),
    (
        "executor.http_request",
        {"Method": "GET", "URL": "https://u.test/x"},
        {"StatusCode": 202, "Headers": {}, "Body": b64(b"https://u.test/x")},
    ),
    ("request.translate", {"ToFormat": "claude", "Body": b64(b"b")}, {"Body": b64(b"b|claude")}),
    ("request.normalize", {"Body": b64(b"b")}, {"Body": ""}),
    ("response.translate", {"Body": b64(b"abc")}, {"Body": b64(b"cba")}),
    ("response.normalize_after", {"Body": b64(b"x")}, {"Body": b64(b"after:x")}),
    ("response.normalize_before", {"Body": b64(b"x")}, {"Body": ""}),
    (
        "request.intercept_before",
        {"Body": b64(b"forbidden")},
        api.InterceptResult.terminate_with(403, b"no").to_wire(),
    ),
    (
        "request.intercept_before",
        {"Body": b64(b"fine")},
        api.InterceptResult(headers={"X-Seen": ["1"]}, clear_headers=["Cookie"]).to_wire(),
    ),
    ("request.intercept_after", {"Body": b64(b"fine")}, api.InterceptResult().to_wire()),
    ("request.complete", {"RequestID": "r1", "Outcome": "succeeded"}, {}),
    (
        "response.intercept_after",
        {"Body": b64(b"ok")},
        {"Headers": {}, "Body": b64(b"ok!"), "ClearHeaders": []},
    ),
    (
        "response.intercept_stream_chunk",
        {"Body": b64(b"ping"), "ChunkIndex": 4},
        {"Headers": {}, "Body": "", "ClearHeaders": [], "DropChunk": True},
    ),
    (
        "response.intercept_stream_chunk",
        {"Body": b64(b"data")},
        {"Headers": {}, "Body": "", "ClearHeaders": [], "DropChunk": False},
    ),
    ("thinking.identifier", {}, {"identifier": "acme-think"}),
    ("thinking.apply", {"Config": {"Mode": "budget", "Budget": 1024}}, {"Body": b64(b"budget:1024")}),
    ("usage.handle", {"Provider": "acme", "Latency": 5_000_000}, {}),
    (
        "command_line.register",
        {"Plugin": {}},
        {"Flags": [{"Name": "acme-login", "Usage": "log in to acme", "Type": "bool", "DefaultValue": ""}]},
    ),
    (
        "command_line.execute",
        {"Args": ["a", "b"]},
        {"Stdout": b64(b"hi a b"), "Stderr": "", "Auths": [], "ExitCode": 3},
    ),
    (
        "management.register",
        {"BasePath": "/v0/management"},
        {
            "routes": [{"Method": "POST", "Path": "acme/ping", "Menu": "", "Description": "ping"}],
            "resources": [{"Path": "/status", "Menu": "Status", "Description": ""}],
        },
    ),
]


@pytest.mark.parametrize(("method", "params", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_each_capability_dispatches(client, method, params, expected):
    """Each capability method reaches its hook (CPA: TestHostApplyConfigDispatchesInterceptorRPCMethods
    for the interceptor ones)."""
    assert await client.call(method, params) == expected


async def test_lifecycle_and_usage_receive_typed_records(client):
    await client.call("request.complete", {"RequestID": "r1", "Outcome": "failed", "StatusCode": 502})
    await client.call("usage.handle", {"Provider": "acme", "Latency": 5_000_000})
    completion, record = client.plugin.seen
    assert (completion.request_id, completion.outcome, completion.status_code) == ("r1", "failed", 502)
    assert record.latency.total_seconds() == 0.005 and record.generate is True


async def test_host_calls_carry_the_callback_id_of_the_call_being_served(client, dispatcher):
    result = await client.call(
        "management.handle", {"Method": "GET", "Path": "/status", "host_callback_id": "42"}
    )
    assert result["StatusCode"] == 200 and base64.b64decode(result["Body"]) == b'{"path":"/status"}'
    assert dispatcher.calls == [
        (
            "everything",
            "host.log",
            {"level": "info", "message": "managing", "fields": {"path": "/status"}, "host_callback_id": "42"},
        )
    ]
    assert api.callback_id.get() == ""  # reset after the call


async def test_plugin_error_keeps_its_status(client):
    with pytest.raises(PluginError) as caught:
        await client.call("scheduler.pick", {"Model": "deny"})
    assert (caught.value.message, caught.value.http_status, caught.value.code) == (
        "denied by policy",
        403,
        "scheduler_denied",
    )


async def test_an_unexpected_exception_is_a_crash(client):
    with pytest.raises(
        PluginCrashed, match=r"plugin everything crashed in executor.execute: KeyError\('oops'\)"
    ):
        await client.call("executor.execute", {"Model": "broken"})


async def test_default_optional_methods_answer_unsupported(dispatcher):
    class Exec(Meta, api.Executor):
        identifier, input_formats, output_formats = "x", ["openai"], ["openai"]

        async def execute(self, request):
            return api.ExecutorResponse(b"one")

    client = PythonClient(Exec(), "x", dispatcher)
    with pytest.raises(PluginError) as caught:
        await client.call("executor.count_tokens", {})
    assert (caught.value.http_status, caught.value.code) == (501, "unsupported")
    assert await client.call("executor.execute_stream", {}) == {
        "headers": {},
        "chunks": [{"Payload": b64(b"one")}],
    }
    await client.shutdown()


async def test_a_slow_call_times_out(dispatcher):
    class Slow(Meta, api.ModelRouter):
        async def route(self, request):
            await asyncio.sleep(5)

    client = PythonClient(Slow(), "slow", dispatcher)
    with pytest.raises(PluginError) as caught:
        await client.call("model.route", {}, timeout=0.01)
    assert (caught.value.code, caught.value.http_status) == ("timeout", 504)
    await client.shutdown()


async def test_shutdown_closes_the_plugin_and_refuses_calls(client):
    await client.shutdown()
    assert client.plugin.closed
    with pytest.raises(PluginError, match="closed"):
        await client.call("executor.identifier", {})


async def test_shutdown_waits_for_calls_in_flight(dispatcher):
    release = asyncio.Event()

    class Waiting(Meta, api.ModelRouter):
        async def route(self, request):
            await release.wait()
            return api.RouteDecision.provider("claude")

    client = PythonClient(Waiting(), "w", dispatcher)
    call = asyncio.create_task(client.call("model.route", {}))
    await asyncio.sleep(0)
    closing = asyncio.create_task(client.shutdown())
    await asyncio.sleep(0.01)
    assert not closing.done()
    release.set()
    assert (await call)["Target"] == "claude"
    await closing
