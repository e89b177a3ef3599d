"""CPA ``internal/signature/gemini_validation_test.go``: the validation cases (the
inspection cases are in ``test_signature_gemini.py``).

``ValidateGeminiThoughtSignatures`` is a checker CPA's own code never calls: it states
what Gemini refuses. The proxy does not refuse such a history, it repairs it
(``signature_bodies.sanitize_gemini_contents``, on every Gemini body), so each case here
asserts that the repaired ``contents`` is one the checker accepts.
``ValidateGeminiFunctionCallPairing`` is enforced as CPA does before an Antigravity
request (a 400 in the client's format): :func:`pairing_problem` holds its rules.
``TestIsValidGeminiThoughtSignature_AgyNativeSamples`` replays a harvested corpus that is
not in CPA's repository (it skips there too).
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import signature_bodies as bodies
from cliproxy.translate import signatures as sig
from cliproxy.translate.antigravity_replay import pairing_problem
from tests.translate.cpa.signature_fixtures import gemini3_signature

NATIVE = gemini3_signature(bytes([0x01, 0x0C, 0x39]))
SKIP = sig.GEMINI_SKIP_VALIDATOR


def call(name: str, cid: str = "", **extra: Any) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name, "args": {}}
    if cid:
        fn["id"] = cid
    return {"functionCall": fn, **extra}


def response(name: str | None, cid: str = "") -> dict[str, Any]:
    fr: dict[str, Any] = {"response": {}}
    if name is not None:
        fr["name"] = name
    if cid:
        fr["id"] = cid
    return {"functionResponse": fr}


def repaired(parts: list[Any]) -> list[Any]:
    contents = [{"role": "model", "parts": parts}]
    bodies.sanitize_gemini_contents(contents)
    return list(contents[0]["parts"])


# ----------------------------------------------------------- ValidateGeminiThoughtSignatures


def test_first_function_call_gets_a_signature() -> None:
    """TestValidateGeminiThoughtSignatures_FirstFunctionCallRequiresSignature"""
    assert repaired([call("read_file", "call-1")])[0]["thoughtSignature"] == SKIP


def test_unsigned_parallel_sibling_stays_unsigned() -> None:
    """TestValidateGeminiThoughtSignatures_AllowsUnsignedParallelSibling"""
    parts = [call("read_file", "call-1", thoughtSignature=SKIP), call("read_file", "call-2")]
    assert repaired(parts) == parts


@pytest.mark.parametrize(
    "parts",
    [
        [call("first", thoughtSignature=SKIP), call("second", thoughtSignature=SKIP)],
        [{"text": "hidden", "thought": True, "thoughtSignature": SKIP}],
    ],
    ids=["parallel sibling", "thought part"],
)
def test_sentinel_only_on_first_function_call(parts: list[Any]) -> None:
    """TestValidateGeminiThoughtSignatures_RejectsSentinelOutsideFirstFunctionCall: the
    sentinel anywhere else is removed."""
    out = repaired(parts)
    signed = [p.get("thoughtSignature") for p in out]
    assert signed == ([SKIP, None] if "functionCall" in parts[0] else [None])


def test_nested_signature_moves_to_the_canonical_field() -> None:
    """TestValidateGeminiThoughtSignatures_RejectsNonCanonicalNestedSignature"""
    part = {"functionCall": {"name": "first", "args": {}, "thoughtSignature": NATIVE}}
    (out,) = repaired([part])
    assert out == {"functionCall": {"name": "first", "args": {}}, "thoughtSignature": NATIVE}


def test_wrapped_request_with_sentinel_is_kept() -> None:
    """TestValidateGeminiThoughtSignatures_AcceptsWrappedRequestAndSentinelWhenAllowed (the
    Antigravity envelope's ``request.contents`` is sanitised before it is wrapped)"""
    parts = [call("read_file", "call-1", thoughtSignature=SKIP)]
    assert repaired(parts) == parts


def test_invalid_text_part_signature_is_dropped() -> None:
    """TestValidateGeminiThoughtSignatures_RejectsInvalidTextPartSignature"""
    assert repaired([{"text": "previous answer", "thoughtSignature": "bad!!!"}]) == [
        {"text": "previous answer"}
    ]


# ---------------------------------------------------------- ValidateGeminiFunctionCallPairing


def turns(*contents: tuple[str, list[Any]] | dict[str, Any]) -> list[Any]:
    return [c if isinstance(c, dict) else {"role": c[0], "parts": c[1]} for c in contents]


def test_pairing_accepts_parallel_group() -> None:
    """TestValidateGeminiFunctionCallPairing_ValidParallelGroup"""
    contents = turns(
        ("model", [call("weather", "call-1"), call("weather", "call-2")]),
        ("user", [response("weather", "call-1"), response("weather", "call-2")]),
    )
    assert pairing_problem(contents) is None


@pytest.mark.parametrize(
    "boundary",
    [
        {"role": "user", "parts": [{"text": "boundary"}]},
        {"role": "user", "parts": []},
        {"role": "user"},
        {"role": "user", "parts": None},
    ],
    ids=["text", "empty parts", "no parts", "null parts"],
)
def test_pairing_rejects_boundary_before_response(boundary: dict[str, Any]) -> None:
    """TestValidateGeminiFunctionCallPairing_RejectsUserBoundaryBeforeResponse,
    TestValidateGeminiFunctionCallPairing_RejectsEmptyContentBoundaryBeforeResponse"""
    contents = turns(("model", [call("run", "call-1")]), boundary, ("model", [response("run", "call-1")]))
    assert pairing_problem(contents) is not None


@pytest.mark.parametrize(
    ("contents", "says"),
    [
        (
            turns(
                ("model", [call("weather", "call-1"), call("weather", "call-2")]),
                ("user", [response("weather", "call-1")]),
            ),
            "1 functionResponse(s) for 2 functionCall(s)",
        ),
        (turns(("model", [{"functionCall": {"id": "call-1", "args": {}}}])), "a functionCall without a name"),
        (
            turns(("model", [call("weather", "call-1")]), ("user", [response("weather", "call-other")])),
            "answers functionCall 'call-1'",
        ),
        (
            turns(("model", [call("weather", "call-1")]), ("user", [response(None, "call-1")])),
            "a functionResponse without a name",
        ),
        (
            turns(("model", [call("weather", "call-1"), response("weather", "call-1")])),
            "functionCall and functionResponse parts in one turn",
        ),
    ],
    ids=[
        "count mismatch",
        "call without name",
        "id mismatch",
        "response without name",
        "same-turn interleaving",
    ],
)
def test_pairing_rejects(contents: list[Any], says: str) -> None:
    """TestValidateGeminiFunctionCallPairing_RejectsResponseCountMismatch,
    TestValidateGeminiFunctionCallPairing_RejectsMissingFunctionCallName,
    TestValidateGeminiFunctionCallPairing_RejectsIDMismatch,
    TestValidateGeminiFunctionCallPairing_RejectsMissingResponseName,
    TestValidateGeminiFunctionCallPairing_RejectsSameContentInterleaving"""
    problem = pairing_problem(contents)
    assert problem is not None and says in problem
