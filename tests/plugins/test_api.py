"""The public face for plugin authors: exports, registration checks, host callbacks."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.plugins import api
from cliproxy.plugins.abi import PluginError


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class RecordingDispatcher:
    """A ``HostDispatcher`` that records every host call and answers from a script.

    ``answers[method]`` is a value, an exception to raise, or a list consumed one
    answer per call.
    """

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.answers = answers or {}

    async def host_call(self, plugin_id: str, method: str, params: Any) -> Any:
        self.calls.append((plugin_id, method, params))
        answer = self.answers.get(method, {})
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def methods(self) -> list[str]:
        return [method for _, method, _ in self.calls]

    def params(self, method: str) -> list[dict[str, Any]]:
        return [params for _, m, params in self.calls if m == method]


PUBLIC_NAMES = [
    "AuthCandidate",
    "AuthData",
    "AuthFile",
    "AuthFileContent",
    "AuthModelRequest",
    "AuthParseRequest",
    "AuthParseResponse",
    "AuthProvider",
    "AuthRefreshRequest",
    "AuthRefreshResponse",
    "ChunkInterceptRequest",
    "ChunkInterceptResult",
    "CommandLineFlag",
    "CommandLinePlugin",
    "CommandLineRegistrationRequest",
    "CommandLineRequest",
    "CommandLineResult",
    "ConfigField",
    "Executor",
    "ExecutorHttpRequest",
    "ExecutorRequest",
    "ExecutorResponse",
    "ExecutorStream",
    "ExecutorStreamChunk",
    "FlagValue",
    "FrontendAuthProvider",
    "FrontendAuthRequest",
    "FrontendAuthResponse",
    "Headers",
    "Host",
    "HostAuth",
    "HostConfig",
    "HostHttp",
    "HostModel",
    "HostStream",
    "HttpResponse",
    "InterceptRequest",
    "InterceptResult",
    "LoginPollRequest",
    "LoginPollResponse",
    "LoginStartRequest",
    "LoginStartResponse",
    "ManagementAPI",
    "ManagementRegistrationRequest",
    "ManagementRequest",
    "ManagementResponse",
    "ManagementRoute",
    "Metadata",
    "ModelAlias",
    "ModelInfo",
    "ModelList",
    "ModelProvider",
    "ModelRegistrar",
    "ModelRegistrationRequest",
    "ModelResponse",
    "ModelRouter",
    "PayloadResponse",
    "PickDecision",
    "PickRequest",
    "Plugin",
    "PluginError",
    "PluginMetadata",
    "Query",
    "RecentRequests",
    "RequestCompletion",
    "RequestInterceptor",
    "RequestLifecycle",
    "RequestNormalizer",
    "RequestTranslator",
    "ResourceRoute",
    "ResponseInterceptRequest",
    "ResponseInterceptResult",
    "ResponseInterceptor",
    "ResponseNormalizer",
    "ResponseTransformRequest",
    "ResponseTranslator",
    "RouteDecision",
    "RouteRequest",
    "SavedAuth",
    "Scheduler",
    "SchedulerOptions",
    "StaticModelRequest",
    "StreamChunkInterceptor",
    "ThinkingApplier",
    "ThinkingConfig",
    "ThinkingRequest",
    "ThinkingSupport",
    "TransformRequest",
    "UsageDetail",
    "UsageFailure",
    "UsagePlugin",
    "UsageRecord",
    "validate",
]


def test_public_names_are_pinned():
    assert api.__all__ == PUBLIC_NAMES
    for name in api.__all__:
        assert hasattr(api, name), name


def test_plugin_error_is_the_abi_one():
    err = api.PluginError("nope", http_status=429, code="busy")
    assert api.PluginError is PluginError
    assert (err.message, err.http_status, err.code) == ("nope", 429, "busy")


# -- registration checks


class Meta(api.Plugin):
    name, version, author = "meta", "1.0.0", "tester"
    github_repository = "https://github.com/example/meta"


class Router(Meta, api.ModelRouter):
    async def route(self, request: api.RouteRequest) -> api.RouteDecision | None:
        return None


def test_a_complete_plugin_is_valid():
    assert api.validate(Router()) == []


def test_an_object_that_is_not_a_plugin_is_refused():
    assert api.validate(object()) == ["object does not inherit cliproxy.plugins.api.Plugin"]


def test_missing_metadata_is_named():
    class Bare(api.Plugin, api.ModelRouter):
        version = "1"

        async def route(self, request):
            return None

    assert api.validate(Bare()) == ["missing name", "missing author", "missing github_repository"]


def test_a_plugin_without_capability_is_refused():
    assert api.validate(Meta()) == ["declares no capability (inherit e.g. ModelRouter or Executor)"]


def test_required_methods_must_be_overridden():
    class Lazy(Meta, api.ModelRouter, api.UsagePlugin, api.RequestInterceptor, api.ResponseNormalizer):
        pass

    assert api.validate(Lazy()) == [
        "ModelRouter.route is not implemented",
        "ResponseNormalizer needs one of normalize_before, normalize_after",
        "RequestInterceptor needs one of intercept_before, intercept_after",
        "UsagePlugin.handle_usage is not implemented",
    ]


def test_capability_methods_must_be_async():
    class Sync(Meta, api.Scheduler):
        def pick(self, request):
            return None

        def configure(self, config, host):
            pass

    assert api.validate(Sync()) == ["configure must be async def", "Scheduler.pick must be async def"]


def test_executor_needs_identifier_and_formats():
    class Exec(Meta, api.Executor):
        model_scope = "everything"

        async def execute(self, request):
            return api.ExecutorResponse()

    assert api.validate(Exec()) == [
        "Executor needs an identifier",
        "Executor needs input_formats and output_formats",
        "Executor.model_scope must be both, static or oauth",
    ]


def test_identifiers_fall_back_to_the_shared_one():
    class Auth(Meta, api.AuthProvider, api.ThinkingApplier):
        identifier = "acme"
        thinking_identifier = "acme-think"

        async def parse(self, request):
            return None

        async def apply_thinking(self, request):
            return None

    assert api.validate(Auth()) == []
    assert api.identifier_of(Auth(), "auth_identifier") == "acme"
    assert api.identifier_of(Auth(), "thinking_identifier") == "acme-think"


def test_declared_data_is_checked():
    class Cli(Meta, api.CommandLinePlugin, api.ManagementAPI):
        config_fields = [api.ConfigField("mode", "colour")]

        async def run_command(self, request):
            return api.CommandLineResult()

        async def handle_management(self, request):
            return api.ManagementResponse()

    assert api.validate(Cli()) == [
        "config field 'mode' has unknown type 'colour'",
        "CommandLinePlugin declares no flags",
        "ManagementAPI declares no routes or resources",
    ]


# -- host callbacks


@pytest.fixture
def scoped():
    token = api.callback_id.set("cb-7")
    yield "cb-7"
    api.callback_id.reset(token)


async def test_log_sends_level_message_fields_and_the_callback_id(scoped):
    dispatcher = RecordingDispatcher()
    await api.Host(dispatcher, "p1").log("info", "hello", user="u1", n=2)
    assert dispatcher.calls == [
        (
            "p1",
            "host.log",
            {
                "level": "info",
                "message": "hello",
                "fields": {"user": "u1", "n": 2},
                "host_callback_id": "cb-7",
            },
        )
    ]


async def test_no_callback_id_outside_a_plugin_call():
    dispatcher = RecordingDispatcher()
    await api.Host(dispatcher, "p1").log("debug", "boot")
    assert "host_callback_id" not in dispatcher.params("host.log")[0]


async def test_http_do(scoped):
    dispatcher = RecordingDispatcher(
        {"host.http.do": {"StatusCode": 201, "Headers": {"X": ["1"]}, "Body": b64(b"made")}}
    )
    resp = await api.Host(dispatcher, "p1").http.do("POST", "https://x.test/a", {"A": ["b"]}, {"k": 1})
    assert resp == api.HttpResponse(201, {"X": ["1"]}, b"made")
    assert dispatcher.params("host.http.do") == [
        {
            "method": "POST",
            "url": "https://x.test/a",
            "headers": {"A": ["b"]},
            "body": b64(b'{"k":1}'),
            "host_callback_id": "cb-7",
        }
    ]


async def test_http_stream_reads_until_done_and_closes_once(scoped):
    dispatcher = RecordingDispatcher(
        {
            "host.http.do_stream": {
                "status_code": 200,
                "headers": {"Content-Type": ["text/plain"]},
                "stream_id": "s1",
            },
            "host.http.stream_read": [{"payload": b64(b"ab")}, {"payload": b64(b"c"), "done": True}],
        }
    )
    async with api.Host(dispatcher, "p1").http.stream("GET", "https://x.test/s") as stream:
        assert (stream.status_code, stream.headers) == (200, {"Content-Type": ["text/plain"]})
        body = b"".join([chunk async for chunk in stream])
    assert body == b"abc"
    assert dispatcher.methods() == [
        "host.http.do_stream",
        "host.http.stream_read",
        "host.http.stream_read",
        "host.http.stream_close",
    ]
    assert dispatcher.params("host.http.do_stream")[0]["host_callback_id"] == "cb-7"
    assert dispatcher.params("host.http.stream_read") == [{"stream_id": "s1"}, {"stream_id": "s1"}]
    assert dispatcher.params("host.http.stream_close") == [{"stream_id": "s1"}]


async def test_model_execute_sends_cpa_params(scoped):
    """CPA: TestHostModelTypesPreserveFields (the execution request's snake_case keys,
    the response's status_code, headers and body)."""
    dispatcher = RecordingDispatcher(
        {"host.model.execute": {"status_code": 200, "headers": {}, "body": b64(b'{"id":"r"}')}}
    )
    resp = await api.Host(dispatcher, "p1").model.execute(
        "openai", "claude", "gpt-5", b'{"m":1}', query={"beta": ["true"]}, alt="sse"
    )
    assert resp == api.ModelResponse(200, {}, b'{"id":"r"}')
    assert dispatcher.params("host.model.execute") == [
        {
            "entry_protocol": "openai",
            "exit_protocol": "claude",
            "model": "gpt-5",
            "stream": False,
            "body": b64(b'{"m":1}'),
            "headers": {},
            "query": {"beta": ["true"]},
            "alt": "sse",
            "host_callback_id": "cb-7",
        }
    ]


async def test_model_stream_closes_on_exit_even_when_left_early(scoped):
    dispatcher = RecordingDispatcher(
        {
            "host.model.execute_stream": {"status_code": 200, "headers": {}, "stream_id": "m9"},
            "host.model.stream_read": [{"payload": b64(b"data: 1\n\n")}, {"payload": b64(b"data: 2\n\n")}],
        }
    )
    async with api.Host(dispatcher, "p1").model.stream("openai", "openai", "gpt-5", b"{}") as stream:
        async for chunk in stream:
            assert chunk == b"data: 1\n\n"
            break
    assert dispatcher.params("host.model.execute_stream")[0]["stream"] is True
    assert dispatcher.params("host.model.stream_close") == [{"stream_id": "m9"}]


async def test_model_stream_error_raises_plugin_error():
    """CPA: TestHostModelTypesPreserveFields (the stream's stream_id, a read's payload,
    error and done, the close request's stream_id)."""
    dispatcher = RecordingDispatcher(
        {
            "host.model.execute_stream": {"status_code": 200, "stream_id": "m1"},
            "host.model.stream_read": [{"payload": b64(b"x")}, {"error": "upstream 529", "done": True}],
        }
    )
    got: list[bytes] = []
    with pytest.raises(PluginError, match="upstream 529"):
        async for chunk in api.Host(dispatcher, "p1").model.stream("claude", "claude", "m", b"{}"):
            got.append(chunk)
    assert got == [b"x"]
    assert dispatcher.methods()[-1] == "host.model.stream_close"


async def test_host_errors_propagate():
    dispatcher = RecordingDispatcher(
        {"host.model.execute": PluginError("model execution failed with status 429")}
    )
    with pytest.raises(PluginError, match="429"):
        await api.Host(dispatcher, "p1").model.execute("openai", "openai", "m", b"{}")


async def test_auth_callbacks(scoped):
    entry = {
        "id": "a.json",
        "auth_index": "3",
        "name": "a.json",
        "provider": "claude",
        "disabled": True,
        "modtime": "2026-08-01T10:00:00Z",
        "recent_requests": [{"time": "10:00", "success": 2}],
    }
    dispatcher = RecordingDispatcher(
        {
            "host.auth.list": {"files": [entry]},
            "host.auth.get": {
                "auth_index": "3",
                "name": "a.json",
                "path": "/auths/a.json",
                "json": {"type": "claude"},
            },
            "host.auth.get_runtime": {"auth": entry},
            "host.auth.save": {"name": "b.json", "path": "/auths/b.json"},
        }
    )
    auth = api.Host(dispatcher, "p1").auth
    [listed] = await auth.list()
    assert (listed.auth_index, listed.provider, listed.disabled) == ("3", "claude", True)
    assert listed.recent_requests == [api.RecentRequests("10:00", 2, 0)]
    assert (await auth.get("3")).json == {"type": "claude"}
    assert (await auth.get_runtime("3")) == listed
    assert await auth.save("b.json", {"type": "acme"}) == api.SavedAuth("b.json", "/auths/b.json")
    assert dispatcher.calls == [
        ("p1", "host.auth.list", {}),
        ("p1", "host.auth.get", {"auth_index": "3"}),
        ("p1", "host.auth.get_runtime", {"auth_index": "3"}),
        ("p1", "host.auth.save", {"name": "b.json", "json": {"type": "acme"}}),
    ]


async def test_default_execute_stream_sends_execute_as_one_chunk():
    class Exec(Meta, api.Executor):
        identifier, input_formats, output_formats = "acme", ["openai"], ["openai"]

        async def execute(self, request):
            return api.ExecutorResponse(payload=b"whole", headers={"X": ["y"]})

    stream = await Exec().execute_stream(api.ExecutorRequest())
    assert isinstance(stream, api.ExecutorStream)
    assert stream.headers == {"X": ["y"]}
    assert [c async for c in stream.chunks] == [b"whole"]
