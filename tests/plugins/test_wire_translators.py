"""CPA's translator-hook and executor-format tests (internal/pluginhost/adapters_test.go,
sdk/translator/registry_test.go), ported on the wire: plugins answer with the JSON a
native plugin sends; the host's rules (plugins/translation.py) and the way back of an
executor's answer (plugins/executor_answer.py) are what is checked."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.calls import Call
from cliproxy.formats import Format
from cliproxy.plugins import abi, rules, translation
from cliproxy.plugins import executor as executor_module
from cliproxy.plugins.abi import b64decode, b64encode
from cliproxy.plugins.executor_answer import Answer
from cliproxy.translate.registry import default_registry
from tests.plugins.test_wire_chains import appends, crashing, empty, failing
from tests.plugins.wire_host import WirePlugin, executor, wire_host

REQUEST = {"request_translator": True}
RESPONSE = {"response_translator": True}


def answers(body: bytes, seen: list[str] | None = None, tag: str = ""):
    def handler(_params: dict[str, Any]) -> dict[str, Any]:
        if seen is not None:
            seen.append(tag)
        return {"Body": b64encode(body)}

    return handler


async def translate_request(host, body: bytes = b"input") -> bytes | None:
    return await translation.translate_request(
        host, from_format="openai", to_format="claude", model="model", stream=False, body=body
    )


async def translate_response(host, body: bytes = b"input") -> bytes | None:
    return await translation.translate_response(
        host,
        from_format="openai",
        to_format="claude",
        model="model",
        stream=False,
        original=b"",
        translated=b"",
        body=body,
    )


async def test_request_translators_stop_at_the_first_success():
    """TestTranslateRequestStopsAtFirstSuccessfulCandidate."""
    seen: list[str] = []
    host = wire_host(
        WirePlugin("low", 10, REQUEST, {abi.REQUEST_TRANSLATE: answers(b"translated-low", seen, "low")}),
        WirePlugin("high", 20, REQUEST, {abi.REQUEST_TRANSLATE: answers(b"translated-high", seen, "high")}),
    )
    assert await translate_request(host) == b"translated-high"
    assert seen == ["high"]


async def test_request_translators_try_the_next_on_error_or_empty_answer():
    """TestAdaptersKeepPayloadOrTryNextOnErrorAndEmptyBody (translator half)."""
    host = wire_host(
        WirePlugin("translator-error", 30, REQUEST, {abi.REQUEST_TRANSLATE: failing}),
        WirePlugin("translator-empty", 20, REQUEST, {abi.REQUEST_TRANSLATE: empty}),
        WirePlugin("translator-success", 10, REQUEST, {abi.REQUEST_TRANSLATE: answers(b"translated")}),
    )
    assert await translate_request(host, b"original") == b"translated"
    assert (
        await translate_request(wire_host(WirePlugin("e", 0, REQUEST, {abi.REQUEST_TRANSLATE: empty})))
        is None
    )


async def test_response_translators_stop_at_the_first_success_and_skip_failures():
    """TestTranslateResponseStopsAtFirstSuccessfulCandidate and
    TestResponseHooksKeepPayloadOrTryNextOnErrorAndEmptyBody (translator half)."""
    seen: list[str] = []
    host = wire_host(
        WirePlugin("low", 10, RESPONSE, {abi.RESPONSE_TRANSLATE: answers(b"response-low", seen, "low")}),
        WirePlugin("high", 20, RESPONSE, {abi.RESPONSE_TRANSLATE: answers(b"response-high", seen, "high")}),
    )
    assert await translate_response(host) == b"response-high" and seen == ["high"]
    host = wire_host(
        WirePlugin("translator-error", 30, RESPONSE, {abi.RESPONSE_TRANSLATE: failing}),
        WirePlugin("translator-empty", 20, RESPONSE, {abi.RESPONSE_TRANSLATE: empty}),
        WirePlugin(
            "translator-success", 10, RESPONSE, {abi.RESPONSE_TRANSLATE: answers(b"response-translated")}
        ),
    )
    assert await translate_response(host, b"original") == b"response-translated"


async def test_a_crashing_normalizer_is_fused_and_the_chain_goes_on():
    """TestTranslatorPanicFusesPlugin."""
    caps = {"request_normalizer": True}
    host = wire_host(
        WirePlugin("panic-plugin", 20, caps, {abi.REQUEST_NORMALIZE: crashing}),
        WirePlugin("next-plugin", 10, caps, {abi.REQUEST_NORMALIZE: appends("|next")}),
    )
    got = await translation.normalize_request(
        host, from_format="openai", to_format="claude", model="model", stream=False, body=b"original"
    )
    assert got == b"original|next" and host.records["panic-plugin"].fused


async def test_a_crash_fuses_the_plugin_on_every_hook():
    """TestTranslatorPanicFusesEveryHookPath: request translator, response normalizers before
    and after, response translator; each keeps the body and fuses its plugin."""
    response_args = dict(
        from_format="openai", to_format="claude", model="model", stream=False, original=b"", translated=b""
    )
    cases = [
        ("request-translator-panic", REQUEST, abi.REQUEST_TRANSLATE),
        ("response-before-panic", {"response_before_translator": True}, abi.RESPONSE_NORMALIZE_BEFORE),
        ("response-translator-panic", RESPONSE, abi.RESPONSE_TRANSLATE),
        ("response-after-panic", {"response_after_translator": True}, abi.RESPONSE_NORMALIZE_AFTER),
    ]
    for plugin_id, caps, method in cases:
        host = wire_host(WirePlugin(plugin_id, 10, caps, {method: crashing}))
        if method == abi.REQUEST_TRANSLATE:
            got = await translate_request(host, b"body") or b"body"
        elif method == abi.RESPONSE_TRANSLATE:
            got = await translate_response(host, b"body") or b"body"
        else:
            flag = next(iter(caps))
            got = await translation.normalize_response(host, flag, method, body=b"body", **response_args)
        assert got == b"body", plugin_id
        assert host.records[plugin_id].fused, plugin_id


# ------------------------------------------------------------------ executor formats


def custom_executor(ins: list[str], outs: list[str]) -> WirePlugin:
    return executor("executor-plugin", caps={"executor_input_formats": ins, "executor_output_formats": outs})


async def test_custom_output_needs_a_host_response_translator():
    """TestExecutorAdapterSelectsCustomOutputWithHostResponseTranslator (the choice): an
    executor that answers only in a custom format serves an OpenAI client once some
    plugin translates responses; without one it cannot serve it, and a router's
    ``self`` decision for it is not valid (executorPluginReady)."""
    exec_plugin = custom_executor(["openai"], ["plugin-custom-output"])
    alone = wire_host(exec_plugin)
    assert translation.negotiate(alone, alone.records["executor-plugin"], "openai") is None
    assert not await rules.executor_ready(alone, "executor-plugin", "openai")
    translator = WirePlugin("response-translator", 0, RESPONSE, {abi.RESPONSE_TRANSLATE: answers(b"x")})
    host = wire_host(translator, custom_executor(["openai"], ["plugin-custom-output"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "openai") == (
        "openai",
        "plugin-custom-output",
    )
    assert await rules.executor_ready(host, "executor-plugin", "openai")


async def test_formats_prefer_the_clients_then_native_ones():
    """TestExecutorAdapterUsesResponseFormatForOutputTranslation (the choice): a Claude-only
    executor gets Claude both ways for an OpenAI client; the client's own format wins when
    declared; aliases are CPA's; a custom input is taken only with a request translator
    (cliproxy's addition: CPA refuses an input it has no native translator to)."""
    host = wire_host(custom_executor(["anthropic"], ["claude"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "openai") == ("claude", "claude")
    host = wire_host(custom_executor(["claude", "chat-completions"], ["claude", "openai"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "openai") == ("openai", "openai")
    host = wire_host(custom_executor(["acme-in"], ["openai"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "claude") is None
    translator = WirePlugin("t", 0, REQUEST, {abi.REQUEST_TRANSLATE: answers(b"x")})
    host = wire_host(translator, custom_executor(["acme-in"], ["openai"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "claude") == ("acme-in", "openai")
    host = wire_host(custom_executor([], ["openai"]))
    assert translation.negotiate(host, host.records["executor-plugin"], "openai") is None


def _answer(host, fmt_out: str, stream: bool) -> Answer:
    body = {"model": "model-1", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    call = Call(Format.OPENAI, body, "model-1", stream, {})
    return Answer(default_registry(), host, call, fmt_out, "model-1", b'{"model":"model-1"}', b"payload")


async def test_a_host_response_translator_brings_a_custom_answer_back():
    """TestExecutorAdapterSelectsCustomOutputWithHostResponseTranslator (the answer): the
    translator gets the executor's body from the custom format to the client's, not as a
    stream, and its body is the answer."""
    seen: list[dict[str, Any]] = []

    def translate(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        return {"Body": b64encode(b"translated-body")}

    host = wire_host(WirePlugin("response-translator", 0, RESPONSE, {abi.RESPONSE_TRANSLATE: translate}))
    assert await _answer(host, "plugin-custom-output", False).whole(b"plugin-body") == b"translated-body"
    (sent,) = seen
    assert (sent["FromFormat"], sent["ToFormat"], sent["Stream"]) == ("plugin-custom-output", "openai", False)
    assert b64decode(sent["Body"]) == b"plugin-body"
    assert b64decode(sent["TranslatedRequest"]) == b"payload"


async def test_a_stream_keeps_the_raw_chunk_when_no_translator_answers():
    """TestExecutorAdapterKeepsRawStreamFallbackWithOnlyHostResponseTranslator: the only
    translator answers empty, so the executor's chunk goes on as it is. cliproxy frames it
    for the client as CPA's Chat Completions handler does (``data: <chunk>``)."""
    host = wire_host(WirePlugin("empty-response-translator", 0, RESPONSE, {abi.RESPONSE_TRANSLATE: empty}))
    answer = _answer(host, "plugin-custom-stream-output", True)
    assert await answer.frame(b'{"custom":"chunk"}') == b'data: {"custom":"chunk"}\n\n'
    assert await answer.finish() == b""


async def test_normalizers_wrap_the_hosts_own_translation_and_translators_stay_out():
    """registry_test.go TestPluginNormalizersChainAfterNative and
    TestTranslateNonStream_PluginTranslatorOnlyWhenNativeMissing: with a native way back
    (Claude to OpenAI) the before normalizer sees the executor's body, the host
    translates, the after normalizer sees the OpenAI answer; no translator is asked."""
    stages: dict[str, bytes] = {}

    def before(params: dict[str, Any]) -> dict[str, Any]:
        stages["before"] = b64decode(params["Body"])
        return {}

    def after(params: dict[str, Any]) -> dict[str, Any]:
        stages["after"] = b64decode(params["Body"])
        return {"Body": b64encode(b'{"stage":"after-response"}')}

    caps = {"response_before_translator": True, "response_after_translator": True, **RESPONSE}
    handlers = {abi.RESPONSE_NORMALIZE_BEFORE: before, abi.RESPONSE_NORMALIZE_AFTER: after}
    plugin = WirePlugin("hooks", 0, caps, {**handlers, abi.RESPONSE_TRANSLATE: answers(b"plugin-response")})
    claude = (
        b'{"id":"msg_1","type":"message","model":"claude-test","role":"assistant",'
        b'"content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":1,"output_tokens":1}}'
    )
    got = await _answer(wire_host(plugin), "claude", False).whole(claude)
    assert got == b'{"stage":"after-response"}'
    assert stages["before"] == claude and b'"chat.completion"' in stages["after"]
    assert plugin.called(abi.RESPONSE_TRANSLATE) == []


async def test_after_normalizers_see_every_stream_frame_as_cpa_writes_it():
    """TranslateStream runs ``normalize_after`` on every output frame; for an OpenAI client
    a frame is the bare ``data`` payload, as CPA's translators hand it to the handler."""
    frames: list[bytes] = []

    def after(params: dict[str, Any]) -> dict[str, Any]:
        frames.append(b64decode(params["Body"]))
        return {}

    host = wire_host(
        WirePlugin("after", 0, {"response_after_translator": True}, {abi.RESPONSE_NORMALIZE_AFTER: after})
    )
    answer = _answer(host, "claude", True)
    events = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
        b'"model":"c","content":[],"usage":{"input_tokens":1,"output_tokens":0}}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"ok"}}\n\n',
    ]
    out = b"".join([await answer.frame(e) for e in events]) + await answer.finish()
    assert frames and all(f.startswith(b"{") or f == b"[DONE]" for f in frames)
    assert out.count(b"data: ") == len(frames) and b'"ok"' in out


async def test_a_custom_input_nobody_translates_gets_the_clients_body_with_the_model_set():
    """registry_test.go TestTranslateRequest_FallbackNormalizesModel: when no translator
    answers, the executor gets the client's body with ``model`` set to the model it runs
    (a prefixed one rewritten, other fields kept); a body already naming it is passed as
    it is. (CPA's empty-model case does not arise: an executor always runs a model.)"""
    host = wire_host(WirePlugin("declines", 0, REQUEST, {abi.REQUEST_TRANSLATE: empty}))
    reg = default_registry()
    for body, model, want in (
        ({"model": "copilot/gpt-5-mini", "input": "ping"}, "gpt-5-mini", None),
        ({"model": "team/gpt-5.3-codex", "stream": True}, "gpt-5.3-codex", None),
        ({"model": "gpt-5-mini", "input": "ping"}, "gpt-5-mini", b'{"model":"gpt-5-mini","input":"ping"}'),
    ):
        call = Call(Format.RESPONSES, body, body["model"], False, {})
        original = orjson.dumps(body)
        got = await executor_module._request_payload(reg, host, call, "acme-in", model, original)
        assert orjson.loads(got) == {**body, "model": model}
        if want is not None:
            assert got == want
    assert len(host.records["declines"].client.plugin.calls) == 3  # asked each time, declined
