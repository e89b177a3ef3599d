"""Tool names sent to Antigravity: deduplicated, disambiguated, and given back in answers.

Ported from CPA internal/translator/antigravity/{gemini,claude,openai/chat-completions,
interactions}/*_test.go (the ``...DeduplicatesAndDisambiguatesTools`` and
``...RestoresDisambiguatedName`` cases) and the
``TestSanitizeAntigravityClaudeGeminiRequestSignatures_*`` cases of
antigravity_gemini_request_test.go not already in test_antigravity_claude_model_signatures.py.

A Gemini client's body goes to ``AntigravityProvider.build`` as it came
(``providers.antigravity_names`` renames it there and restores the answer through the
request's ``rewrite_body`` / ``rewrite_chunk``); every other format's is written by the IR
(``translate.gemini.names.NameMap``, restored by the Gemini decoder). Both follow CPA's
``SanitizedFunctionNameMap``, so the names below are CPA's exactly.

The history's indices are one more than CPA's: Antigravity's Gemini models get an empty user
turn first when a conversation opens with the model (``providers.gemini.lead_with_user``).

Deliberate differences, asserted as ours:

* a declaration's schema reaches Antigravity as ``parameters`` (``antigravity_schemas``
  sends every spelling as ``parameters``, cleaned with the ``antigravity-tool`` profile),
  where CPA's Gemini translator writes ``parametersJsonSchema``;
* a number JSON cannot hold in a double (``1e10000``) is refused when the client's body is
  read (400), before any signature is looked at, where CPA scans past it.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.base import UpstreamRequest
from cliproxy.translate.gemini.build import for_antigravity
from cliproxy.translate.gemini.names import disambiguated
from cliproxy.translate.registry import default_registry
from cliproxy.translate.signature_bodies import sanitize_gemini_contents_for_claude

from ._run import CLAUDE, GEMINI, OPENAI, events, get, resp, sse, stream

FIRST = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build"
SECOND = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build_logs"
INTERACTIONS = Format.INTERACTIONS
CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
OBJECT = {"type": "object"}


def _cpa_name(name: str) -> str:
    """CPA's name for one of FIRST / SECOND: both cut at 64 would be the same, so each is
    cut to 51 characters and given ``_`` and 12 hex digits of SHA-256("<name>\\x00<0>")."""
    return name[:51] + "_" + hashlib.sha256(f"{name}\x000".encode()).hexdigest()[:12]


def _build(body: dict[str, Any], model: str = "gemini-3-flash", stream: bool = False) -> UpstreamRequest:
    return AntigravityProvider().build(CRED, body, model=model, stream=stream, client_headers={})


def _gemini_sent(
    body: dict[str, Any], model: str = "gemini-3-flash"
) -> tuple[dict[str, Any], UpstreamRequest]:
    """What Antigravity gets for a Gemini client's body (passed through to the provider);
    the client's own body is left as it was."""
    before = copy.deepcopy(body)
    up = _build({**body})  # the attempt's body: its first level the attempt's own
    assert body == before
    return orjson.loads(up.body)["request"], up


def _translated(source: Format, body: dict[str, Any], model: str = "gemini-3-flash") -> dict[str, Any]:
    """What Antigravity gets for another format's body, translated as the pipeline does."""
    reg = default_registry()
    req = reg.adapter(source).parse_request(body)
    req.model = model
    gemini = reg.adapter(GEMINI).build_request(for_antigravity(req))
    up = _build(gemini, model)
    _assert_names_kept(up)  # the IR's names already
    return orjson.loads(up.body)["request"]  # type: ignore[no-any-return]


def _assert_names_kept(up: UpstreamRequest) -> None:
    """The answer's calls reach the client under the names they came with (a Gemini 3
    request's hooks read the answer for its reasoning replay, and hand it on unchanged)."""
    answer = orjson.dumps(
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "a", "args": {}}}]}}]}
    )
    assert up.rewrite_body is None or up.rewrite_body(answer) == answer
    line = b"data: " + answer + b"\n\n"
    assert up.rewrite_chunk is None or up.rewrite_chunk(line) == line


