"""Wire conversion of every plugin dataclass: CPA's key spelling, both directions."""

from __future__ import annotations

import base64
import dataclasses
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from cliproxy.plugins import api
from cliproxy.plugins.types import WireModel, go_name

# Keys exactly as cpa-plugins.md §3-4 (and sdk/pluginapi/types.go) spell them.
EXPECTED_KEYS: dict[type[WireModel], str] = {
    api.ConfigField: "Name Type EnumValues Description",
    api.PluginMetadata: "Name Version Author GitHubRepository Logo ConfigFields",
    api.ModelAlias: "Name Alias",
    api.HostConfig: "AuthDir ProxyURL ForceModelPrefix OAuthModelAlias ExcludedModels",
    api.ThinkingSupport: "Min Max ZeroAllowed DynamicAllowed Levels",
    api.ModelInfo: "ID Object Created OwnedBy Type DisplayName Name Version Description InputTokenLimit "
    "OutputTokenLimit SupportedGenerationMethods ContextLength MaxCompletionTokens "
    "SupportedParameters SupportedInputModalities SupportedOutputModalities Thinking UserDefined",
    api.AuthData: "Provider ID FileName Label Prefix ProxyURL Disabled StorageJSON Metadata Attributes "
    "NextRefreshAfter",
    api.ModelRegistrationRequest: "Plugin",
    api.StaticModelRequest: "Plugin Host",
    api.AuthModelRequest: "Plugin AuthID AuthProvider StorageJSON Metadata Attributes Host",
    api.ModelList: "Provider Models AuthUpdate",
    api.AuthParseRequest: "Provider Path FileName RawJSON Host",
    api.AuthParseResponse: "Handled Auth Auths",
    api.LoginStartRequest: "Provider BaseURL Host Metadata",
    api.LoginStartResponse: "Provider URL State ExpiresAt Metadata",
    api.LoginPollRequest: "Provider State Host Metadata",
    api.LoginPollResponse: "Status Message Auth Auths",
    api.AuthRefreshRequest: "AuthID AuthProvider StorageJSON Metadata Attributes Host",
    api.AuthRefreshResponse: "Auth NextRefreshAfter",
    api.FrontendAuthRequest: "Method Path Headers Query Body",
    api.FrontendAuthResponse: "Authenticated Principal Metadata",
    api.SchedulerOptions: "Headers Metadata",
    api.AuthCandidate: "ID Provider Priority Status Attributes Metadata",
    api.PickRequest: "Plugin Provider Providers Model Stream Options Candidates",
    api.PickDecision: "AuthID DelegateBuiltin Handled",
    api.RouteRequest: "Plugin PluginID SourceFormat RequestedModel Stream Headers Query Body Metadata "
    "AvailableProviders",
    api.RouteDecision: "Handled TargetKind Target TargetModel Reason",
    api.ExecutorRequest: "AuthID AuthProvider Model Format Stream Alt Headers Query OriginalRequest SourceFormat "
    "Payload Metadata StorageJSON AuthMetadata AuthAttributes",
    api.ExecutorResponse: "Payload Headers Metadata",
    api.ExecutorStreamChunk: "Payload",
    api.ExecutorHttpRequest: "AuthID AuthProvider Method URL Headers Body StorageJSON Metadata Attributes",
    api.HttpResponse: "StatusCode Headers Body",
    api.TransformRequest: "FromFormat ToFormat Model Stream Body",
    api.ResponseTransformRequest: "FromFormat ToFormat Model Stream OriginalRequest TranslatedRequest Body",
    api.PayloadResponse: "Body",
    api.ThinkingConfig: "Mode Budget Level",
    api.ThinkingRequest: "Provider Model Config Body",
    api.InterceptRequest: "RequestID TraceID SourceFormat ToFormat Model RequestedModel Stream Headers Body "
    "Metadata",
    api.InterceptResult: "Headers Body ClearHeaders Terminate StatusCode ResponseHeaders ResponseBody",
    api.RequestCompletion: "RequestID TraceID SourceFormat Model RequestedModel Stream Outcome StatusCode Error "
    "StartedAt CompletedAt Metadata",
    api.ResponseInterceptRequest: "RequestID SourceFormat Model RequestedModel Stream RequestHeaders "
    "ResponseHeaders OriginalRequest RequestBody Body StatusCode Metadata",
    api.ResponseInterceptResult: "Headers Body ClearHeaders",
    api.ChunkInterceptRequest: "RequestID SourceFormat Model RequestedModel RequestHeaders ResponseHeaders "
    "OriginalRequest RequestBody Body HistoryChunks ChunkIndex Metadata",
    api.ChunkInterceptResult: "Headers Body ClearHeaders DropChunk",
    api.UsageFailure: "StatusCode Body",
    api.UsageDetail: "InputTokens OutputTokens ReasoningTokens CachedTokens CacheReadTokens CacheCreationTokens "
    "TotalTokens",
    api.UsageRecord: "Provider ExecutorType Model Alias APIKey AuthID AuthIndex AuthType Source ReasoningEffort "
    "ServiceTier Generate RequestedAt Latency TTFT Failed Failure Detail ResponseHeaders",
    api.CommandLineFlag: "Name Usage Type DefaultValue",
    api.FlagValue: "Name Type Value Set",
    api.CommandLineRegistrationRequest: "Plugin",
    api.CommandLineRequest: "Plugin Program Args ConfigPath Host Flags TriggeredFlags",
    api.CommandLineResult: "Stdout Stderr Auths ExitCode",
    api.ManagementRoute: "Method Path Menu Description",
    api.ResourceRoute: "Path Menu Description",
    api.ManagementRegistrationRequest: "Plugin BasePath ResourceBasePath",
    api.ManagementRequest: "Method Path Headers Query Body",
    api.ManagementResponse: "StatusCode Headers Body",
    api.ModelResponse: "status_code headers body",
    api.RecentRequests: "time success failed",
    api.AuthFile: "id auth_index name type provider label status status_message disabled unavailable "
    "runtime_only source path size modtime updated_at created_at last_refresh next_retry_after "
    "email project_id account_type account priority note websockets success failed "
    "recent_requests",
    api.AuthFileContent: "auth_index name path json",
    api.SavedAuth: "name path",
}

