"""CPA sdk/translator/registry_test.go: a direct pair registered on the translation
registry (``Registry.register_pair``) and how it meets the hub path."""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.translate.registry import PairOverride, Registry, default_registry

CHAT = {"model": "copilot/gpt-5-mini", "messages": [{"role": "user", "content": "ping"}]}


def registry(**pairs: PairOverride) -> Registry:
    reg = Registry()
    for fmt in default_registry().formats():
        reg.register(default_registry().adapter(fmt))
    for name, override in pairs.items():
        source, target = name.split("_to_")
        reg.register_pair(Format(source), Format(target), override)
    return reg


def test_registered_request_transform_takes_precedence() -> None:
    """CPA: TestTranslateRequest_RegisteredTransformTakesPrecedence, same-format pair
    included: the pair's request function writes the upstream body."""
    reg = registry(openai_to_openai=PairOverride(request=lambda body: {"model": "from-transform"}))
    out, req = reg.translate_request(Format.OPENAI, Format.OPENAI, CHAT, "gpt-5-mini")
    assert out == {"model": "from-transform"}
    assert req.model == "gpt-5-mini"  # the IR is still read, for the answer's way back


def test_empty_registration_leaves_the_hub_path() -> None:
    """CPA: TestHasResponseTransformerIgnoresEmptyRegistration: a pair with no function
    changes neither the request nor the answer."""
    hub = registry()
    empty = registry(openai_to_claude=PairOverride())
    assert (
        empty.translate_request(Format.OPENAI, Format.CLAUDE, CHAT, "claude-x")[0]
        == hub.translate_request(Format.OPENAI, Format.CLAUDE, CHAT, "claude-x")[0]
    )
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "pong"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    got = empty.translate_response(Format.CLAUDE, Format.OPENAI, answer)
    assert got["choices"][0]["message"]["content"] == "pong"


def test_response_only_pair_serves_whole_answers_and_streams_keep_the_hub() -> None:
    """CPA: TestHasResponseTransformerChecksConcreteResponseKinds. A difference: a pair's
    translators are whole-body ones (request, response); a stream always goes through the
    hub's decoder and encoder, so a response-only pair changes whole answers alone."""
    seen: list[dict[str, Any]] = []

    def whole(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body)
        return {"ok": True}

    reg = registry(openai_to_claude=PairOverride(response=whole))
    assert reg.translate_response(Format.CLAUDE, Format.OPENAI, {"id": "x"}) == {"ok": True}
    assert seen == [{"id": "x"}]
    tr = reg.stream_translator(Format.CLAUDE, Format.OPENAI)
    data = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c",'
        b'"usage":{"input_tokens":1,"output_tokens":0}}}\n\n'
    )
    assert b"chat.completion.chunk" in tr.feed(data) + tr.finish()