def _assert_mapped(out: dict[str, Any], decls: list[dict[str, Any]], call: str, result: str) -> None:
    first, second = decls[1]["name"], decls[2]["name"]
    assert [d["name"] for d in decls] == ["lookup", _cpa_name(FIRST), _cpa_name(SECOND)]
    assert first != second and len(second) <= 64
    assert get(out, call) == second
    assert get(out, result) == second
    assert get(out, "toolConfig.functionCallingConfig.allowedFunctionNames") == [second]


# ---- Gemini clients (pass-through)


def test_gemini_deduplicates_request_wide_and_disambiguates_tools() -> None:
    """antigravity_gemini_request_test.go
    TestConvertGeminiRequestToAntigravityDeduplicatesRequestWideAndDisambiguatesTools."""
    out, up = _gemini_sent(
        {
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"name": SECOND, "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": SECOND, "response": {}}}]},
            ],
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "lookup", "parameters": OBJECT},
                        {"name": FIRST, "parameters": OBJECT},
                    ]
                },
                {
                    "function_declarations": [
                        {"name": "lookup", "parameters": OBJECT},
                        {"name": SECOND, "parameters": OBJECT},
                    ]
                },
                {"functionDeclarations": [{"name": "lookup", "parameters": OBJECT}]},
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [SECOND]}},
        }
    )
    assert len(out["tools"]) == 2  # the entry left empty by the repeat is gone
    camel, snake = out["tools"][0]["functionDeclarations"], out["tools"][1]["function_declarations"]
    assert (len(camel), len(snake)) == (2, 1)
    assert [d["name"] for d in camel + snake] == ["lookup", _cpa_name(FIRST), _cpa_name(SECOND)]
    # (a difference: the schema goes as ``parameters``, see the module docstring)
    assert all("parameters" in d and "parametersJsonSchema" not in d for d in camel + snake)
    assert get(out, "contents.1.parts.0.functionCall.name") == _cpa_name(SECOND)
    assert get(out, "contents.2.parts.0.functionResponse.name") == _cpa_name(SECOND)
    assert get(out, "toolConfig.functionCallingConfig.allowedFunctionNames") == [_cpa_name(SECOND)]
    assert up.rewrite_body is not None and up.rewrite_chunk is not None


def test_gemini_maps_snake_case_function_references() -> None:
    """antigravity_gemini_request_test.go TestConvertGeminiRequestToAntigravityMapsSnakeCaseFunctionReferences:
    ``read/file`` and ``read_file`` sanitize alike, so both get a hash (CPA), and the
    history's and the config's ``read_file`` follow its declaration. The history's parts go
    in camelCase (``antigravity_turns.camel_parts``; CPA sends them as they came)."""
    out, _ = _gemini_sent(
        {
            "contents": [
                {"role": "model", "parts": [{"function_call": {"name": "read_file", "args": {}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "read_file", "response": {}}}]},
            ],
            "tools": [{"function_declarations": [{"name": "read/file"}, {"name": "read_file"}]}],
            "tool_config": {"function_calling_config": {"allowed_function_names": ["read_file"]}},
        }
    )
    mapped = get(out, "tools.0.function_declarations.1.name")
    assert mapped == disambiguated(["read/file", "read_file"])["read_file"] != "read_file"
    assert get(out, "tools.0.function_declarations.0.name") not in ("read_file", mapped)
    assert get(out, "contents.1.parts.0.functionCall.name") == mapped
    assert get(out, "contents.2.parts.0.functionResponse.name") == mapped
    assert get(out, "tool_config.function_calling_config.allowed_function_names") == [mapped]


def test_gemini_whole_answer_restores_disambiguated_name() -> None:
    """antigravity_gemini_response_test.go TestConvertAntigravityResponseToGeminiNonStreamRestoresDisambiguatedName
    (the answer as the pipeline hands it to ``rewrite_body``: its envelope taken off)."""
    _, up = _gemini_sent(
        {"contents": [], "tools": [{"functionDeclarations": [{"name": FIRST}, {"name": SECOND}]}]}
    )
    answer = {
        "candidates": [{"content": {"parts": [{"functionCall": {"name": _cpa_name(SECOND), "args": {}}}]}}]
    }
    assert up.rewrite_body is not None
    out = orjson.loads(up.rewrite_body(orjson.dumps(answer)))
    assert get(out, "candidates.0.content.parts.0.functionCall.name") == SECOND