WHEN = datetime(2026, 8, 11, 9, 30, 15, 123456, tzinfo=UTC)


def test_every_wire_type_is_covered():
    exported = {getattr(api, n) for n in api.__all__}
    wire_types = {c for c in exported if isinstance(c, type) and issubclass(c, WireModel)}
    assert wire_types == set(EXPECTED_KEYS)


@pytest.mark.parametrize("cls", list(EXPECTED_KEYS), ids=lambda c: c.__name__)
def test_wire_keys_are_cpas(cls):
    """CPA: TestMetadataConfigFieldsExposePluginSchema (Logo, ConfigFields),
    TestResourceRouteMenuFieldsExposeManagementUIHints (Menu, Description),
    TestSchedulerTypesExposeRoutingFields, TestModelRouteTypesExposeRoutingFields: every
    type carries CPA's fields under CPA's keys."""
    assert list(cls().to_wire()) == EXPECTED_KEYS[cls].split()


def _sample(tp: Any, name: str) -> Any:
    """A non-default value of annotated type ``tp``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        return _sample(args[0], name)
    if isinstance(tp, type) and issubclass(tp, WireModel):
        return _filled(tp)
    simple = {
        str: f"v-{name}",
        int: 7,
        bool: True,
        bytes: b"\x00\xffbytes-" + name.encode(),
        datetime: WHEN,
        timedelta: timedelta(seconds=1, microseconds=500),
    }
    if tp in simple:
        return simple[tp]
    if origin is list:
        return [_sample(args[0], name)]
    if origin is dict:
        return {"Key": _sample(args[1], name)}
    return {"any": [1, "two"]}  # Any


def _filled(cls: type[WireModel]) -> WireModel:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name], f.name) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("cls", list(EXPECTED_KEYS), ids=lambda c: c.__name__)
def test_round_trip_through_json(cls):
    """CPA: TestSchedulerTypesExposeRoutingFields, TestModelRouteTypesExposeRoutingFields
    (every field of the pick and route types survives encoding and decoding)."""
    value = _filled(cls)
    wire = orjson.loads(orjson.dumps(value.to_wire()))
    assert cls.from_wire(wire) == value


@pytest.mark.parametrize("cls", list(EXPECTED_KEYS), ids=lambda c: c.__name__)
def test_keys_decode_case_insensitively(cls):
    value = _filled(cls)
    wire = orjson.loads(orjson.dumps(value.to_wire()))
    assert cls.from_wire({k.lower(): v for k, v in wire.items()}) == value
    assert cls.from_wire({k.upper(): v for k, v in wire.items()}) == value


def test_bytes_travel_as_base64_and_times_as_rfc3339():
    req = api.ExecutorRequest(payload=b'{"a":1}', storage_json=b"{}")
    wire = req.to_wire()
    assert wire["Payload"] == base64.b64encode(b'{"a":1}').decode()
    assert wire["OriginalRequest"] == ""
    completion = api.RequestCompletion(started_at=WHEN).to_wire()
    assert completion["StartedAt"] == "2026-08-11T09:30:15.123456Z"
    assert completion["CompletedAt"] == "0001-01-01T00:00:00Z"  # Go's zero time


def test_go_times_with_nanoseconds_and_zero_decode():
    got = api.RequestCompletion.from_wire(
        {"StartedAt": "2026-08-11T09:30:15.123456789+02:00", "CompletedAt": "0001-01-01T00:00:00Z"}
    )
    assert got.started_at == datetime.fromisoformat("2026-08-11T09:30:15.123456+02:00")
    assert got.completed_at is None


def test_durations_are_integer_nanoseconds_and_generate_defaults_true():
    record = api.UsageRecord.from_wire({"Latency": 1_500_000_000, "TTFT": 250_000})
    assert record.latency == timedelta(seconds=1.5)
    assert record.ttft == timedelta(microseconds=250)
    assert record.generate is True  # omitted on the wire -> true, as CPA
    assert api.UsageRecord.from_wire({"Generate": False}).generate is False
    assert api.UsageRecord(latency=timedelta(milliseconds=2)).to_wire()["Latency"] == 2_000_000


def test_nested_and_list_values_convert():
    chunk = api.ChunkInterceptRequest(history_chunks=[b"a", b"b"], chunk_index=-1).to_wire()
    assert chunk["HistoryChunks"] == ["YQ==", "Yg=="]
    decision = api.ModelList(
        provider="acme", models=[api.ModelInfo(id="m1", thinking=api.ThinkingSupport(max=9))]
    )
    wire = decision.to_wire()
    assert wire["Models"][0]["ID"] == "m1" and wire["Models"][0]["Thinking"]["Max"] == 9
    assert wire["AuthUpdate"] is None
    host = api.HostConfig.from_wire({"OAuthModelAlias": {"claude": [{"name": "x", "ALIAS": "y"}]}})
    assert host.oauth_model_alias == {"claude": [api.ModelAlias("x", "y")]}


def test_exact_key_wins_over_case_insensitive_match():
    assert api.PayloadResponse.from_wire({"body": "eA==", "Body": "eQ=="}).body == b"y"


def test_null_and_missing_fields_take_defaults():
    got = api.ExecutorRequest.from_wire({"Headers": None, "Payload": None, "Model": "m"})
    assert got == api.ExecutorRequest(model="m")
    assert api.RouteDecision.from_wire(None) == api.RouteDecision()


@pytest.mark.parametrize("cls", [api.AuthParseResponse, api.LoginPollResponse])
def test_several_auths_survive_the_wire(cls):
    """CPA: TestAuthParseResponseSupportsMultipleAuths,
    TestAuthLoginPollResponseSupportsMultipleAuths: a parse or login answer carries one
    ``Auth`` and several ``Auths``, all kept through JSON."""
    auths = [api.AuthData(provider="gemini-cli", id=n) for n in ("primary.json", "primary-project-a.json")]
    extra = {"handled": True} if cls is api.AuthParseResponse else {"status": "success"}
    value = cls(auth=auths[0], auths=auths, **extra)
    got = cls.from_wire(orjson.loads(orjson.dumps(value.to_wire())))
    assert got == value and [a.id for a in got.auths] == ["primary.json", "primary-project-a.json"]


@pytest.mark.parametrize(
    "cls",
    [
        api.LoginStartRequest,
        api.LoginPollRequest,
        api.AuthRefreshRequest,
        api.AuthModelRequest,
        api.ExecutorRequest,
        api.ExecutorHttpRequest,
    ],
)
def test_no_http_client_on_the_wire_and_a_legacy_one_is_ignored(cls):
    """CPA: TestHostInjectedHTTPClientIsNotEncodedInPluginJSON: the requests the host
    gives an HTTP client in Go carry no ``HTTPClient`` key, and one a plugin built for an
    older host still sends is ignored on decoding."""
    value = _filled(cls)
    wire = orjson.loads(orjson.dumps(value.to_wire()))
    assert "HTTPClient" not in wire
    assert cls.from_wire({**wire, "HTTPClient": {}}) == value


def test_helpers_build_cpa_decisions():
    """CPA: TestSchedulerTypesExposeRoutingFields (SchedulerBuiltinRoundRobin is a
    delegation), TestModelRouteTypesExposeRoutingFields (an executor target)."""
    assert api.RouteDecision.self_().to_wire() == {
        "Handled": True,
        "TargetKind": "self",
        "Target": "",
        "TargetModel": "",
        "Reason": "",
    }
    assert api.RouteDecision.executor("other").target == "other"
    assert api.RouteDecision.provider("codex", "gpt-5").to_wire()["TargetModel"] == "gpt-5"
    assert api.PickDecision.auth("a1").to_wire() == {"AuthID": "a1", "DelegateBuiltin": "", "Handled": True}
    assert api.PickDecision.delegate("fill-first").delegate_builtin == "fill-first"
    stop = api.InterceptResult.terminate_with(429, b"busy", {"Retry-After": ["1"]})
    assert (stop.terminate, stop.status_code, stop.response_body) == (True, 429, b"busy")
    assert api.ChunkInterceptResult.drop().to_wire()["DropChunk"] is True
    resp = api.ManagementResponse.json({"ok": True})
    assert resp.body == b'{"ok":true}' and resp.headers["Content-Type"] == ["application/json"]


@pytest.mark.parametrize(
    ("attr", "key"),
    [
        ("auth_id", "AuthID"),
        ("storage_json", "StorageJSON"),
        ("github_repository", "GitHubRepository"),
        ("api_key", "APIKey"),
        ("oauth_model_alias", "OAuthModelAlias"),
        ("ttft", "TTFT"),
        ("base_url", "BaseURL"),
        ("requested_model", "RequestedModel"),
    ],
)
def test_go_name(attr, key):
    assert go_name(attr) == key
