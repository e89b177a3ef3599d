"""The Gemini API signature replay's own rules (``providers.gemini_replay``): the same call
made twice in a session, arguments as a JavaScript client writes them back, an answer's
calls that Gemini did not sign, the bounds of the cache. The HTTP behaviour is in
tests/e2e/test_fidelity_chat_gemini_signature.py."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.providers.gemini_replay import GeminiSignatureCache, Scope, call_key, restore

MODEL, SESSION = "gemini-3-pro-preview", "caller:abc:prompt-cache:x"
SKIP = "skip_thought_signature_validator"


def _answer(*parts: dict[str, Any]) -> bytes:
    return orjson.dumps({"candidates": [{"content": {"role": "model", "parts": list(parts)}}]})


def _call(args: dict[str, Any], sig: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": "bash", "args": args}}
    if sig is not None:
        part["thoughtSignature"] = sig
    return part


def _history(*turns: list[dict[str, Any]]) -> dict[str, Any]:
    contents: list[Any] = [{"role": "user", "parts": [{"text": "go"}]}]
    for parts in turns:
        contents += [{"role": "model", "parts": parts}, {"role": "user", "parts": [{"text": "ok"}]}]
    return {"contents": contents}


def _signatures(body: dict[str, Any]) -> list[Any]:
    return [p.get("thoughtSignature") for c in body["contents"] if c["role"] == "model" for p in c["parts"]]


def test_the_same_call_twice_gets_each_turn_its_own_signature() -> None:
    cache = GeminiSignatureCache()
    for sig in ("sig-1", "sig-2"):  # two answers, the same call
        scope = restore(cache, {"contents": []}, MODEL, [SESSION, MODEL])
        assert scope is not None
        scope.whole(_answer(_call({"command": "ls"}, sig)))
    body = _history([_call({"command": "ls"}, SKIP)], [_call({"command": "ls"}, SKIP)])
    before = orjson.dumps(body)
    kept = body["contents"]
    restore(cache, body, MODEL, [SESSION, MODEL])
    assert _signatures(body) == ["sig-1", "sig-2"]
    assert orjson.dumps({"contents": kept}) == before  # the client's contents were not edited


def test_arguments_written_back_by_a_javascript_client_still_match() -> None:
    # Gemini wrote 2.0 and a key order; JSON.stringify gives 2 and the client's own order
    assert call_key("f", {"a": 2.0, "b": [1.0, {"y": 1, "x": 0}]}) == call_key(
        "f", {"b": [1, {"x": 0, "y": 1}], "a": 2}
    )
    assert call_key("f", {"a": 2.5}) != call_key("f", {"a": 2})
    assert call_key("f", {"a": 1}) != call_key("g", {"a": 1})


def test_only_signed_calls_are_kept_and_only_unsigned_ones_restored() -> None:
    cache = GeminiSignatureCache()
    scope = restore(cache, {"contents": []}, MODEL, [SESSION, MODEL])
    assert isinstance(scope, Scope)
    # a stream: the signed first call, then a parallel call Gemini did not sign
    scope.lines(b"data: " + _answer(_call({"n": 1}, "sig-a")) + b"\r\n\r\n")
    scope.lines(b"data: " + _answer(_call({"n": 2})) + b"\r\n\r\n")
    scope.lines(b"data: " + _answer(_call({"n": 3}, SKIP)) + b"\r\n\r\n")
    body = _history([_call({"n": 1}, SKIP), _call({"n": 2}), _call({"n": 3})])
    restore(cache, body, MODEL, [SESSION, MODEL])
    assert _signatures(body) == ["sig-a", None, None]
    # another model, another session: nothing
    for model, session in ((MODEL + "-x", SESSION), (MODEL, SESSION + "-x")):
        other = _history([_call({"n": 1}, SKIP)])
        restore(cache, other, model, [session, model])
        assert _signatures(other) == [SKIP]
    assert restore(cache, _history(), MODEL, None) is None  # nothing carried: no scope


def test_the_cache_is_bounded() -> None:
    now = [0.0]
    cache = GeminiSignatureCache(ttl=60.0, max_sessions=2, max_turns=3, clock=lambda: now[0])
    for n in range(5):
        scope = restore(cache, {"contents": []}, MODEL, [SESSION, MODEL])
        assert scope is not None
        scope.whole(_answer(_call({"n": n}, f"sig-{n}")))
    assert [t.calls[0][1] for t in cache.get(MODEL, SESSION)] == ["sig-2", "sig-3", "sig-4"]
    for s in ("s2", "s3"):
        scope = restore(cache, {"contents": []}, MODEL, [s, MODEL])
        assert scope is not None
        scope.whole(_answer(_call({"n": 0}, "sig")))
    assert len(cache) == 2 and not cache.get(MODEL, SESSION)  # the least recently used went
    now[0] = 61.0
    assert not cache.get(MODEL, "s3")  # and a session not used for the TTL