def test_gemini_streamed_answer_restores_disambiguated_name() -> None:
    """The same through ``rewrite_chunk`` (whole SSE lines of the unwrapped stream); a line
    without a call is left byte for byte."""
    _, up = _gemini_sent(
        {"contents": [], "tools": [{"functionDeclarations": [{"name": FIRST}, {"name": SECOND}]}]}
    )
    call = {
        "candidates": [{"content": {"parts": [{"functionCall": {"name": _cpa_name(FIRST), "args": {}}}]}}]
    }
    text = b'data: {"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}\n\n'
    assert up.rewrite_chunk is not None
    assert up.rewrite_chunk(text) == text
    out = events(up.rewrite_chunk(sse(call, events=False)))
    assert get(out[0], "candidates.0.content.parts.0.functionCall.name") == FIRST


def test_a_body_with_valid_distinct_names_is_not_rewritten() -> None:
    """Nothing renamed, nothing to restore: the answer's names stay."""
    out, up = _gemini_sent(
        {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "a"}]}],
        }
    )
    assert out["tools"] == [{"functionDeclarations": [{"name": "a"}]}]
    _assert_names_kept(up)


def test_deduplicate_function_declarations() -> None:
    """sanitize_test.go TestDeduplicateFunctionDeclarations: the first of a repeated name
    stays, with its own description."""
    out, _ = _gemini_sent(
        {
            "contents": [],
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "lookup", "description": "first"},
                        {"name": "other"},
                        {"name": "lookup", "description": "second"},
                    ]
                }
            ],
        }
    )
    assert out["tools"] == [
        {"functionDeclarations": [{"name": "lookup", "description": "first"}, {"name": "other"}]}
    ]


# ---- Claude clients


CLAUDE_BODY: dict[str, Any] = {
    "model": "gemini-3-flash",
    "max_tokens": 64,
    "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": SECOND, "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}]},
    ],
    "tools": [
        {"name": "lookup", "input_schema": OBJECT},
        {"name": "lookup", "description": "duplicate", "input_schema": OBJECT},
        {"name": FIRST, "input_schema": OBJECT},
        {"name": SECOND, "input_schema": OBJECT},
    ],
    "tool_choice": {"type": "tool", "name": SECOND},
}


