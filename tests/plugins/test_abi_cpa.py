"""CPA's plugin ABI constants and envelopes (sdk/pluginabi/types_test.go,
internal/pluginhost/rpc_client_error_test.go) against :mod:`cliproxy.plugins.abi`."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.plugins import abi


def test_method_names_and_schema_version_are_cpas() -> None:
    """CPA: TestMethodNamesAreStable, TestSchedulerPickMethodName: plugins built for CPA
    call and answer these exact names."""
    assert abi.SCHEMA_VERSION == 3
    names = {
        abi.PLUGIN_REGISTER: "plugin.register",
        abi.REQUEST_INTERCEPT_BEFORE: "request.intercept_before",
        abi.REQUEST_INTERCEPT_AFTER: "request.intercept_after",
        abi.REQUEST_COMPLETE: "request.complete",
        abi.RESPONSE_INTERCEPT_AFTER: "response.intercept_after",
        abi.RESPONSE_INTERCEPT_STREAM_CHUNK: "response.intercept_stream_chunk",
        abi.HOST_HTTP_DO: "host.http.do",
        abi.HOST_HTTP_STREAM_READ: "host.http.stream_read",
        abi.HOST_MODEL_EXECUTE: "host.model.execute",
        abi.HOST_MODEL_EXECUTE_STREAM: "host.model.execute_stream",
        abi.HOST_MODEL_STREAM_READ: "host.model.stream_read",
        abi.HOST_MODEL_STREAM_CLOSE: "host.model.stream_close",
        abi.HOST_AUTH_LIST: "host.auth.list",
        abi.HOST_AUTH_GET: "host.auth.get",
        abi.HOST_AUTH_GET_RUNTIME: "host.auth.get_runtime",
        abi.HOST_AUTH_SAVE: "host.auth.save",
        abi.EXECUTOR_EXECUTE_STREAM: "executor.execute_stream",
        abi.SCHEDULER_PICK: "scheduler.pick",
        abi.MODEL_ROUTE: "model.route",
    }
    assert [k for k in names] == list(names.values())


def test_envelope_round_trip() -> None:
    """CPA: TestEnvelopeRoundTrip."""
    assert abi.decode_envelope(abi.ok_envelope({"name": "example"})) == {"name": "example"}


def test_an_error_envelope_is_the_plugins_message_and_status() -> None:
    """CPA: TestCallPluginReturnsPluginErrorWithoutMethodWrapper,
    TestDecodeEnvelopeResultPreservesPluginHTTPStatus, TestIsPluginErrorEnvelopeAcceptsNonzeroReturnEnvelope:
    the error is the plugin's own message (no method name around it) with its HTTP status;
    an error envelope is recognised even when the call's return code said failure, and
    text that is not JSON is not one."""
    raw = abi.error_envelope("license required", code="plugin_error", http_status=403)
    with pytest.raises(abi.PluginError) as info:
        abi.decode_envelope(raw, abi.EXECUTOR_EXECUTE_STREAM)
    assert (str(info.value), info.value.http_status, info.value.code) == (
        "license required",
        403,
        "plugin_error",
    )
    assert abi.is_error_envelope(
        orjson.dumps({"ok": False, "error": {"code": "plugin_error", "message": "x"}})
    )
    assert not abi.is_error_envelope(b"not json")