def test_claude_deduplicates_and_disambiguates_tools() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_DeduplicatesAndDisambiguatesTools."""
    out = _translated(CLAUDE, CLAUDE_BODY)
    decls = out["tools"][0]["functionDeclarations"]
    assert "description" not in decls[0]  # the first of the repeated name
    _assert_mapped(
        out, decls, "contents.1.parts.0.functionCall.name", "contents.2.parts.0.functionResponse.name"
    )


def test_claude_maps_tool_result_name_once() -> None:
    """antigravity_claude_request_test.go TestConvertClaudeRequestToAntigravity_MapsToolResultNameOnce."""
    out = _translated(
        CLAUDE,
        {
            "model": "gemini-3-flash",
            "max_tokens": 64,
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call_1", "name": "read/file", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}],
                },
            ],
            "tools": [
                {"name": "read/file", "input_schema": OBJECT},
                {"name": "read_file", "input_schema": OBJECT},
            ],
        },
    )
    call = get(out, "contents.1.parts.0.functionCall.name")
    assert call == disambiguated(["read/file", "read_file"])["read/file"]
    assert get(out, "contents.2.parts.0.functionResponse.name") == call


@pytest.mark.parametrize("streamed", [False, True])
def test_claude_answer_restores_disambiguated_name(streamed: bool) -> None:
    """antigravity_claude_response.go restores names with DisambiguatedToolNameMap: ours
    through the Gemini decoder, whole and streamed."""
    answer = {
        "candidates": [
            {
                "content": {"parts": [{"functionCall": {"name": _cpa_name(SECOND), "args": {}}}]},
                "finishReason": "STOP",
            }
        ]
    }
    if streamed:
        evs = events(stream(GEMINI, CLAUDE, sse(answer, events=False), CLAUDE_BODY))
        names = [e["content_block"]["name"] for e in evs if e.get("_event") == "content_block_start"]
    else:
        names = [
            b["name"] for b in resp(GEMINI, CLAUDE, answer, CLAUDE_BODY)["content"] if b["type"] == "tool_use"
        ]
    assert names == [SECOND]


# ---- OpenAI Chat clients (the request case is in test_antigravity_openai_request.py)


OPENAI_TOOLS = [
    {"type": "function", "function": {"name": FIRST}},
    {"type": "function", "function": {"name": SECOND}},
]


def test_openai_request_names_are_cpas() -> None:
    """TestConvertOpenAIRequestToAntigravityDeduplicatesAndDisambiguatesTools, its names:
    CPA's exactly."""
    out = _translated(
        OPENAI,
        {
            "model": "gemini-3-flash",
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": SECOND, "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "lookup", "parameters": OBJECT}},
                {
                    "type": "function",
                    "function": {"name": "lookup", "description": "duplicate", "parameters": OBJECT},
                },
                *OPENAI_TOOLS,
            ],
            "tool_choice": {"type": "function", "function": {"name": SECOND}},
        },
    )
    decls = out["tools"][0]["functionDeclarations"]
    _assert_mapped(
        out, decls, "contents.1.parts.0.functionCall.name", "contents.2.parts.0.functionResponse.name"
    )


@pytest.mark.parametrize("streamed", [False, True])
def test_openai_answer_restores_disambiguated_name(streamed: bool) -> None:
    """antigravity_openai_response_test.go TestConvertAntigravityResponseToOpenAINonStreamRestoresDisambiguatedName
    (and the same streamed)."""
    request = {
        "model": "gemini-3-flash",
        "messages": [{"role": "user", "content": "go"}],
        "tools": OPENAI_TOOLS,
    }
    answer = {
        "candidates": [{"content": {"parts": [{"functionCall": {"name": _cpa_name(SECOND), "args": {}}}]}}]
    }
    if streamed:
        evs = events(stream(GEMINI, OPENAI, sse(answer, events=False), request))
        deltas = [c for e in evs for ch in e["choices"] for c in ch["delta"].get("tool_calls") or ()]
        names = [c["function"]["name"] for c in deltas if "name" in c["function"]]
    else:
        out = resp(GEMINI, OPENAI, answer, request, "gemini-3-flash")
        names = [c["function"]["name"] for c in get(out, "choices.0.message.tool_calls")]
    assert names == [SECOND]


# ---- Interactions clients


INTERACTIONS_BODY: dict[str, Any] = {
    "model": "gemini-3-flash",
    "input": [
        {"type": "function_call", "name": SECOND, "call_id": "call_1", "arguments": {}},
        {"type": "function_result", "name": SECOND, "call_id": "call_1", "result": {}},
    ],
    "tools": [
        {"functionDeclarations": [{"name": "lookup"}, {"name": FIRST}]},
        {"function_declarations": [{"name": "lookup"}, {"name": SECOND}]},
    ],
    "tool_choice": {"type": "function", "function": {"name": SECOND}},
}


def test_interactions_deduplicates_and_disambiguates_tools() -> None:
    """interactions_antigravity_test.go TestConvertInteractionsRequestToAntigravityDeduplicatesAndDisambiguatesTools."""
    out = _translated(INTERACTIONS, INTERACTIONS_BODY)
    decls = out["tools"][0]["functionDeclarations"]
    _assert_mapped(
        out, decls, "contents.1.parts.0.functionCall.name", "contents.2.parts.0.functionResponse.name"
    )


def test_interactions_answer_restores_disambiguated_name() -> None:
    """interactions_antigravity_test.go TestConvertAntigravityResponseToInteractionsRestoresDisambiguatedName."""
    request = {
        "model": "gemini-3-flash",
        "input": "go",
        "tools": [{"type": "function", "name": n} for n in (FIRST, SECOND)],
    }
    answer = {
        "candidates": [{"content": {"parts": [{"functionCall": {"name": _cpa_name(SECOND), "args": {}}}]}}]
    }
    out = resp(GEMINI, INTERACTIONS, answer, request, "gemini-3-flash")
    assert [s["name"] for s in out["steps"] if s.get("type") == "function_call"] == [SECOND]


# ---- Claude models: signatures of a Gemini client's body (the cases not ported elsewhere)


def _claude_model(raw: bytes) -> list[Any]:
    """The Claude-model policy on a Gemini client's ``request.contents``, read as the server
    reads a body (orjson: of a repeated key, the last)."""
    contents = list(orjson.loads(raw)["request"]["contents"])
    sanitize_gemini_contents_for_claude(contents)
    return contents


def test_signatures_preserve_number_precision() -> None:
    """TestSanitizeAntigravityClaudeGeminiRequestSignatures_PreservesNumberPrecision, through
    the provider: integers beyond a double's precision reach Antigravity digit for digit."""
    raw = (
        b'{"contents":[{"role":"model","parts":[{"text":"thinking","thought":true,"thoughtSignature":"invalid"},'
        b'{"functionCall":{"name":"calc","args":{"n":12345678901234567890,"big":9007199254740993}}}]}]}'
    )
    body = orjson.loads(raw)
    sanitize_gemini_contents_for_claude(body["contents"])
    up = _build(body, "claude-sonnet-4-6")
    assert up.body.find(b'"n":12345678901234567890') > 0 and up.body.find(b'"big":9007199254740993') > 0


def test_signatures_strip_duplicate_signature_keys() -> None:
    """TestSanitizeAntigravityClaudeGeminiRequestSignatures_StripsDuplicateSignatureKeys: of
    a repeated key the body holds the last, and no signature of any type survives."""
    parts = _claude_model(
        b'{"request":{"contents":[{"role":"model","parts":['
        b'{"functionCall":{"name":"calc","args":{}},"thoughtSignature":"first_signature","thoughtSignature":"second_signature"},'
        b'{"functionCall":{"name":"first"},"functionCall":{"name":"second","thoughtSignature":"secret"}},'
        b'{"functionCall":{"name":"first","thoughtSignature":"secret"},"functionCall":{"name":"second"}},'
        b'{"thoughtSignature":null,"thoughtSignature":"second_sig","text":"regular answer"},'
        b'{"thoughtSignature":"secret","thoughtSignature":null,"text":"regular answer 2"},'
        b'{"thoughtSignature":{"nested":"obj"},"text":"object sig"},'
        b'{"thoughtSignature":[1,2,3],"text":"array sig"},'
        b'{"functionCall":{"thought\\u0053ignature":"secret"},"functionCall":{"name":"safe"}}'
        b"]}]}}"
    )[0]["parts"]
    assert len(parts) == 8
    for part in parts:
        assert "thoughtSignature" not in part
        assert "thoughtSignature" not in (part.get("functionCall") or {})


def test_signatures_string_value_not_treated_as_key() -> None:
    """TestSanitizeAntigravityClaudeGeminiRequestSignatures_StringValueNotTreatedAsKey."""
    raw = (
        b'{"request":{"contents":[{"role":"model","parts":[{"functionCall":{"name":"thoughtSignature",'
        b'"args":{"query":"thought_signature"}}}]}]}}'
    )
    contents = orjson.loads(raw)["request"]["contents"]
    assert not sanitize_gemini_contents_for_claude(list(contents))
    assert _claude_model(raw) == contents


def test_signatures_large_number_is_refused_when_read() -> None:
    """TestSanitizeAntigravityClaudeGeminiRequestSignatures_LargeNumberDoesNotHaltKeyScan: a
    difference. ``1e10000`` is no number a body can hold: the server refuses the request
    when it reads it (400), so no signature scan ever meets it."""
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b'{"functionCall":{"args":{"n":1e10000}}}')
